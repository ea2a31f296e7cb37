/**
 * Compiled structs and the format cache.
 *
 * Theory of operation:
 * - A {@link CompiledStruct} is one format ready to run: its size, value count and four
 *   primitive functions, from the interpreter (struct-interpreter.ts) or generated code
 *   (codegen.ts), 2-3x faster but a few hundred µs to make. Immutable, one shape.
 * - One compiled struct per format string, in a small bounded cache as CPython's
 *   module-level functions keep. `new Struct` asks for generated code at once
 *   ({@link generatedFormat}); the free functions ({@link cachedFormat}) start a new
 *   format on a counting interpreter and switch the cache entry to generated code after
 *   {@link GENERATE_AFTER_USES} uses, so one-off formats never pay for generation.
 *   Formats longer than {@link FORMAT_CACHE_MAX_LENGTH} characters are not cached.
 */

import { InvalidArgumentError } from '../errors.js';
import { type CodegenHelpers, generateCodec, MAX_GENERATED_VALUES } from './codegen.js';
import { type CompiledFormat, compileFormat } from './format.js';
import {
  copyBytes,
  readPascal,
  scratchFloat32,
  scratchFloat64,
  scratchInt64,
  scratchUint64,
  scratchWords,
  write64,
  writeBytes,
  writePascal,
} from './struct-bytes.js';
import { readFields, writeFields } from './struct-interpreter.js';
import type { StructValue } from './struct-types.js';
import {
  charByte,
  float16Bits,
  float16Value,
  float32Value,
  floatValue,
  smallInteger,
} from './struct-values.js';

/** The four primitive operations of a format; callers check value counts and bounds first. */
interface StructFunctions {
  /** Packs exactly `valueCount` values into a new zeroed array of `size` bytes. */
  packNew: (values: ArrayLike<unknown>) => Uint8Array;
  /** Writes the values at `bytes[base]`, touching only the fields' own bytes. */
  writeAt: (bytes: Uint8Array, base: number, values: ArrayLike<unknown>) => void;
  /** Reads one struct at `bytes[0]` (the common case, with constant offsets). */
  readFirst: (bytes: Uint8Array) => StructValue[];
  /** Reads one struct at `bytes[base]`. */
  readAt: (bytes: Uint8Array, base: number) => StructValue[];
}

/**
 * One format, ready to run. Immutable (V8 can then treat a Struct's functions as
 * constants and inline them); a format that tiers up gets a new CompiledStruct.
 */
export interface CompiledStruct extends Readonly<StructFunctions> {
  readonly size: number;
  readonly valueCount: number;
  /** True while the format runs on the counting interpreter (see {@link tieredStruct}). */
  readonly tiered: boolean;
}

/**
 * Uses of a format through the free functions (packs and unpacks) before its code is
 * generated. Generating costs a few hundred µs, about what the interpreter spends on a
 * thousand small packs, so a format used only now and then (say a `${length}s` that
 * changes with every message) never pays for it, and a hot one pays once; from then on
 * each call is 2-3x faster. A {@link Struct} generates at construction: making one says
 * the format will be reused.
 */
export const GENERATE_AFTER_USES = 1000;

/** What generated code calls for checks and slow paths: the interpreter's own functions. */
const CODEGEN_HELPERS: CodegenHelpers = {
  smallInteger,
  write64,
  floatValue,
  float32Value,
  float16Bits,
  float16Value,
  charByte,
  writeBytes,
  writePascal,
  copyBytes,
  readPascal,
  scratchWords,
  scratchInt64,
  scratchUint64,
  scratchFloat64,
  scratchFloat32,
};

function interpretedFunctions(layout: CompiledFormat): StructFunctions {
  return {
    packNew(values) {
      const bytes = new Uint8Array(layout.size);
      writeFields(layout, bytes, 0, values);
      return bytes;
    },
    writeAt: (bytes, base, values) => writeFields(layout, bytes, base, values),
    readFirst: (bytes) => readFields(layout, bytes, 0),
    readAt: (bytes, base) => readFields(layout, bytes, base),
  };
}

/** Generated functions for `layout`, or the interpreter's when generation is impossible. */
function generatedFunctions(layout: CompiledFormat): StructFunctions {
  const generated = generateCodec(layout, CODEGEN_HELPERS);
  if (generated === undefined) {
    // Too many values to unroll, or code generation refused by the host.
    return interpretedFunctions(layout);
  }
  return {
    packNew: generated.packNew,
    writeAt: generated.writeAt,
    // The generated reads produce exactly the interpreter's value types.
    readFirst: generated.readFirst as StructFunctions['readFirst'],
    readAt: generated.readAt as StructFunctions['readAt'],
  };
}

/** Every compiled struct is made here, so all have one shape (one hidden class in V8). */
function makeCompiled(
  layout: CompiledFormat,
  functions: StructFunctions,
  tiered: boolean,
): CompiledStruct {
  return {
    size: layout.size,
    valueCount: layout.valueCount,
    packNew: functions.packNew,
    writeAt: functions.writeAt,
    readFirst: functions.readFirst,
    readAt: functions.readAt,
    tiered,
  };
}

/** A compiled struct on one engine from the start. */
export function compileStruct(
  layout: CompiledFormat,
  engine: 'generated' | 'interpreted',
): CompiledStruct {
  const functions =
    engine === 'generated' ? generatedFunctions(layout) : interpretedFunctions(layout);
  return makeCompiled(layout, functions, false);
}

/**
 * The interpreter behind counting wrappers, for a format first met by a free function.
 * Its last counted use replaces it in the format cache by generated code (see
 * {@link promote}); the call in progress still finishes on the interpreter.
 */
function tieredStruct(format: string, layout: CompiledFormat): CompiledStruct {
  if (layout.valueCount > MAX_GENERATED_VALUES) {
    return compileStruct(layout, 'interpreted');
  }
  const interpreted = interpretedFunctions(layout);
  let usesLeft = GENERATE_AFTER_USES;
  const countUse = (): void => {
    usesLeft -= 1;
    if (usesLeft === 0) {
      promote(format, layout);
    }
  };
  return makeCompiled(
    layout,
    {
      packNew(values) {
        countUse();
        return interpreted.packNew(values);
      },
      writeAt(bytes, base, values) {
        countUse();
        interpreted.writeAt(bytes, base, values);
      },
      readFirst(bytes) {
        countUse();
        return interpreted.readFirst(bytes);
      },
      readAt(bytes, base) {
        countUse();
        return interpreted.readAt(bytes, base);
      },
    },
    true,
  );
}

/** Cached compiled structs. CPython keeps 100 formats too (_MAXCACHE). */
const FORMAT_CACHE_LIMIT = 100;

// Module state, but bounded and holding only immutable compiled structs: a format
// string always compiles to the same thing, so sharing entries cannot leak between callers.
const formatCache = new Map<string, CompiledStruct>();

// The most recent lookup, checked before the Map: code that packs one format in a loop
// then pays one string comparison (usually a pointer comparison) per call.
// Starts as a value no caller can pass (not undefined: `calcsize(undefined)` from plain
// JS would match it and read the compiled struct that is not there yet).
let lastFormat: string | symbol = Symbol('no format yet');
let lastCompiled: CompiledStruct | undefined;

export function cachedFormat(format: string): CompiledStruct {
  // Only the repeat check here: this function is inlined into every free function, and
  // the Map lookup below would take up V8's inlining budget for the generated code.
  if (format === lastFormat) {
    return lastCompiled!;
  }
  return lookUpFormat(format);
}

function lookUpFormat(format: string): CompiledStruct {
  let compiled = formatCache.get(format);
  if (compiled === undefined) {
    if (typeof format !== 'string') {
      throw new InvalidArgumentError('SB_INVALID_ARGUMENT', 'format must be a string');
    }
    compiled = tieredStruct(format, compileFormat(format));
    remember(format, compiled);
  }
  lastFormat = format;
  lastCompiled = compiled;
  return compiled;
}

/**
 * Longest format string the cache keeps. A compiled format costs about 80 bytes per
 * item, and a format may come from a peer: 100 cached 1 MiB formats would hold 8 GB.
 * Longer formats are compiled on every call (a 4 KiB one in well under a millisecond).
 */
const FORMAT_CACHE_MAX_LENGTH = 4096;

/** Caches `compiled` for `format`, replacing an entry or evicting the oldest one. */
function remember(format: string, compiled: CompiledStruct): void {
  if (format.length > FORMAT_CACHE_MAX_LENGTH) {
    // Still the one-entry fast path below, which holds a single format at most.
    if (lastFormat === format) {
      lastCompiled = compiled;
    }
    return;
  }
  if (!formatCache.has(format) && formatCache.size >= FORMAT_CACHE_LIMIT) {
    // Evict the oldest entry (Map iterates in insertion order).
    formatCache.delete(formatCache.keys().next().value!);
  }
  formatCache.set(format, compiled);
  if (lastFormat === format) {
    lastCompiled = compiled;
  }
}

/** Replaces a tiered cache entry by generated code. */
function promote(format: string, layout: CompiledFormat): void {
  // Only where the tiered entry still is: an evicted format stays evicted.
  if (formatCache.get(format)?.tiered === true) {
    remember(format, compileStruct(layout, 'generated'));
  }
}

/** The compiled struct for `new Struct(format)`: the cached one if generated, else a new one. */
export function generatedFormat(format: string): CompiledStruct {
  const cached = formatCache.get(format);
  if (cached !== undefined && !cached.tiered) {
    return cached;
  }
  const compiled = compileStruct(compileFormat(format), 'generated');
  remember(format, compiled);
  return compiled;
}
