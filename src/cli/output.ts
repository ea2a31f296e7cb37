/**
 * Output and error reporting shared by every command.
 *
 * Frames print one per line in one of three formats (SPEC §6):
 * - `text`: the payload as UTF-8 for humans. Control characters (other than tab;
 *   C1 included) are escaped as `\xNN`, U+2028/U+2029 as `\uNNNN`, so that one frame
 *   is always one line; use `hex` or `json` for exact bytes.
 * - `hex`: the payload as lowercase hex (an empty frame is an empty line).
 * - `json`: `{"len":N,"hex":"...","text":"..."}`; `text` is the payload decoded
 *   as UTF-8, or `null` when the payload is not valid UTF-8. `encode --input json`
 *   reads exactly these lines back (from `hex`).
 *
 * Errors print as `switchboard: <code>: <message>` on stderr, with
 * ` (at byte N)` when the error carries a decode offset. The exit code follows
 * from the error's class ({@link exitCodeFor}).
 */
import { toSwitchboardError } from '../errors.js';
import {
  ConnectionError,
  FrameError,
  InvalidArgumentError,
  isSwitchboardError,
  StructError,
  type SwitchboardError,
  TimeoutError,
  UnexpectedEofError,
} from '../index.js';

/** Exit codes (SPEC §6). */
export const EXIT = Object.freeze({
  ok: 0,
  dataError: 1,
  usage: 2,
  network: 3,
  interrupted: 130,
});

/** The formats a received frame can print in. */
export const OUTPUT_FORMATS = ['text', 'hex', 'json'] as const;
/** One of {@link OUTPUT_FORMATS}. */
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });
const lossyUtf8 = new TextDecoder('utf-8');

/** Lowercase hex of `bytes`. */
export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

/** Parses an even-length hex string (no prefix); returns undefined when it is not hex. */
export function fromHex(text: string): Uint8Array | undefined {
  if (text.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(text)) {
    return undefined;
  }
  return new Uint8Array(Buffer.from(text, 'hex'));
}

/** The payload as UTF-8 text, or null when it is not valid UTF-8. */
export function utf8OrNull(bytes: Uint8Array): string | null {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    return null;
  }
}

/**
 * Formats one frame as one output line (without the LF).
 * @throws FrameError `SB_FRAME_TOO_LARGE` when the line would be longer than a string
 *   can be (about 512 Mi characters: a 300 MB frame in hex, 90 MB of control bytes in
 *   json), rather than node's RangeError as an internal error.
 */
export function formatFrame(payload: Uint8Array, format: OutputFormat): string {
  try {
    switch (format) {
      case 'hex':
        return toHex(payload);
      case 'json':
        return JSON.stringify({
          len: payload.byteLength,
          hex: toHex(payload),
          text: utf8OrNull(payload),
        });
      default:
        return escapedText(payload);
    }
  } catch (error) {
    if (isStringTooLong(error)) {
      throw new FrameError(
        'SB_FRAME_TOO_LARGE',
        `a ${payload.byteLength}-byte frame is too large to print as one ${format} line (lower --max-frame, or use --output hex)`,
        { cause: error },
      );
    }
    throw error;
  }
}

/** Node's and V8's ways of saying a string would pass the longest a string can be. */
export function isStringTooLong(error: unknown): boolean {
  return (
    error instanceof RangeError ||
    (error instanceof Error && (error as NodeJS.ErrnoException).code === 'ERR_STRING_TOO_LONG')
  );
}

const HEX_DIGITS = Buffer.from('0123456789abcdef', 'latin1');
const BACKSLASH = 0x5c;

/**
 * How many bytes of `bytes` at `i` form a character {@link escapedText} escapes (0: none).
 * C0 controls but tab, and DEL: one byte; C1 (U+0080..U+009F): 0xC2 and 0x80..0x9F;
 * U+2028 / U+2029: 0xE2 0x80 0xA8 / 0xA9. None of these bytes continues a sequence, so
 * the lossy decoder reads them as these characters wherever they stand.
 */
function controlAt(bytes: Uint8Array, i: number): number {
  const byte = bytes[i]!;
  if ((byte < 0x20 && byte !== 0x09) || byte === 0x7f) {
    return 1;
  }
  if (byte === 0xc2) {
    const next = bytes[i + 1];
    return next !== undefined && next >= 0x80 && next <= 0x9f ? 2 : 0;
  }
  if (byte === 0xe2 && bytes[i + 1] === 0x80) {
    const last = bytes[i + 2];
    return last === 0xa8 || last === 0xa9 ? 3 : 0;
  }
  return 0;
}

/**
 * The payload as UTF-8 text (lossy), control characters (but tab) escaped as `\xNN`,
 * U+2028/U+2029 as `\uNNNN`. C1 too (U+0080..U+009F): a terminal that takes 8-bit
 * controls reads U+009B as CSI, so a peer's frame could drive it; U+0085, U+2028 and
 * U+2029 end a line for many readers.
 *
 * The escapes are made in the bytes, before decoding, in one linear pass: a
 * regular-expression replace with a callback over the decoded text cost 0.2 µs per
 * control character and, past about 67 M of them (a 70 MB frame of zeros under a raised
 * --max-frame), aborted the process inside V8 ("invalid size error"), which no catch
 * can stop. Escaping bytes that never continue a UTF-8 sequence with ASCII leaves the
 * decoding of every other byte as it was.
 */
function escapedText(payload: Uint8Array): string {
  let grown = 0;
  for (let i = 0; i < payload.length; i += 1) {
    const size = controlAt(payload, i);
    if (size !== 0) {
      grown += (size === 3 ? 6 : 4) - size;
      i += size - 1;
    }
  }
  if (grown === 0) {
    return lossyUtf8.decode(payload);
  }
  const out = Buffer.allocUnsafe(payload.length + grown);
  let written = 0;
  let copied = 0;
  for (let i = 0; i < payload.length; i += 1) {
    const size = controlAt(payload, i);
    if (size === 0) {
      continue;
    }
    if (i > copied) {
      out.set(payload.subarray(copied, i), written);
      written += i - copied;
    }
    out[written++] = BACKSLASH;
    if (size === 3) {
      // U+2028 or U+2029: \u2028 / \u2029.
      out[written++] = 0x75;
      out[written++] = 0x32;
      out[written++] = 0x30;
      out[written++] = 0x32;
      out[written++] = payload[i + 2] === 0xa8 ? 0x38 : 0x39;
    } else {
      // C0 or DEL (the byte itself) or C1 (its second byte): \xNN.
      const code = payload[i + size - 1]!;
      out[written++] = 0x78;
      out[written++] = HEX_DIGITS[code >> 4]!;
      out[written++] = HEX_DIGITS[code & 0xf]!;
    }
    i += size - 1;
    copied = i + 1;
  }
  if (copied < payload.length) {
    out.set(payload.subarray(copied), written);
  }
  return lossyUtf8.decode(out);
}

/** Bytes buffered before a writer flushes without waiting for the next turn of the event loop. */
const FLUSH_THRESHOLD = 64 * 1024;

/**
 * Writes lines (or bytes) to a stream in batches. Everything queued within one
 * turn of the event loop (all frames decoded from one input chunk, say) goes out
 * in one `write()` at the next `setImmediate`, or at once past 64 KiB, instead of
 * one system call per frame. When the stream's buffer is full, producers wait for
 * `drain`, so a fast producer cannot make the process buffer without bound.
 * Call {@link LineWriter.flush} before writing to another stream (stderr) and
 * before exiting.
 */
export class LineWriter {
  readonly #stream: NodeJS.WritableStream;
  #pending: Array<string | Uint8Array> = [];
  #pendingBytes = 0;
  #scheduled = false;
  #drained: Promise<void> | undefined;

  constructor(stream: NodeJS.WritableStream) {
    this.#stream = stream;
  }

  /** Queues `text` plus LF; resolves once the writer can take more. */
  async line(text: string): Promise<void> {
    await this.write(`${text}\n`);
  }

  /** Queues raw text or bytes; resolves once the writer can take more. */
  async write(data: string | Uint8Array): Promise<void> {
    this.#pending.push(data);
    this.#pendingBytes += typeof data === 'string' ? data.length : data.byteLength;
    if (this.#pendingBytes >= FLUSH_THRESHOLD) {
      await this.flush();
    } else if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => {
        void this.flush();
      });
    }
    if (this.#drained !== undefined) {
      await this.#drained;
    }
  }

  /** Writes everything queued; resolves once the stream has taken it (or drained). */
  async flush(): Promise<void> {
    this.#scheduled = false;
    if (this.#pending.length > 0) {
      const pending = this.#pending;
      this.#pending = [];
      this.#pendingBytes = 0;
      const data = pending.every((item) => typeof item === 'string')
        ? pending.join('')
        : Buffer.concat(
            pending.map((item) => (typeof item === 'string' ? Buffer.from(item) : item)),
          );
      if (!this.#stream.write(data) && this.#drained === undefined) {
        this.#drained = new Promise<void>((resolve) => {
          this.#stream.once('drain', () => {
            this.#drained = undefined;
            resolve();
          });
        });
      }
    }
    if (this.#drained !== undefined) {
      await this.#drained;
    }
  }
}

/** The process's stdout, batched. main.ts flushes it before printing an error and before exiting. */
export const stdout = new LineWriter(process.stdout);

/** The exit code for an error thrown by a command (SPEC §6). */
export function exitCodeFor(error: SwitchboardError): number {
  if (error instanceof ConnectionError || error instanceof TimeoutError) {
    return EXIT.network;
  }
  if (
    error instanceof FrameError ||
    error instanceof UnexpectedEofError ||
    error instanceof StructError
  ) {
    return EXIT.dataError;
  }
  if (error instanceof InvalidArgumentError) {
    // The encoder refusing a payload is about the data, not the command line.
    return error.code === 'SB_PAYLOAD_TOO_LARGE' ? EXIT.dataError : EXIT.usage;
  }
  return EXIT.dataError;
}

/** The one stderr line for an error: `switchboard: <code>: <message>[ (at byte N)]`. */
export function formatError(
  error: SwitchboardError,
  offset: number | undefined = error.offset,
): string {
  const where = offset === undefined ? '' : ` (at byte ${offset})`;
  return `switchboard: ${error.code}: ${escapeMessage(error.message)}${where}`;
}

/**
 * A message with its control characters (but tab) escaped as `\xNN` / `\uNNNN`, as
 * text frames print: a message may quote a file name or a flag's value, and stderr is
 * a terminal. Messages are short, so a regular expression does.
 */
function escapeMessage(message: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: escaping control characters is the point
  return message.replace(/[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u2028\u2029]/g, (char) => {
    const code = char.charCodeAt(0);
    return code > 0xff ? `\\u${code.toString(16)}` : `\\x${code.toString(16).padStart(2, '0')}`;
  });
}

function isSystemError(error: unknown): error is NodeJS.ErrnoException {
  return error instanceof Error && 'syscall' in error && typeof error.syscall === 'string';
}

/** Prints `error` on stderr and returns its exit code. Non-switchboard errors are bugs: exit 1. */
export function reportError(error: unknown): number {
  if (isSystemError(error)) {
    // An operating-system error (EADDRINUSE, ECONNRESET, ...) from Node itself.
    return reportError(toSwitchboardError(error));
  }
  if (isSwitchboardError(error)) {
    process.stderr.write(`${formatError(error)}\n`);
    return exitCodeFor(error);
  }
  const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
  process.stderr.write(`switchboard: SB_INTERNAL: ${message}\n`);
  return EXIT.dataError;
}

/**
 * The bytes of `path` (`-` or undefined = stdin), as a stream of chunks. A file
 * that cannot be opened or read is a usage error naming the file.
 */
export async function openInput(path: string | undefined): Promise<AsyncIterable<Uint8Array>> {
  if (path === undefined || path === '-') {
    return process.stdin;
  }
  const { open } = await import('node:fs/promises');
  const cannotRead = (error: unknown): InvalidArgumentError =>
    new InvalidArgumentError(
      'SB_INVALID_ARGUMENT',
      `cannot read input file '${path}' (${systemCode(error)})`,
    );
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    throw cannotRead(error);
  }
  const stream = handle.createReadStream();
  // A directory opens but its first read fails (EISDIR): that is the file's
  // fault too, not the network's (a bare system error would exit 3).
  return (async function* () {
    try {
      yield* stream;
    } catch (error) {
      throw cannotRead(error);
    }
  })();
}

/** The `code` of a failed file or system call (`ENOENT`), for a message naming the file. */
export function systemCode(error: unknown): string {
  return typeof error === 'object' && error !== null && 'code' in error
    ? String(error.code)
    : 'error';
}

/**
 * Splits a byte stream into LF-terminated lines (the LF removed; a final LF does
 * not make an extra, empty line; a last line without LF is still a line). Each
 * byte is searched once. A line longer than `maxLine` bytes throws `tooLong()`
 * as soon as it passes the limit, so one huge line cannot exhaust memory.
 */
export async function* readLines(
  input: AsyncIterable<Uint8Array>,
  maxLine: number,
  tooLong: () => Error,
): AsyncGenerator<Uint8Array> {
  let pending: Uint8Array[] = [];
  let pendingLength = 0;
  for await (const chunk of input) {
    let start = 0;
    for (;;) {
      const newline = chunk.indexOf(0x0a, start);
      if (newline === -1) {
        break;
      }
      const piece = chunk.subarray(start, newline);
      if (pendingLength + piece.byteLength > maxLine) {
        throw tooLong();
      }
      if (pending.length === 0) {
        yield piece;
      } else {
        pending.push(piece);
        yield Buffer.concat(pending, pendingLength + piece.byteLength);
        pending = [];
        pendingLength = 0;
      }
      start = newline + 1;
    }
    if (start < chunk.byteLength) {
      const rest = chunk.subarray(start);
      pendingLength += rest.byteLength;
      if (pendingLength > maxLine) {
        throw tooLong();
      }
      pending.push(rest);
    }
  }
  if (pending.length > 0) {
    yield Buffer.concat(pending, pendingLength);
  }
}
