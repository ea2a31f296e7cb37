/**
 * `line` and `line:crlf` framings: LF-terminated frames; the decoder strips one CR
 * before the LF, so it reads both Unix and network (CRLF) lines. The encoder
 * writes LF (`line`) or CRLF (`line:crlf`). Built on {@link DelimiterDecoder}.
 */
import { DEFAULTS, maxFrameRule, resolveOptions } from '../options.js';
import { DelimiterDecoder, DelimiterEncoder } from './delim.js';
import type { Decoder, Encoder, Framing, FramingOptions } from './types.js';

const LF = Uint8Array.of(0x0a);
const CRLF = Uint8Array.of(0x0d, 0x0a);

/** Options of {@link lineFraming}. */
export interface LineFramingOptions extends FramingOptions {
  /** Write CRLF instead of LF after each frame (`line:crlf`). Decoding is the same. Default false. */
  crlf?: boolean;
}

/**
 * The `line` framing (`line:crlf` with `{ crlf: true }`). Default maxFrame 64 KiB,
 * not counting the terminator. An unterminated last line is `SB_UNEXPECTED_EOF`
 * at `end()`. The encoder refuses payloads containing LF. A payload ending in CR
 * is written with CRLF even by `line`, since the decoder strips one CR before
 * the LF: so every frame the decoder yields can be written back unchanged.
 *
 * ```
 * INPUT  "ab\n" "\r\n" "c\r\n" "d\r\r\n"  -->  DECODED  "ab", "", "c", "d\r"
 * ENCODE "ab", "d\r"  -->  line: "ab\n" "d\r\r\n"   line:crlf: "ab\r\n" "d\r\r\n"
 * ```
 */
export function lineFraming(options?: LineFramingOptions): Framing {
  const { maxFrame, crlf } = resolveOptions(
    'lineFraming',
    {
      maxFrame: maxFrameRule(DEFAULTS.maxLineFrame as number),
      crlf: { kind: 'boolean', default: false },
    },
    options,
  );
  const spec = crlf ? 'line:crlf' : 'line';
  return {
    spec,
    maxFrame,
    carriesText: true,
    createDecoder: (): Decoder => new DelimiterDecoder(spec, LF, maxFrame, true),
    createEncoder: (): Encoder => new DelimiterEncoder(spec, crlf ? CRLF : LF, LF, maxFrame, CRLF),
  };
}
