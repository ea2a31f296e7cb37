/**
 * Input records shared by `encode`, `connect` and `send`: how one line of input becomes
 * one payload, and how a payload the framing refuses is reported.
 *
 * - `lines`: the line itself (LF removed) is the payload;
 * - `hex`: the line is the payload in hex (whitespace ignored, optional `0x`);
 * - `json`: the line is a record as `decode --output json` prints
 *   (`{"len":N,"hex":"...","text":...}`); the payload comes from `hex`, and a `len`
 *   that disagrees with it is an error.
 * Blank lines are skipped in `hex` and `json`. Every problem with a line is a data
 * error (`SB_BAD_INPUT_RECORD`, exit 1), including an encoder refusing the payload
 * (a second message for `eof`, a `tagged` payload without its type byte): the input
 * is wrong, not the command line.
 */
import { type Encoder, FrameError, type Framing, InvalidArgumentError } from '../index.js';
import type { FlagSpec } from './args.js';
import { fromHex, readLines } from './output.js';

/** The `--input` formats. */
export const INPUT_FORMATS = ['lines', 'hex', 'json'] as const;
/** One of {@link INPUT_FORMATS}. */
export type InputFormat = (typeof INPUT_FORMATS)[number];

/** `-i, --input FORMAT` for a command that reads payloads as records; `what` says what is read. */
export function inputFlag(what: string): FlagSpec {
  return {
    name: 'input',
    short: 'i',
    type: 'string',
    value: 'FORMAT',
    description: `how ${what}: lines (default, UTF-8 text), hex, or json records`,
  };
}

const utf8 = new TextDecoder('utf-8');

/**
 * The longest input line to accept for payloads of at most `maxFrame` bytes. A JSON
 * record holds the payload twice (hex, text) and text may escape each byte as
 * \uXXXX, so one huge line is bounded before it can exhaust memory.
 */
export function maxLineFor(format: InputFormat, maxFrame: number): number {
  return format === 'lines' ? maxFrame : Math.min(2 ** 31, maxFrame * 8 + 4096);
}

/** The payload of one input line, or undefined for a line to skip. `where` names it in errors ("input line 3"). */
export function payloadOf(
  line: Uint8Array,
  format: InputFormat,
  where: string,
): Uint8Array | undefined {
  if (format === 'lines') {
    return line;
  }
  const text = utf8.decode(line);
  if (text.trim() === '') {
    return undefined;
  }
  return format === 'hex' ? hexRecord(text, where) : jsonRecord(text, where);
}

/**
 * The frames of a stream of input lines, in order: each LF-terminated line read as a
 * `format` record ({@link payloadOf}) and encoded by one encoder of `framing`, as the
 * pieces to write. `source` names the lines in errors ("input" → "input line 3"). A
 * line longer than {@link maxLineFor} allows is `SB_PAYLOAD_TOO_LARGE` as soon as it
 * passes the limit, so one huge line cannot exhaust memory.
 */
export async function* encodedLines(
  input: AsyncIterable<Uint8Array>,
  format: InputFormat,
  framing: Framing,
  source: string,
): AsyncGenerator<Uint8Array[]> {
  const encoder = framing.createEncoder();
  const maxLine = maxLineFor(format, framing.maxFrame);
  const tooLong = (): Error =>
    new InvalidArgumentError(
      'SB_PAYLOAD_TOO_LARGE',
      `${source}: a line is longer than ${maxLine} bytes (maxFrame ${framing.maxFrame})`,
    );
  let lineNumber = 0;
  for await (const line of readLines(input, maxLine, tooLong)) {
    lineNumber += 1;
    const where = `${source} line ${lineNumber}`;
    const payload = payloadOf(line, format, where);
    if (payload !== undefined) {
      yield encodeRecord(encoder, payload, where);
    }
  }
}

/** Encodes `payload`, turning the encoder's refusal into a data error naming the line. */
export function encodeRecord(encoder: Encoder, payload: Uint8Array, where: string): Uint8Array[] {
  try {
    return encoder.encode(payload);
  } catch (error) {
    if (error instanceof InvalidArgumentError) {
      throw new FrameError('SB_BAD_INPUT_RECORD', `${where}: ${error.message}`, {
        cause: error,
      });
    }
    throw error;
  }
}

function recordError(where: string, why: string): FrameError {
  return new FrameError('SB_BAD_INPUT_RECORD', `${where}: ${why}`);
}

function hexRecord(text: string, where: string): Uint8Array {
  const digits = text.replace(/\s+/g, '').replace(/^0x/i, '');
  const payload = fromHex(digits);
  if (payload === undefined) {
    throw recordError(where, 'not an even number of hex digits');
  }
  return payload;
}

function jsonRecord(text: string, where: string): Uint8Array {
  let record: unknown;
  try {
    record = JSON.parse(text);
  } catch {
    throw recordError(where, 'not valid JSON');
  }
  if (typeof record !== 'object' || record === null || Array.isArray(record)) {
    throw recordError(where, 'not a JSON object');
  }
  const fields = record as Record<string, unknown>;
  if (typeof fields.hex !== 'string') {
    throw recordError(where, '"hex" is missing or not a string');
  }
  const payload = fromHex(fields.hex);
  if (payload === undefined) {
    throw recordError(where, '"hex" is not an even-length hex string');
  }
  if (fields.len !== undefined && fields.len !== payload.byteLength) {
    throw recordError(
      where,
      `"len" is ${JSON.stringify(fields.len)} but "hex" holds ${payload.byteLength} bytes`,
    );
  }
  return payload;
}
