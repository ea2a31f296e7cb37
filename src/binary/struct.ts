/**
 * CPython-compatible `struct`: pack JS values into bytes and back, following Python
 * 3.11's `struct` module (formats, sizes, native alignment on x86-64 Linux, and the
 * same error conditions and messages).
 *
 * Theory of operation (this file is the public API and its argument checks; the parts
 * live beside it):
 * - A format string is compiled once (format.ts) into a flat list of field operations
 *   with precomputed byte offsets. Two engines run that list: the interpreter
 *   (struct-interpreter.ts), and straight-line functions generated from it
 *   (codegen.ts), 2-3x faster but a few hundred µs to make. Both share every value
 *   check (struct-values.ts) and byte access (struct-bytes.ts).
 * - One compiled struct per format string, in a small bounded cache as CPython's
 *   module-level functions keep (struct-compiled.ts). A {@link Struct} generates code
 *   at construction (it is made to be reused); the free functions ({@link pack},
 *   {@link unpack}, ...) start a new format on the interpreter and switch the cache
 *   entry to generated code after GENERATE_AFTER_USES uses, so one-off formats never
 *   pay for generation. Formats with too many values to unroll, or a host that forbids
 *   code generation, stay on the interpreter.
 * - Packing checks each value just before writing it, in format order, so the first
 *   bad value is the one reported, as in CPython. Bytes between fields (`x`,
 *   alignment) are zero.
 * - Unpacking never shares memory with the input: `c`, `s` and `p` values are copies.
 *
 * Value mapping (see {@link StructValue}):
 *
 * | format | packs from | unpacks to |
 * |---|---|---|
 * | `b B h H i I`, standard `l L` | integral number, bigint, boolean | number |
 * | `q Q n N P`, native `l L` (8 bytes) | integral number, bigint, boolean | bigint |
 * | `e f d` | number, bigint, boolean | number |
 * | `?` | anything (JS truthiness) | boolean |
 * | `c` | 1-byte Uint8Array | 1-byte Uint8Array |
 * | `s`, `p` | Uint8Array (padded with zeros or truncated) | Uint8Array |
 *
 * Deliberate differences from CPython: an integral number such as `1.0` packs into an
 * integer field (JS cannot tell it from `1`; CPython rejects the float `1.0`); `?` uses
 * JS truthiness (NaN and 0n are false, an empty Uint8Array is true); `NaN` packs as the
 * positive quiet NaN, and a NaN that unpack read keeps its sign and payload but comes
 * back quiet (V8 quiets signalling NaNs; CPython copies them bit for bit); sizes above
 * Number.MAX_SAFE_INTEGER are rejected;
 * unpacking `0p` gives an empty Uint8Array (CPython raises SystemError); CPython's
 * OverflowError for `e` and `f` overflow is a StructError here, like every other
 * rejection.
 */

import { InvalidArgumentError, StructError } from '../errors.js';
import { compileFormat } from './format.js';
import {
  type CompiledStruct,
  cachedFormat,
  compileStruct,
  generatedFormat,
} from './struct-compiled.js';
import type { StructValue, Unpacked } from './struct-types.js';

// StructValue lives with the format types (struct-types.ts), which need it.
export type { StructValue };

// ---------------------------------------------------------------------------
// Argument checks shared by Struct and the free functions
// ---------------------------------------------------------------------------

function requireBuffer(buffer: unknown, operation: string): asserts buffer is Uint8Array {
  if (!(buffer instanceof Uint8Array)) {
    throw new InvalidArgumentError(
      'SB_INVALID_ARGUMENT',
      `${operation}: buffer must be a Uint8Array`,
    );
  }
}

function requireOffset(offset: unknown, operation: string): asserts offset is number {
  if (typeof offset !== 'number' || !Number.isSafeInteger(offset)) {
    throw new InvalidArgumentError(
      'SB_INVALID_ARGUMENT',
      `${operation}: offset must be an integer`,
    );
  }
}

function requireCount(
  compiled: CompiledStruct,
  values: ArrayLike<unknown>,
  operation: string,
): void {
  if (values.length !== compiled.valueCount) {
    throw new StructError(
      `${operation} expected ${compiled.valueCount} items for packing (got ${values.length})`,
    );
  }
}

function packCompiled(compiled: CompiledStruct, values: ArrayLike<unknown>): Uint8Array {
  requireCount(compiled, values, 'pack');
  try {
    return compiled.packNew(values);
  } catch (error) {
    // The one RangeError packing can meet is the result's allocation (a size calcsize
    // accepts, e.g. '99999999999s'; CPython raises MemoryError there): a coded error,
    // not an uncoded RangeError.
    if (error instanceof RangeError) {
      throw new StructError(`pack: cannot allocate ${compiled.size} bytes for the result`, {
        cause: error,
      });
    }
    throw error;
  }
}

function packIntoCompiled(
  compiled: CompiledStruct,
  buffer: Uint8Array,
  offset: number,
  values: ArrayLike<unknown>,
): void {
  requireBuffer(buffer, 'packInto');
  requireOffset(offset, 'packInto');
  requireCount(compiled, values, 'pack_into');
  const size = compiled.size;
  let start = offset;
  if (start < 0) {
    // A negative offset counts from the end of the buffer, as in CPython.
    if (start + size > 0) {
      throw new StructError(`no space to pack ${size} bytes at offset ${start}`);
    }
    if (start + buffer.length < 0) {
      throw new StructError(`offset ${start} out of range for ${buffer.length}-byte buffer`);
    }
    start += buffer.length;
  }
  if (buffer.length - start < size) {
    throw new StructError(
      `pack_into requires a buffer of at least ${size + start} bytes for packing ${size} bytes ` +
        `at offset ${start} (actual buffer size is ${buffer.length})`,
    );
  }
  // CPython zero-fills the struct's bytes first, so pad and alignment bytes are 0.
  buffer.fill(0, start, start + size);
  compiled.writeAt(buffer, start, values);
}

function unpackCompiled(compiled: CompiledStruct, buffer: Uint8Array): StructValue[] {
  requireBuffer(buffer, 'unpack');
  if (buffer.length !== compiled.size) {
    throw new StructError(`unpack requires a buffer of ${compiled.size} bytes`);
  }
  return compiled.readFirst(buffer);
}

function unpackFromCompiled(
  compiled: CompiledStruct,
  buffer: Uint8Array,
  offset: number,
): StructValue[] {
  requireBuffer(buffer, 'unpackFrom');
  requireOffset(offset, 'unpackFrom');
  const size = compiled.size;
  let start = offset;
  if (start < 0) {
    if (start + size > 0) {
      throw new StructError(`not enough data to unpack ${size} bytes at offset ${start}`);
    }
    if (start + buffer.length < 0) {
      throw new StructError(`offset ${start} out of range for ${buffer.length}-byte buffer`);
    }
    start += buffer.length;
  }
  if (buffer.length - start < size) {
    throw new StructError(
      `unpack_from requires a buffer of at least ${size + start} bytes for unpacking ${size} ` +
        `bytes at offset ${start} (actual buffer size is ${buffer.length})`,
    );
  }
  return compiled.readAt(buffer, start);
}

function* iterateCompiled(
  compiled: CompiledStruct,
  buffer: Uint8Array,
): Generator<StructValue[], void> {
  const end = buffer.length;
  for (let position = 0; position < end; position += compiled.size) {
    yield compiled.readAt(buffer, position);
  }
}

function iterUnpackCompiled(
  compiled: CompiledStruct,
  buffer: Uint8Array,
): IterableIterator<StructValue[]> {
  // Checked here, not inside the generator, so errors surface at the call as in CPython.
  requireBuffer(buffer, 'iterUnpack');
  if (compiled.size === 0) {
    throw new StructError('cannot iteratively unpack with a struct of length 0');
  }
  if (buffer.length % compiled.size !== 0) {
    throw new StructError(
      `iterative unpacking requires a buffer of a multiple of ${compiled.size} bytes`,
    );
  }
  return iterateCompiled(compiled, buffer);
}
// ---------------------------------------------------------------------------
// Public API
// ---------------------------------------------------------------------------

/**
 * A compiled format, like Python's `struct.Struct`: the format is parsed once and
 * turned into specialized pack/unpack code, which every call reuses. Prefer it over the
 * free functions on hot paths. Construction costs a few hundred µs the first time a
 * format string is seen (later ones share the cached code); for a format that changes
 * from call to call (`${length}s`), use the free functions instead.
 *
 * @example
 * ```ts
 * import { Struct } from 'switchboard';
 *
 * const header = new Struct('!HHIq');
 * const bytes = header.pack(1, 2, 3, 4n); // 16 bytes, network order
 * const [version, kind, length, id] = header.unpack(bytes);
 * console.log(header.size, version, kind, length, id); // 16 1 2 3 4n
 * // typed from the literal format: number, number, number, bigint
 * ```
 */
export class Struct<F extends string = string> {
  /** The format string as given. */
  readonly format: F;
  /** Size in bytes of the packed struct (CPython `Struct.size`). */
  readonly size: number;
  private readonly compiled: CompiledStruct;
  // Why the unpack methods take `this: Struct<T>` rather than return Unpacked<F>: a
  // return type that is a conditional type over F makes TypeScript measure F as
  // invariant, and a `Struct<'!H'>` would then not be a `Struct`. Through `this`, F
  // appears only in `format` (covariant) and each call still infers the literal.

  /**
   * @param format - A CPython struct format, e.g. `'<10sIhd'`.
   * @throws {@link StructError} when the format is invalid (message as CPython's).
   */
  constructor(format: F) {
    if (typeof format !== 'string') {
      throw new InvalidArgumentError('SB_INVALID_ARGUMENT', 'format must be a string');
    }
    // Generated code, shared with the free functions through the format cache.
    this.compiled = generatedFormat(format);
    this.format = format;
    this.size = this.compiled.size;
  }

  /**
   * Packs `values` (one per format item; see {@link StructValue}) into a new
   * Uint8Array of {@link Struct.size} bytes.
   *
   * @throws {@link StructError} for a wrong number of values or a value the format rejects.
   */
  pack(...values: StructValue[]): Uint8Array {
    return packCompiled(this.compiled, values);
  }

  /**
   * Packs `values` into `buffer` starting at byte `offset` (negative counts from the
   * end, as in CPython). The struct's bytes are zeroed first; nothing else is touched.
   *
   * @throws {@link StructError} when the struct does not fit at `offset` or a value is rejected.
   */
  packInto(buffer: Uint8Array, offset: number, ...values: StructValue[]): void {
    packIntoCompiled(this.compiled, buffer, offset, values);
  }

  /**
   * Unpacks exactly {@link Struct.size} bytes into one value per format item.
   *
   * @throws {@link StructError} when `buffer.length` is not {@link Struct.size}.
   */
  unpack<T extends string>(this: Struct<T>, buffer: Uint8Array): Unpacked<T> {
    return unpackCompiled(this.compiled, buffer) as Unpacked<T>;
  }

  /**
   * Unpacks one struct from `buffer` at byte `offset` (negative counts from the end);
   * bytes after the struct are ignored.
   *
   * @throws {@link StructError} when fewer than {@link Struct.size} bytes remain at `offset`.
   */
  unpackFrom<T extends string>(this: Struct<T>, buffer: Uint8Array, offset = 0): Unpacked<T> {
    return unpackFromCompiled(this.compiled, buffer, offset) as Unpacked<T>;
  }

  /**
   * Iterates over consecutive structs filling `buffer` from the start.
   *
   * @throws {@link StructError} (at the call, not on the first `next()`) when the size
   *   is 0 or `buffer.length` is not a multiple of it.
   */
  iterUnpack<T extends string>(this: Struct<T>, buffer: Uint8Array): IterableIterator<Unpacked<T>> {
    return iterUnpackCompiled(this.compiled, buffer) as IterableIterator<Unpacked<T>>;
  }
}

/**
 * Packs `values` according to `format` (CPython `struct.pack`).
 *
 * @param format - e.g. `'<hI'`, `'!HHIq'`, `'@bhiq'`, `'10s'`.
 * @param values - One per format item: see {@link StructValue} for the JS types.
 * @returns A new Uint8Array of {@link calcsize}(format) bytes.
 * @throws {@link StructError} (code `SB_STRUCT_ERROR`) for a bad format, a wrong number
 *   of values, or a value CPython would reject (e.g. "'h' format requires -32768 <=
 *   number <= 32767" or "short format requires -32768 <= number <= 32767", exactly as
 *   CPython words it for that byte order).
 *
 * @example
 * ```ts
 * import { pack } from 'switchboard';
 *
 * // A message header in network byte order: u16 type, u32 length.
 * const header = pack('!HI', 7, 42);
 * console.log(Buffer.from(header).toString('hex')); // 00070000002a
 * ```
 */
export function pack(format: string, ...values: StructValue[]): Uint8Array {
  return packCompiled(cachedFormat(format), values);
}

/**
 * Packs `values` into `buffer` at byte `offset` (CPython `struct.pack_into`); a
 * negative offset counts from the end of the buffer.
 *
 * @throws {@link StructError} when the struct does not fit or a value is rejected.
 */
export function packInto(
  format: string,
  buffer: Uint8Array,
  offset: number,
  ...values: StructValue[]
): void {
  packIntoCompiled(cachedFormat(format), buffer, offset, values);
}

/**
 * Unpacks `bytes`, which must be exactly {@link calcsize}(format) long (CPython
 * `struct.unpack`). Returns one value per format item; see {@link StructValue}.
 *
 * Typed: for a literal format the result is a tuple (`unpack('!HHIq', bytes)` is
 * `[number, number, number, bigint]`; see {@link Unpacked}); a computed format gives
 * `StructValue[]`.
 *
 * @throws {@link StructError} "unpack requires a buffer of N bytes" on a length mismatch.
 *
 * @example
 * ```ts
 * import { unpack } from 'switchboard';
 *
 * const [type, length] = unpack('!HI', Uint8Array.of(0, 7, 0, 0, 0, 42));
 * console.log(type, length); // 7 42
 * const [id] = unpack('!q', new Uint8Array(8)); // id: bigint, typed from the format
 * console.log(id + 1n); // 1n
 * ```
 */
export function unpack<F extends string>(format: F, bytes: Uint8Array): Unpacked<F> {
  return unpackCompiled(cachedFormat(format), bytes) as Unpacked<F>;
}

/**
 * Unpacks one struct from `buffer` at byte `offset` (CPython `struct.unpack_from`);
 * later bytes are ignored and a negative offset counts from the end.
 *
 * @throws {@link StructError} when too few bytes remain at `offset`.
 */
export function unpackFrom<F extends string>(
  format: F,
  buffer: Uint8Array,
  offset = 0,
): Unpacked<F> {
  return unpackFromCompiled(cachedFormat(format), buffer, offset) as Unpacked<F>;
}

/**
 * Iterates over consecutive structs in `buffer` (CPython `struct.iter_unpack`).
 *
 * @throws {@link StructError} at the call when the struct size is 0 or does not divide
 *   `buffer.length`.
 */
export function iterUnpack<F extends string>(
  format: F,
  buffer: Uint8Array,
): IterableIterator<Unpacked<F>> {
  return iterUnpackCompiled(cachedFormat(format), buffer) as IterableIterator<Unpacked<F>>;
}

/**
 * The packed size in bytes of `format` (CPython `struct.calcsize`), including native
 * alignment padding between items (never at the end).
 *
 * @throws {@link StructError} when the format is invalid.
 */
export function calcsize(format: string): number {
  return cachedFormat(format).size;
}

/**
 * A {@link Struct} on one engine from the start: `generated` code (as a hot format
 * gets), or the `interpreted` fallback. For tests, which run the golden vectors through
 * both; not part of the public API.
 */
export function structOnEngine(format: string, engine: 'generated' | 'interpreted'): Struct {
  const struct = new Struct(format);
  // Test seam: `compiled` is private to callers, so swap it here rather than widen the
  // public constructor.
  (struct as unknown as { compiled: CompiledStruct }).compiled = compileStruct(
    compileFormat(format),
    engine,
  );
  return struct;
}
