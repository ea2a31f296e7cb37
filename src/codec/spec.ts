/**
 * Parser of `--framing` spec strings (SPEC §2), e.g. `line`, `length:u16le`,
 * `tagged:01=4,02=length:u16be`. Each spec maps onto one programmatic
 * constructor; the parser only translates the string and names the bad part of
 * a spec it cannot read.
 */
import { didYouMean } from '../did-you-mean.js';
import { InvalidArgumentError } from '../errors.js';
import { DEFAULTS, maxFrameRule, resolveOptions } from '../options.js';
import { quote } from '../quote.js';
import { contentLengthFraming } from './content-length.js';
import { delimFraming, parseHexBytes } from './delim.js';
import { digitsFraming, MAX_DIGITS } from './digits.js';
import { eofFraming } from './eof.js';
import { fixedFraming } from './fixed.js';
import type { CheckedFramingSpec } from './framing-spec.js';
import { type LengthFieldWidth, lengthFraming } from './length.js';
import { lineFraming } from './line.js';
import { mllpFraming } from './mllp.js';
import { netstringFraming } from './netstring.js';
import { sbpFraming } from './sbp.js';
import { type TaggedBody, taggedFraming } from './tagged.js';
import type { Framing, FramingOptions } from './types.js';
import { varintFraming } from './varint.js';

/**
 * Throws the SB_BAD_FRAMING_SPEC error for `spec`, naming `part` and why it is wrong. Both
 * are quoted escaped and cut short ({@link quote}): a spec can come from a file (a
 * recording's header) and its message reach a terminal.
 */
export function badSpec(spec: string, part: string, reason: string): InvalidArgumentError {
  return new InvalidArgumentError(
    'SB_BAD_FRAMING_SPEC',
    `bad framing spec ${quote(spec)}: ${quote(part)} ${reason}`,
  );
}

/** Every framing name, as `parseFraming` spells it, for the guess on an unknown one. */
const FRAMING_NAMES = [
  'line',
  'delim',
  'fixed',
  'length',
  'digits',
  'tagged',
  'varint',
  'netstring',
  'eof',
  'mllp',
  'content-length',
  'sbp',
] as const;

/** The spec syntax of every framing, said when an unknown name is not close to any. */
const FRAMING_SYNTAX =
  'line, line:crlf, delim:HEX, fixed:N, length[:u8|u16|u24|u32|u64][be|le], digits:N, ' +
  'varint, netstring, tagged:T=N,..., eof, mllp, content-length, sbp';

/**
 * Why an unknown framing name is wrong, with what to write instead: the close name
 * (`lines` -> `line`, `lenght` -> `length`) or, when none is close, every spec's syntax,
 * so that a first guess at a spec is followed by a right one without a trip to the docs.
 */
function unknownFramingReason(name: string): string {
  const guess = didYouMean(name, FRAMING_NAMES);
  return guess === undefined
    ? `is not a known framing (known: ${FRAMING_SYNTAX})`
    : `is not a known framing (did you mean "${guess}"?)`;
}

const LENGTH_WIDTHS: Record<string, LengthFieldWidth> = { u8: 1, u16: 2, u24: 3, u32: 4, u64: 8 };

/** A parsed `length` field description: `u16le` -> width 2, little-endian. */
export interface LengthFieldSpec {
  width: LengthFieldWidth;
  littleEndian: boolean;
}

/**
 * Parses the part after `length:` (`u8`, `u16be`, `u32le`, `le`, ...; empty = `u32be`).
 * Returns undefined when it is not a length field description.
 */
export function parseLengthField(text: string): LengthFieldSpec | undefined {
  const match = /^(u8|u16|u24|u32|u64)?(be|le)?$/.exec(text);
  if (match === null) {
    return undefined;
  }
  const width = LENGTH_WIDTHS[match[1] ?? 'u32']!;
  return { width, littleEndian: match[2] === 'le' };
}

/** Parses a decimal count such as `5` (digits only, a safe integer), or returns undefined. */
function parseCount(text: string): number | undefined {
  if (!/^[0-9]{1,16}$/.test(text)) {
    return undefined;
  }
  const value = Number(text);
  return Number.isSafeInteger(value) ? value : undefined;
}

function parseTaggedTypes(spec: string, list: string): Map<number, TaggedBody> {
  const types = new Map<number, TaggedBody>();
  if (list === '') {
    throw badSpec(spec, list, 'defines no type (expected T=N,... with T a hex byte)');
  }
  for (const entry of list.split(',')) {
    const equals = entry.indexOf('=');
    const typeText = equals < 0 ? entry : entry.slice(0, equals);
    if (equals < 0 || !/^(0x)?[0-9a-fA-F]{1,2}$/.test(typeText)) {
      throw badSpec(spec, entry, 'is not T=N with T a hex byte such as 01');
    }
    const type = Number.parseInt(typeText.replace(/^0x/, ''), 16);
    if (types.has(type)) {
      throw badSpec(spec, entry, 'defines a type byte a second time');
    }
    const bodyText = entry.slice(equals + 1);
    const size = parseCount(bodyText);
    if (size !== undefined) {
      types.set(type, size);
      continue;
    }
    const lengthMatch = /^length(?::(.*))?$/.exec(bodyText);
    const field = lengthMatch === null ? undefined : parseLengthField(lengthMatch[1] ?? '');
    if (field === undefined || lengthMatch?.[1] === '') {
      throw badSpec(
        spec,
        bodyText,
        'is not a body size (a number) or a length field such as length:u16be',
      );
    }
    types.set(type, { lengthFieldLength: field.width, littleEndian: field.littleEndian });
  }
  return types;
}

/**
 * Builds the framing named by `spec`, applying `options` (`maxFrame`). Grammar
 * (SPEC §2): `line`, `line:crlf`, `delim:HEX`, `fixed:N`,
 * `length[:u8|u16|u24|u32|u64][be|le]`, `digits:N`, `varint`, `netstring`,
 * `tagged:T=N,...` (T a hex byte; N a body size or `length:u16be`-style field),
 * `eof`, `mllp`, `content-length`, `sbp` (the envelope, docs/PROTOCOL.md). Throws InvalidArgumentError
 * `SB_BAD_FRAMING_SPEC`, whose message names the part of the spec that could not
 * be read, and `SB_BAD_OPTION` for bad options.
 *
 * Typed: a literal spec must be a {@link FramingSpec} (`parseFraming('lenght:u32be')`
 * does not compile); a computed `string` is accepted and checked at run time only.
 *
 * @example
 * ```ts
 * import { NEED_DATA, parseFraming } from 'switchboard';
 *
 * const framing = parseFraming('length:u16be');
 * const wire = Buffer.concat(framing.createEncoder().encode(new TextEncoder().encode('hi')));
 * const decoder = framing.createDecoder();
 * decoder.push(wire.subarray(0, 3)); // any split: a stream has no message boundaries
 * console.log(decoder.next() === NEED_DATA); // true
 * decoder.push(wire.subarray(3));
 * console.log(decoder.next()); // Uint8Array [ 104, 105 ]
 * decoder.end(); // throws SB_UNEXPECTED_EOF if a frame were left half-received
 * ```
 */
export function parseFraming<S extends string>(
  spec: CheckedFramingSpec<S>,
  options?: FramingOptions,
): Framing;
export function parseFraming(spec: string, options?: FramingOptions): Framing {
  if (typeof spec !== 'string') {
    throw new InvalidArgumentError('SB_BAD_FRAMING_SPEC', 'a framing spec must be a string');
  }
  // Only maxFrame is meaningful for every framing; validate the object here so that
  // the error names parseFraming rather than an inner constructor.
  const common: FramingOptions = {};
  const { maxFrame } = resolveOptions(
    'parseFraming',
    { maxFrame: maxFrameRule(undefined as number | undefined) },
    options,
  );
  if (maxFrame !== undefined) {
    common.maxFrame = maxFrame;
  }
  const colon = spec.indexOf(':');
  const name = colon < 0 ? spec : spec.slice(0, colon);
  const argument = colon < 0 ? undefined : spec.slice(colon + 1);
  const noArgument = (build: () => Framing): Framing => {
    if (argument !== undefined) {
      throw badSpec(spec, argument, `is not allowed: "${name}" takes no argument`);
    }
    return build();
  };
  switch (name) {
    case 'line':
      if (argument === undefined || argument === 'lf') {
        return lineFraming(common);
      }
      if (argument === 'crlf') {
        return lineFraming({ ...common, crlf: true });
      }
      throw badSpec(spec, argument, 'is not a line ending (expected "line" or "line:crlf")');
    case 'delim': {
      const delimiter = parseHexBytes(argument ?? '');
      if (delimiter === undefined) {
        throw badSpec(spec, argument ?? '', 'is not a delimiter in hex, such as 00 or 0d0a');
      }
      return delimFraming(delimiter, common);
    }
    case 'fixed': {
      const size = parseCount(argument ?? '');
      if (size === undefined || size < 1) {
        throw badSpec(spec, argument ?? '', 'is not a frame size (a decimal integer >= 1)');
      }
      if (common.maxFrame === undefined && size > DEFAULTS.maxFrame) {
        throw badSpec(
          spec,
          argument ?? '',
          `exceeds the default maxFrame ${DEFAULTS.maxFrame}; pass maxFrame`,
        );
      }
      return fixedFraming(size, common);
    }
    case 'length': {
      const field = parseLengthField(argument ?? '');
      if (field === undefined || argument === '') {
        throw badSpec(
          spec,
          argument ?? '',
          'is not a length field (expected u8|u16|u24|u32|u64, optionally followed by be|le)',
        );
      }
      return lengthFraming({
        ...common,
        lengthFieldLength: field.width,
        littleEndian: field.littleEndian,
      });
    }
    case 'digits': {
      const count = parseCount(argument ?? '');
      if (count === undefined || count < 1 || count > MAX_DIGITS) {
        throw badSpec(spec, argument ?? '', `is not a digit count in 1..${MAX_DIGITS}`);
      }
      return digitsFraming(count, common);
    }
    case 'tagged':
      return taggedFraming(parseTaggedTypes(spec, argument ?? ''), common);
    case 'varint':
      return noArgument(() => varintFraming(common));
    case 'netstring':
      return noArgument(() => netstringFraming(common));
    case 'eof':
      return noArgument(() => eofFraming(common));
    case 'mllp':
      return noArgument(() => mllpFraming(common));
    case 'content-length':
      return noArgument(() => contentLengthFraming(common));
    case 'sbp':
      return noArgument(() => sbpFraming(common));
    default:
      throw badSpec(spec, name, unknownFramingReason(name));
  }
}

/**
 * Refuses a `maxFrame` option given beside a ready Framing unless it is the Framing's
 * own: the option applies to spec strings, and ignoring it would leave a limit the
 * caller did not ask for. createServer, Channel/openChannel and the stream adapters
 * all check it here.
 * @throws InvalidArgumentError `SB_BAD_OPTION`, naming `where`.
 */
export function checkMaxFrameForFraming(
  where: string,
  framing: Framing,
  maxFrame: number | undefined,
): void {
  if (maxFrame !== undefined && maxFrame !== framing.maxFrame) {
    throw new InvalidArgumentError(
      'SB_BAD_OPTION',
      `${where}: option "maxFrame" applies to framing spec strings; build the Framing with its own maxFrame`,
    );
  }
}

/**
 * Checks option "framing" when it is not a spec string (createServer, Channel,
 * openChannel): it must be a Framing, and a `maxFrame` beside it its own.
 * @throws InvalidArgumentError `SB_BAD_OPTION`, naming `where`.
 */
export function checkFramingOption(
  where: string,
  framing: unknown,
  maxFrame: number | undefined,
): asserts framing is Framing {
  if (
    framing === null ||
    typeof framing !== 'object' ||
    typeof (framing as Framing).createDecoder !== 'function' ||
    typeof (framing as Framing).createEncoder !== 'function'
  ) {
    throw new InvalidArgumentError(
      'SB_BAD_OPTION',
      `${where}: option "framing" must be a spec string or a Framing`,
    );
  }
  checkMaxFrameForFraming(where, framing as Framing, maxFrame);
}
