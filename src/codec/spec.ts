/**
 * Parser of `--framing` spec strings (SPEC §2), e.g. `line`, `length:u16le`,
 * `tagged:01=4,02=length:u16be`. Each spec maps onto one programmatic
 * constructor; the parser only translates the string and names the bad part of
 * a spec it cannot read.
 */
import { InvalidArgumentError } from '../errors.js';
import { type LengthFieldWidth, lengthFraming } from './length.js';
import { lineFraming } from './line.js';
import type { Framing, FramingOptions } from './types.js';

/** Throws the SB_BAD_FRAMING_SPEC error for `spec`, naming `part` and why it is wrong. */
export function badSpec(spec: string, part: string, reason: string): InvalidArgumentError {
  return new InvalidArgumentError(
    'SB_BAD_FRAMING_SPEC',
    `bad framing spec "${spec}": "${part}" ${reason}`,
  );
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

/**
 * Builds the framing named by `spec` (see SPEC §2 for the grammar), applying
 * `options` (e.g. `maxFrame`). Throws InvalidArgumentError `SB_BAD_FRAMING_SPEC`
 * whose message names the part of the spec that could not be read.
 */
export function parseFraming(spec: string, options?: FramingOptions): Framing {
  if (typeof spec !== 'string') {
    throw new InvalidArgumentError('SB_BAD_FRAMING_SPEC', 'a framing spec must be a string');
  }
  const colon = spec.indexOf(':');
  const name = colon < 0 ? spec : spec.slice(0, colon);
  const argument = colon < 0 ? undefined : spec.slice(colon + 1);
  switch (name) {
    case 'line':
      if (argument === undefined || argument === 'lf') {
        return lineFraming({ ...options });
      }
      if (argument === 'crlf') {
        return lineFraming({ ...options, crlf: true });
      }
      throw badSpec(spec, argument, 'is not a line ending (expected "line" or "line:crlf")');
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
        ...options,
        lengthFieldLength: field.width,
        littleEndian: field.littleEndian,
      });
    }
    default:
      throw badSpec(spec, name, 'is not a known framing');
  }
}
