/**
 * Quoting a caller's text (a framing spec, an address) inside an error message.
 *
 * The text is the caller's, so echoing it helps, but it may come from a file or a
 * command line and the message may reach a terminal (the CLI prints it on stderr): so
 * control characters must not pass raw, and one huge string must not make a huge
 * message. {@link quote} writes it as a JSON string (C0, `"` and `\` escaped), with
 * DEL, C1 (U+0080..U+009F; U+009B is CSI to a terminal taking 8-bit controls), the
 * line and paragraph separators and the bidirectional controls (which reorder what a
 * terminal shows) escaped as `\uNNNN` too, cut to {@link QUOTE_MAX} characters.
 */

/** Characters of the caller's text a message quotes before cutting it with `...`. */
export const QUOTE_MAX = 80;

const UNSAFE = /[\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

function unicodeEscape(char: string): string {
  return `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`;
}

/** `text` as a double-quoted, escaped string of at most {@link QUOTE_MAX} characters. */
export function quote(text: string): string {
  const cut =
    text.length > QUOTE_MAX ? `${text.slice(0, QUOTE_MAX)}...(${text.length} characters)` : text;
  return JSON.stringify(cut).replace(UNSAFE, unicodeEscape);
}
