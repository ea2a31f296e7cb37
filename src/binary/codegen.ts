/**
 * Code generation for compiled structs: turns a {@link CompiledFormat} into four
 * straight-line functions (pack into a new array, write at an offset, read from the
 * start, read at an offset) once, so that a `Struct` call runs no per-field dispatch.
 *
 * Theory of operation:
 * - struct.ts has an interpreter that walks the field list and switches on each field's
 *   kind. That costs a loop, a switch and a few property loads per field on every call,
 *   which for a small header (4 fields) is most of the work. Here the same field list
 *   is unrolled into source text, one small block per value, with every offset, byte
 *   order and range check resolved to a constant, and compiled with `new Function`.
 * - Each block does exactly what the interpreter does for that field, in the same
 *   order, with the same checks: a fast test for the common case (a number already in
 *   range, a bigint already in range), and otherwise a call to the interpreter's own
 *   checked conversion, so error conditions and messages are shared, not duplicated.
 * - Reads build the result with one array literal. 8-byte integers and floats are
 *   converted through typed-array views of one 8-byte scratch: a field is moved in and
 *   out as 32-bit words with shifts, so only two scratch loads or stores happen per
 *   64-bit value instead of eight (a DataView over the caller's array would cost more
 *   than a whole small pack to create; see struct.ts).
 * - struct.ts decides when to generate (at `new Struct`, or once a format is hot in the
 *   free functions); generating costs a few hundred µs, mostly V8 compiling the source.
 * - Formats with more than {@link MAX_GENERATED_VALUES} values (e.g. `'1000h'`) are
 *   not generated: the source would grow with the count, while the interpreter's
 *   per-field overhead is already spread over many values. {@link generateCodec}
 *   also returns `undefined` when the host forbids code generation from strings
 *   (`node --disallow-code-generation-from-strings`, a CSP); the caller then uses the
 *   interpreter.
 *
 * Why `new Function` is safe here: the generated source is assembled only from fixed
 * snippets in this file, chosen by each field's kind, and from numbers computed by the
 * format parser (offsets, sizes, value and field indices), each checked to be a safe
 * integer by {@link int} before it is written into the text. Nothing from the format
 * string or from a packed value is ever interpolated; values reach the generated code
 * only as run-time arguments, and range rules and helpers as closure parameters.
 */

import type { CompiledFormat, FieldOp, IntRule } from './format.js';
import { HOST_IS_LITTLE_ENDIAN, OpKind } from './format.js';

/**
 * The checked conversions and byte helpers the generated code calls for everything
 * but its fast paths. struct.ts supplies its own functions, so a generated codec and
 * the interpreter share one implementation of each CPython check and message.
 */
export interface CodegenHelpers {
  /** A ≤ 4-byte integer value checked against `rule` (any JS type; throws StructError). */
  smallInteger(value: unknown, rule: IntRule): number;
  /** Writes an 8-byte integer of any JS type, checked against `rule` (throws StructError). */
  write64(
    bytes: Uint8Array,
    position: number,
    value: unknown,
    rule: IntRule,
    littleEndian: boolean,
  ): void;
  /** A float value from any JS type (throws StructError). */
  floatValue(value: unknown): number;
  /** `value` checked to fit a standard-size `f` (throws StructError on overflow). */
  float32Value(value: number): number;
  float16Bits(value: number): number;
  float16Value(bits: number): number;
  /** The single byte of a `c` value (throws StructError). */
  charByte(value: unknown): number;
  /** Writes an `s` field of `size` bytes (throws StructError for a non-bytes value). */
  writeBytes(bytes: Uint8Array, position: number, value: unknown, size: number): void;
  /** Writes a `p` field of `size` bytes (throws StructError for a non-bytes value). */
  writePascal(bytes: Uint8Array, position: number, value: unknown, size: number): void;
  /** A copy of `length` bytes as a plain Uint8Array. */
  copyBytes(bytes: Uint8Array, start: number, length: number): Uint8Array;
  /** The value of a `p` field of `size` bytes. */
  readPascal(bytes: Uint8Array, position: number, size: number): Uint8Array;
  /**
   * Views of one 8-byte scratch buffer, in host byte order: the generated code converts
   * between 64-bit values (and floats) and 32-bit words through them, within one call.
   */
  readonly scratchWords: Int32Array;
  readonly scratchInt64: BigInt64Array;
  readonly scratchUint64: BigUint64Array;
  readonly scratchFloat64: Float64Array;
  readonly scratchFloat32: Float32Array;
}

/** The functions generated for one format. Callers check value counts and bounds first. */
export interface GeneratedCodec {
  /** Packs exactly `valueCount` values into a new zeroed array of the struct's size. */
  packNew(values: ArrayLike<unknown>): Uint8Array;
  /** Writes the values at `bytes[base]`; bytes the struct does not set are left alone. */
  writeAt(bytes: Uint8Array, base: number, values: ArrayLike<unknown>): void;
  /** Reads one struct at `bytes[0]`. */
  readFirst(bytes: Uint8Array): unknown[];
  /** Reads one struct at `bytes[base]`. */
  readAt(bytes: Uint8Array, base: number): unknown[];
}

/** Formats with more values than this run in the interpreter (see the module comment). */
export const MAX_GENERATED_VALUES = 64;

/** `c` and `s` fields up to this size are copied out with unrolled stores. */
const MAX_UNROLLED_COPY = 16;

/** A number for the generated source; anything but a safe integer is a bug here. */
function int(value: number): string {
  if (!Number.isSafeInteger(value)) {
    throw new Error(`codegen: ${value} is not a safe integer`);
  }
  return String(value);
}

/** Source for a position: a constant in `packNew` and `readFirst`, `base + constant` elsewhere. */
type PositionSource = (offset: number) => string;

const constantPosition: PositionSource = (offset) => int(offset);
const basePosition: PositionSource = (offset) => `base + ${int(offset)}`;

/** For each byte significance (least significant first), its index within a `width`-byte field. */
function byteOrder(width: number, littleEndian: boolean): number[] {
  const indices = Array.from({ length: width }, (_, index) => index);
  return littleEndian ? indices : indices.reverse();
}

/**
 * Statements storing the int32 in `v` as `width` bytes. Uint8Array stores keep the
 * value modulo 256, so shifting is all the masking needed, even for negative values.
 */
function storeInt(at: PositionSource, offset: number, width: number, little: boolean): string {
  const lines: string[] = [];
  byteOrder(width, little).forEach((byteIndex, significance) => {
    const shift = significance * 8;
    lines.push(`bytes[${at(offset + byteIndex)}] = ${shift === 0 ? 'v' : `v >>> ${shift}`};`);
  });
  return lines.join('\n');
}

/**
 * Which scratch word holds the high and which the low 32 bits of a 64-bit value: the
 * typed-array views use the host's byte order.
 */
const HIGH_WORD = HOST_IS_LITTLE_ENDIAN ? 1 : 0;
const LOW_WORD = 1 - HIGH_WORD;

/**
 * Statements storing the 64 bits just written to the scratch as a field: each 32-bit
 * word goes out with {@link storeInt}, so the field's byte order costs nothing.
 */
function storeScratch64(at: PositionSource, offset: number, little: boolean): string {
  const highOffset = little ? offset + 4 : offset;
  const lowOffset = little ? offset : offset + 4;
  return [
    `v = scratchWords[${HIGH_WORD}];`,
    storeInt(at, highOffset, 4, little),
    `v = scratchWords[${LOW_WORD}];`,
    storeInt(at, lowOffset, 4, little),
  ].join('\n');
}

/** Statements loading a 64-bit field into the scratch words. */
function loadScratch64(at: PositionSource, offset: number, little: boolean): string {
  const highOffset = little ? offset + 4 : offset;
  const lowOffset = little ? offset : offset + 4;
  return [
    `scratchWords[${HIGH_WORD}] = ${loadInt(at, highOffset, 4, little)};`,
    `scratchWords[${LOW_WORD}] = ${loadInt(at, lowOffset, 4, little)};`,
  ].join('\n');
}

/** An expression for the unsigned value of `width` (≤ 4) bytes; signed for width 4. */
function loadInt(at: PositionSource, offset: number, width: number, little: boolean): string {
  const terms = byteOrder(width, little).map((byteIndex, significance) => {
    const byte = `bytes[${at(offset + byteIndex)}]`;
    return significance === 0 ? byte : `(${byte} << ${significance * 8})`;
  });
  return `(${terms.join(' | ')})`;
}

/**
 * The test that `v` (known to be a number) is an integer the field accepts: these
 * bit-operator round trips hold exactly for the integers of each kind's range, and
 * fail for fractions, NaN, infinities and anything out of range. They are only valid
 * while the field's rule accepts exactly the kind's range, which {@link rangeTest}
 * checks when it generates (format.ts intRule guarantees it for every ≤ 4-byte kind).
 */
const IN_RANGE: Partial<Record<number, { test: string; min: number; limit: number }>> = {
  [OpKind.Int8]: { test: '((v << 24) >> 24) === v', min: -(2 ** 7), limit: 2 ** 7 },
  [OpKind.Uint8]: { test: '(v & 0xff) === v', min: 0, limit: 2 ** 8 },
  [OpKind.Int16]: { test: '((v << 16) >> 16) === v', min: -(2 ** 15), limit: 2 ** 15 },
  [OpKind.Uint16]: { test: '(v & 0xffff) === v', min: 0, limit: 2 ** 16 },
  [OpKind.Int32]: { test: '(v | 0) === v', min: -(2 ** 31), limit: 2 ** 31 },
  [OpKind.Uint32]: { test: '(v >>> 0) === v', min: 0, limit: 2 ** 32 },
};

function rangeTest(op: FieldOp): string {
  const range = IN_RANGE[op.kind];
  const rule = op.intRule;
  if (range === undefined || rule?.numberMin !== range.min || rule.numberLimit !== range.limit) {
    throw new Error(`codegen: field kind ${op.kind} has no bit test for its rule`);
  }
  return range.test;
}

/** Statements packing value number `valueIndex` as item `item` of field `fieldIndex`. */
function writeItem(
  op: FieldOp,
  fieldIndex: number,
  item: number,
  valueIndex: number,
  at: PositionSource,
): string {
  const offset = op.offset + item * op.size;
  const value = `values[${int(valueIndex)}]`;
  const rule = `rule${int(fieldIndex)}`;
  const little = op.littleEndian ? 'true' : 'false';
  switch (op.kind) {
    case OpKind.Int8:
    case OpKind.Uint8:
    case OpKind.Int16:
    case OpKind.Uint16:
    case OpKind.Int32:
    case OpKind.Uint32:
      return [
        `v = ${value};`,
        `if (typeof v !== 'number' || !(${rangeTest(op)})) v = smallInteger(v, ${rule});`,
        storeInt(at, offset, op.size, op.littleEndian),
      ].join('\n');
    case OpKind.Int64:
    case OpKind.Uint64: {
      // Both views store the value modulo 2**64, so after the range check either one
      // holds the right bits; the interpreter's write64 handles numbers and errors.
      const view = op.kind === OpKind.Int64 ? 'scratchInt64' : 'scratchUint64';
      return [
        `v = ${value};`,
        `if (typeof v === 'bigint' && v >= min${int(fieldIndex)} && v <= max${int(fieldIndex)}) {`,
        `${view}[0] = v;`,
        storeScratch64(at, offset, op.littleEndian),
        `} else {`,
        `write64(bytes, ${at(offset)}, v, ${rule}, ${little});`,
        `}`,
      ].join('\n');
    }
    case OpKind.Bool:
      return `bytes[${at(offset)}] = ${value} ? 1 : 0;`;
    case OpKind.Char:
      return `bytes[${at(offset)}] = charByte(${value});`;
    case OpKind.Bytes:
      return `writeBytes(bytes, ${at(offset)}, ${value}, ${int(op.size)});`;
    case OpKind.Pascal:
      return `writePascal(bytes, ${at(offset)}, ${value}, ${int(op.size)});`;
    case OpKind.Float16:
      return [
        `v = float16Bits(floatValue(${value}));`,
        storeInt(at, offset, 2, op.littleEndian),
      ].join('\n');
    case OpKind.Float32:
    case OpKind.Float32Cast:
    case OpKind.Float64: {
      const lines = [`v = ${value};`, `if (typeof v !== 'number') v = floatValue(v);`];
      if (op.kind === OpKind.Float32) {
        lines.push('v = float32Value(v);');
      }
      if (op.kind === OpKind.Float64) {
        lines.push('scratchFloat64[0] = v;', storeScratch64(at, offset, op.littleEndian));
      } else {
        lines.push('scratchFloat32[0] = v;', 'v = scratchWords[0];');
        lines.push(storeInt(at, offset, 4, op.littleEndian));
      }
      return lines.join('\n');
    }
    default:
      throw new Error(`codegen: unknown field kind ${op.kind}`);
  }
}

/** A read of one value: statements to run first (may be empty) and the value's expression. */
interface ItemRead {
  statements: string;
  expression: string;
}

function readItem(op: FieldOp, item: number, valueIndex: number, at: PositionSource): ItemRead {
  const offset = op.offset + item * op.size;
  const simple = (expression: string): ItemRead => ({ statements: '', expression });
  switch (op.kind) {
    case OpKind.Int8:
      return simple(`((bytes[${at(offset)}] << 24) >> 24)`);
    case OpKind.Uint8:
      return simple(`bytes[${at(offset)}]`);
    case OpKind.Int16:
      return simple(`((${loadInt(at, offset, 2, op.littleEndian)} << 16) >> 16)`);
    case OpKind.Uint16:
      return simple(loadInt(at, offset, 2, op.littleEndian));
    case OpKind.Int32:
      return simple(loadInt(at, offset, 4, op.littleEndian));
    case OpKind.Uint32:
      return simple(`(${loadInt(at, offset, 4, op.littleEndian)} >>> 0)`);
    case OpKind.Bool:
      return simple(`(bytes[${at(offset)}] !== 0)`);
    case OpKind.Char:
    case OpKind.Bytes: {
      if (op.size > MAX_UNROLLED_COPY) {
        return simple(`copyBytes(bytes, ${at(offset)}, ${int(op.size)})`);
      }
      // Unrolled: a copy loop costs about as much as the allocation itself.
      const local = `value${int(valueIndex)}`;
      const lines = [`const ${local} = new Uint8Array(${int(op.size)});`];
      for (let index = 0; index < op.size; index++) {
        lines.push(`${local}[${index}] = bytes[${at(offset + index)}];`);
      }
      return { statements: lines.join('\n'), expression: local };
    }
    case OpKind.Pascal:
      return simple(`readPascal(bytes, ${at(offset)}, ${int(op.size)})`);
    case OpKind.Float16:
      return simple(`float16Value(${loadInt(at, offset, 2, op.littleEndian)})`);
    case OpKind.Int64:
    case OpKind.Uint64:
    case OpKind.Float32:
    case OpKind.Float32Cast:
    case OpKind.Float64: {
      // Through the scratch: the field's 32-bit words in, then one typed-array read.
      const local = `value${int(valueIndex)}`;
      if (op.kind === OpKind.Float32 || op.kind === OpKind.Float32Cast) {
        return {
          statements: `scratchWords[0] = ${loadInt(at, offset, 4, op.littleEndian)};\nconst ${local} = scratchFloat32[0];`,
          expression: local,
        };
      }
      const view = {
        [OpKind.Int64]: 'scratchInt64',
        [OpKind.Uint64]: 'scratchUint64',
        [OpKind.Float64]: 'scratchFloat64',
      }[op.kind];
      return {
        statements: `${loadScratch64(at, offset, op.littleEndian)}\nconst ${local} = ${view}[0];`,
        expression: local,
      };
    }
    default:
      throw new Error(`codegen: unknown field kind ${op.kind}`);
  }
}

/** Calls `visit` for every value of the format, in format order. */
function forEachValue(
  layout: CompiledFormat,
  visit: (op: FieldOp, fieldIndex: number, item: number, valueIndex: number) => void,
): void {
  let valueIndex = 0;
  layout.ops.forEach((op, fieldIndex) => {
    for (let item = 0; item < op.count; item++) {
      visit(op, fieldIndex, item, valueIndex++);
    }
  });
}

function writeBody(layout: CompiledFormat, at: PositionSource): string {
  const blocks = ['let v;'];
  forEachValue(layout, (op, fieldIndex, item, valueIndex) => {
    blocks.push(writeItem(op, fieldIndex, item, valueIndex, at));
  });
  return blocks.join('\n');
}

function readBody(layout: CompiledFormat, at: PositionSource): string {
  const statements: string[] = [];
  const expressions: string[] = [];
  forEachValue(layout, (op, _fieldIndex, item, valueIndex) => {
    const read = readItem(op, item, valueIndex, at);
    if (read.statements !== '') {
      statements.push(read.statements);
    }
    expressions.push(read.expression);
  });
  return `${statements.join('\n')}\nreturn [${expressions.join(', ')}];`;
}

/** Helper functions the generated code calls, bound to local names by {@link prologue}. */
const HELPER_NAMES = [
  'smallInteger',
  'write64',
  'floatValue',
  'float32Value',
  'float16Bits',
  'float16Value',
  'charByte',
  'writeBytes',
  'writePascal',
  'copyBytes',
  'readPascal',
  'scratchWords',
  'scratchInt64',
  'scratchUint64',
  'scratchFloat64',
  'scratchFloat32',
] as const satisfies ReadonlyArray<keyof CodegenHelpers>;

/**
 * Closure constants: the helpers, each integer field's rule, and for 8-byte fields its
 * bigint bounds. `var`, not `const`: a closure's `const` is read with a TDZ check, which
 * adds bytecode to every use, and V8 stops inlining a function past 460 bytes of it.
 */
function prologue(layout: CompiledFormat): string {
  const lines = ["'use strict';"];
  for (const name of HELPER_NAMES) {
    lines.push(`var ${name} = helpers.${name};`);
  }
  layout.ops.forEach((op, fieldIndex) => {
    if (op.intRule === undefined) {
      return;
    }
    const index = int(fieldIndex);
    lines.push(`var rule${index} = rules[${index}];`);
    if (op.kind === OpKind.Int64 || op.kind === OpKind.Uint64) {
      lines.push(`var min${index} = rule${index}.min;`, `var max${index} = rule${index}.max;`);
    }
  });
  return lines.join('\n');
}

type CodecFactory = (
  helpers: CodegenHelpers,
  rules: ReadonlyArray<IntRule | undefined>,
) => GeneratedCodec;

/**
 * Generates the pack/write/read functions for `layout`, or returns `undefined` when
 * the format is too large to unroll or the host forbids code generation; the caller
 * then runs the interpreter.
 */
export function generateCodec(
  layout: CompiledFormat,
  helpers: CodegenHelpers,
): GeneratedCodec | undefined {
  if (layout.valueCount > MAX_GENERATED_VALUES) {
    return undefined;
  }
  const source = [
    prologue(layout),
    'return {',
    `packNew(values) {\nconst bytes = new Uint8Array(${int(layout.size)});\n${writeBody(layout, constantPosition)}\nreturn bytes;\n},`,
    `writeAt(bytes, base, values) {\n${writeBody(layout, basePosition)}\n},`,
    // readFirst has constant positions, like packNew: when a call is not inlined (a call
    // site that sees several formats), `base + k` would cost an overflow check and a
    // bounds check per byte.
    `readFirst(bytes) {\n${readBody(layout, constantPosition)}\n},`,
    `readAt(bytes, base) {\n${readBody(layout, basePosition)}\n},`,
    '};',
  ].join('\n');
  let factory: CodecFactory;
  try {
    // The source holds no caller text: see "Why `new Function` is safe" above.
    factory = new Function('helpers', 'rules', source) as CodecFactory;
  } catch (error) {
    if (error instanceof EvalError) {
      // Code generation from strings is disabled in this process: interpret instead.
      return undefined;
    }
    throw error;
  }
  return factory(
    helpers,
    layout.ops.map((op) => op.intRule),
  );
}
