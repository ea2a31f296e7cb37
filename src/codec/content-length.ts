/**
 * `content-length` framing: the LSP / DAP base protocol. Each frame is a header
 * block of `Name: value` lines, each ended by CRLF, then an empty line (CRLF), then
 * exactly `Content-Length` bytes of body:
 * ```
 * Content-Length: 5\r\n
 * Content-Type: application/vscode-jsonrpc; charset=utf-8\r\n
 * \r\n
 * hello
 * ```
 *
 * Theory of operation
 * -------------------
 * States: HEADERS (searching for line ends) -> BODY (waiting for the body) -> HEADERS.
 * In HEADERS the decoder searches for LF from where the last search stopped, and
 * parses each complete header line once, byte by byte straight from the queue (no
 * string is built): so a header arriving one byte at a time costs O(1) per byte.
 * The header block stays in the queue until the body is complete, so error offsets
 * point at the first header byte. Rules, each a `SB_BAD_HEADER` when broken: lines
 * end with CRLF; each line has a non-empty name and a `:`; `Content-Length` (any
 * case) appears exactly once and is decimal digits (optional spaces/tabs around);
 * the header block is at most `maxHeaderBlock` bytes (default 8 KiB). Other
 * headers (`Content-Type`, ...) are allowed and ignored. A Content-Length above
 * maxFrame is `SB_FRAME_TOO_LARGE` as soon as its line is complete.
 */
import { DEFAULTS, maxFrameRule, resolveOptions } from '../options.js';
import { BaseDecoder, checkPayloadFits, decoderLimit, tooLargeMessage } from './base.js';
import type { Decoder, Encoder, Framing, FramingOptions, NeedData } from './types.js';
import { NEED_DATA } from './types.js';

const LF = 0x0a;
const CR = 0x0d;
const COLON = 0x3a;
const SPACE = 0x20;
const TAB = 0x09;
const ZERO = 0x30;
/** `content-length`, lowercase, as char codes: header names are case-insensitive. */
const CONTENT_LENGTH = [...'content-length'].map((char) => char.charCodeAt(0));

/** Options of {@link contentLengthFraming}. */
export interface ContentLengthFramingOptions extends FramingOptions {
  /** Largest header block in bytes, including the final empty line. Default 8 KiB; at least 64. */
  maxHeaderBlock?: number;
}

/** Decoder for {@link contentLengthFraming}. */
export class ContentLengthDecoder extends BaseDecoder {
  private readonly maxFrame: number;
  private readonly maxHeaderBlock: number;
  /** Offset where the next LF search starts. */
  private searchFrom = 0;
  /** Offset of the first byte of the header line being read. */
  private lineStart = 0;
  /** Content-Length seen so far in this header block, or -1. */
  private contentLength = -1;
  /** Header block length once its empty line was read (BODY state), or -1 (HEADERS). */
  private headerLength = -1;

  constructor(maxFrame: number, maxHeaderBlock: number) {
    super();
    this.maxFrame = decoderLimit(maxFrame);
    this.maxHeaderBlock = maxHeaderBlock;
  }

  protected decodeFrame(): Uint8Array | NeedData {
    const queue = this.queue;
    if (this.headerLength < 0 && !this.readHeaders()) {
      return NEED_DATA;
    }
    if (queue.length < this.headerLength + this.contentLength) {
      return this.awaitFrame(this.headerLength + this.contentLength);
    }
    const frame = queue.take(this.contentLength, this.headerLength);
    this.searchFrom = 0;
    this.lineStart = 0;
    this.contentLength = -1;
    this.headerLength = -1;
    return frame;
  }

  /** Reads header lines; true once the block is complete and valid. */
  private readHeaders(): boolean {
    const queue = this.queue;
    for (;;) {
      const lineEnd = queue.indexOfByte(LF, this.searchFrom);
      if (lineEnd < 0) {
        this.searchFrom = queue.length;
        if (queue.length > this.maxHeaderBlock) {
          throw this.headerTooLarge();
        }
        return false;
      }
      this.searchFrom = lineEnd + 1;
      if (lineEnd + 1 > this.maxHeaderBlock) {
        throw this.headerTooLarge();
      }
      if (lineEnd === this.lineStart || queue.byteAt(lineEnd - 1) !== CR) {
        throw this.fail('SB_BAD_HEADER', 'content-length: a header line does not end with CRLF');
      }
      const contentEnd = lineEnd - 1;
      if (contentEnd === this.lineStart) {
        // The empty line: end of the header block.
        if (this.contentLength < 0) {
          throw this.fail(
            'SB_BAD_HEADER',
            'content-length: the header block has no Content-Length',
          );
        }
        this.headerLength = lineEnd + 1;
        return true;
      }
      this.readHeaderLine(this.lineStart, contentEnd);
      this.lineStart = lineEnd + 1;
    }
  }

  /** Parses the header line in [start, end) (CRLF excluded). */
  private readHeaderLine(start: number, end: number): void {
    const queue = this.queue;
    let colon = start;
    while (colon < end && queue.byteAt(colon) !== COLON) {
      colon++;
    }
    if (colon === end || colon === start) {
      throw this.fail('SB_BAD_HEADER', 'content-length: a header line is not "Name: value"');
    }
    if (colon - start !== CONTENT_LENGTH.length) {
      return;
    }
    for (let index = 0; index < CONTENT_LENGTH.length; index++) {
      // `| 0x20` lowercases ASCII letters and leaves '-' alone.
      if ((queue.byteAt(start + index) | 0x20) !== CONTENT_LENGTH[index]) {
        return;
      }
    }
    if (this.contentLength >= 0) {
      throw this.fail('SB_BAD_HEADER', 'content-length: Content-Length appears more than once');
    }
    let position = colon + 1;
    let valueEnd = end;
    while (position < valueEnd && isBlank(queue.byteAt(position))) {
      position++;
    }
    while (valueEnd > position && isBlank(queue.byteAt(valueEnd - 1))) {
      valueEnd--;
    }
    if (position === valueEnd) {
      throw this.fail('SB_BAD_HEADER', 'content-length: Content-Length is empty');
    }
    let length = 0;
    for (; position < valueEnd; position++) {
      const digit = queue.byteAt(position) - ZERO;
      if (digit < 0 || digit > 9) {
        throw this.fail('SB_BAD_HEADER', 'content-length: Content-Length is not a decimal number');
      }
      length = length * 10 + digit;
      if (length > this.maxFrame) {
        throw this.fail(
          'SB_FRAME_TOO_LARGE',
          tooLargeMessage('content-length', `at least ${length}`, this.maxFrame),
        );
      }
    }
    this.contentLength = length;
  }

  private headerTooLarge(): Error {
    return this.fail(
      'SB_BAD_HEADER',
      `content-length: the header block exceeds maxHeaderBlock ${this.maxHeaderBlock} bytes`,
    );
  }
}

function isBlank(byte: number): boolean {
  return byte === SPACE || byte === TAB;
}

/** Encoder for {@link contentLengthFraming}: returns `["Content-Length: N\r\n\r\n", payload]`. */
export class ContentLengthEncoder implements Encoder {
  private readonly maxFrame: number;

  constructor(maxFrame: number) {
    this.maxFrame = maxFrame;
  }

  encode(payload: Uint8Array): Uint8Array[] {
    checkPayloadFits('content-length', payload, this.maxFrame);
    const text = `Content-Length: ${payload.length}\r\n\r\n`;
    const header = new Uint8Array(text.length);
    for (let index = 0; index < text.length; index++) {
      header[index] = text.charCodeAt(index);
    }
    return [header, payload];
  }
}

/**
 * The `content-length` framing (LSP / DAP base protocol). Default maxFrame 8 MiB
 * (body bytes), maxHeaderBlock 8 KiB.
 *
 * ```
 * INPUT  "Content-Length: 2\r\nContent-Type: x\r\n\r\n{}"  -->  DECODED  "{}"
 * ```
 */
export function contentLengthFraming(options?: ContentLengthFramingOptions): Framing {
  const { maxFrame, maxHeaderBlock } = resolveOptions(
    'contentLengthFraming',
    {
      maxFrame: maxFrameRule(DEFAULTS.maxFrame as number),
      maxHeaderBlock: { kind: 'bytes', default: DEFAULTS.maxHeaderBlock, min: 64 },
    },
    options,
  );
  return {
    spec: 'content-length',
    maxFrame,
    carriesText: true,
    createDecoder: (): Decoder => new ContentLengthDecoder(maxFrame, maxHeaderBlock),
    createEncoder: (): Encoder => new ContentLengthEncoder(maxFrame),
  };
}
