/**
 * Compile-time types of framing spec strings (SPEC §2), so that a misspelled kind
 * (`'lenght:u32be'`, `'lines'`) is a type error where the spec is written, not a
 * run-time `SB_BAD_FRAMING_SPEC`.
 *
 * {@link FramingSpec} accepts every spec {@link parseFraming} accepts. Arguments it
 * cannot check precisely at compile time (`fixed:${number}` accepts `fixed:0`,
 * `delim:${string}` any text) are still checked at run time.
 *
 * Escape hatch for computed specs: the APIs take `S extends string` and check it with
 * {@link CheckedFramingSpec}, which lets a value of the wide type `string` through
 * unchecked (a spec read from a config file or the command line: run-time validation is
 * the only validation it can get), while a string literal or a literal union must be a
 * valid spec. To force the check on a computed value, annotate it as `FramingSpec`.
 */

/** Width of a `length` field. */
export type LengthFieldWidthName = 'u8' | 'u16' | 'u24' | 'u32' | 'u64';
/** Byte order of a `length` field. */
export type LengthFieldOrder = 'be' | 'le';

/** A `length` spec: `length`, `length:u16`, `length:u32le`, `length:le`, ... */
export type LengthFramingSpec =
  | 'length'
  | `length:${LengthFieldWidthName}`
  | `length:${LengthFieldWidthName}${LengthFieldOrder}`
  | `length:${LengthFieldOrder}`;

/**
 * Every framing spec string {@link parseFraming} accepts, as a template-literal type.
 * Arguments are checked as far as a type can: the kind, the `line` ending and the
 * `length` field exactly; `fixed`/`digits` take a number; `delim` (hex) and `tagged`
 * (a type list) take any text, read at run time.
 */
export type FramingSpec =
  | 'line'
  | 'line:lf'
  | 'line:crlf'
  | `delim:${string}`
  | `fixed:${number}`
  | LengthFramingSpec
  | `digits:${number}`
  | 'varint'
  | 'netstring'
  | `tagged:${string}`
  | 'eof'
  | 'mllp'
  | 'content-length'
  | 'sbp';

/**
 * `S` itself when it is a valid spec (of `Valid`), or when it is the wide type
 * `string` (a computed spec: checked at run time only); otherwise `Valid`, so that
 * the argument fails to type-check with "not assignable to FramingSpec" and, for a
 * near miss, TypeScript's "Did you mean ...?".
 */
export type CheckedFramingSpec<
  S extends string,
  Valid extends string = FramingSpec,
> = string extends S ? string : S extends Valid ? S : Valid;
