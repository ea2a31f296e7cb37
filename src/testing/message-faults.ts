/**
 * Message faults: validation of {@link MessageFault}s, which messages they select
 * (`match`), and the one-bit corruption that keeps a frame valid. The pipe that forwards
 * a direction (fault-pipe.ts) counts `nth` and rolls `probability` per connection, and
 * applies the actions in a fixed order: delay, truncate, drop, corrupt, duplicate.
 */

import { RE2JS, RE2JSSyntaxException } from 're2js';
import { type Framing, NEED_DATA } from '../codec/types.js';
import { InvalidArgumentError } from '../errors.js';

/** What a message fault does to each message it selects. */
export type MessageAction = 'drop' | 'delay' | 'duplicate' | 'corrupt' | 'truncate';

/**
 * A fault aimed at whole messages; needs a proxy started with a `framing`.
 *
 * A message is selected when it matches (`matchHexPrefix`: its payload starts with these
 * bytes, given as hex; `matchText`: a regular expression found in the first
 * {@link MAX_MATCH_INPUT_BYTES} of its payload read as UTF-8; neither: every message) and then, counting matching messages per connection and
 * direction from 1, when it is the `nth` (0 = every matching message) and the seeded
 * `probability` roll (default 1) says so. Actions:
 *
 * - `drop`: the message's bytes are not forwarded.
 * - `delay`: the message (and, to keep order, everything behind it) waits `delayMs`.
 * - `duplicate`: the message is forwarded twice.
 * - `corrupt`: one payload bit is flipped, so the frame stays valid (its length and
 *   delimiters are unchanged); a payload where no bit can flip safely is forwarded as is.
 * - `truncate`: the first half of the message's bytes are forwarded, then the
 *   connection is closed (FIN both ways), so the receiver meets a partial frame at EOF.
 */
export interface MessageFault {
  type: 'message';
  action: MessageAction;
  nth?: number;
  probability?: number;
  delayMs?: number;
  matchHexPrefix?: string;
  matchText?: string;
}

const ACTIONS = new Set(['drop', 'delay', 'duplicate', 'corrupt', 'truncate']);

/** Longest `matchText`, in UTF-16 units. */
export const MAX_MATCH_TEXT_LENGTH = 256;
/**
 * `matchText` is searched in this many leading bytes of a payload: the matcher is linear
 * in its input, and a frame may be 8 MiB.
 */
export const MAX_MATCH_INPUT_BYTES = 16 * 1024;
/**
 * Largest compiled `matchText`, in RE2 instructions (a `{n,m}` repeat is expanded). RE2's
 * lazy DFA falls back to its NFA when the DFA's state cache fills (`a[ab]{1000}c` on
 * random a/b text does), and the NFA costs (input length) x (program size) per payload:
 * this keeps that at about 16 M steps, some hundreds of ms for a 16 KiB payload, where a
 * typical pattern takes microseconds.
 */
export const MAX_MATCH_PROGRAM_SIZE = 1024;

/** A compiled `matchText`: whether it is found anywhere in a string. */
export interface TextMatcher {
  test(text: string): boolean;
}

/**
 * JavaScript syntax that RE2's translation (`RE2JS.translateRegExp`) would misread rather
 * than refuse: a backreference `\k<name>` or `\8`/`\9` becomes a literal letter or digit.
 * `\\` is skipped as a pair, so an escaped backslash before `k` is not one.
 */
const MISREAD_ESCAPE = /\\([k89])|\\[\s\S]/gu;

/**
 * Rewrites the JavaScript forms RE2 spells differently before translateRegExp: a
 * surrogate pair written as two `\u` escapes (one code point in a u-flag pattern,
 * two lone surrogates to RE2), and `\p{Script=X}` / `\p{sc=X}` (RE2: `\p{X}`).
 */
function toRe2Spelling(text: string): string {
  return text.replace(
    /(\\[pP]\{)(?:Script|sc)=|\\u([Dd][89ABab][0-9A-Fa-f]{2})\\u([Dd][C-Fc-f][0-9A-Fa-f]{2})|\\[\s\S]/gu,
    (whole, property?: string, high?: string, low?: string) => {
      if (property !== undefined) {
        return property;
      }
      if (high === undefined || low === undefined) {
        return whole;
      }
      const codePoint =
        0x10000 +
        ((Number.parseInt(high, 16) - 0xd800) << 10) +
        (Number.parseInt(low, 16) - 0xdc00);
      return `\\u{${codePoint.toString(16)}}`;
    },
  );
}

/**
 * Compiles a `matchText` for RE2 (re2js, linear time), or says why it cannot run: one
 * over MAX_MATCH_TEXT_LENGTH, an invalid JavaScript regular expression (`u` flag), or one
 * RE2 refuses (backreferences, lookaround, a repeat over 1000, a program over
 * MAX_MATCH_PROGRAM_SIZE). V8's own RegExp only checks the syntax and is never run on a
 * payload: a pattern such as `(a+)+$` would hang the proxy's thread.
 */
export function compileMatchText(text: string): TextMatcher | string {
  if (text.length > MAX_MATCH_TEXT_LENGTH) {
    return `is longer than ${MAX_MATCH_TEXT_LENGTH} characters`;
  }
  try {
    new RegExp(text, 'u');
  } catch {
    return 'is not a valid regular expression';
  }
  const unsupported =
    'uses a construct that is not supported (backreferences, lookaround, a repeat over 1000; or too large)';
  for (const [, misread] of text.matchAll(MISREAD_ESCAPE)) {
    if (misread !== undefined) {
      return unsupported;
    }
  }
  let compiled: RE2JS;
  try {
    compiled = RE2JS.compile(RE2JS.translateRegExp(toRe2Spelling(text)));
  } catch (error) {
    // RE2's parser refused it. Its message quotes the pattern, which may come from an
    // API client, so it is not passed on.
    if (error instanceof RE2JSSyntaxException) {
      return unsupported;
    }
    throw error;
  }
  if (compiled.programSize() > MAX_MATCH_PROGRAM_SIZE) {
    return unsupported;
  }
  return compiled;
}

function invalid(message: string): InvalidArgumentError {
  return new InvalidArgumentError('SB_INVALID_ARGUMENT', `FaultProxy: ${message}`);
}

/** Throws InvalidArgumentError when `fault` is not a valid message fault. */
export function validateMessageFault(fault: MessageFault): void {
  if (!ACTIONS.has(fault.action)) {
    throw invalid('a message fault needs "action": drop, delay, duplicate, corrupt or truncate');
  }
  if (fault.nth !== undefined && (!Number.isSafeInteger(fault.nth) || fault.nth < 0)) {
    throw invalid('message fault "nth" must be an integer >= 0');
  }
  if (
    fault.probability !== undefined &&
    (typeof fault.probability !== 'number' || !(fault.probability >= 0 && fault.probability <= 1))
  ) {
    throw invalid('message fault "probability" must be a number in [0, 1]');
  }
  if (
    fault.delayMs !== undefined &&
    (typeof fault.delayMs !== 'number' || !Number.isFinite(fault.delayMs) || fault.delayMs < 0)
  ) {
    throw invalid('message fault "delayMs" must be a number of ms >= 0');
  }
  if (
    fault.matchHexPrefix !== undefined &&
    (typeof fault.matchHexPrefix !== 'string' || !/^([0-9a-fA-F]{2})*$/.test(fault.matchHexPrefix))
  ) {
    throw invalid('message fault "matchHexPrefix" must be hex bytes');
  }
  if (fault.matchText !== undefined) {
    if (typeof fault.matchText !== 'string') {
      throw invalid('message fault "matchText" must be a regular expression string');
    }
    const compiled = compileMatchText(fault.matchText);
    if (typeof compiled === 'string') {
      throw invalid(`message fault "matchText" ${compiled}`);
    }
    regexCache.set(fault, compiled);
  }
}

const textDecoder = new TextDecoder();
const regexCache = new WeakMap<MessageFault, TextMatcher>();

/** Whether `payload` matches the fault's `match` (no match = every message). */
export function messageMatches(fault: MessageFault, payload: Uint8Array): boolean {
  if (fault.matchHexPrefix !== undefined) {
    const prefix = Buffer.from(fault.matchHexPrefix, 'hex');
    if (payload.length < prefix.length) {
      return false;
    }
    for (let index = 0; index < prefix.length; index += 1) {
      if (payload[index] !== prefix[index]) {
        return false;
      }
    }
  }
  if (fault.matchText !== undefined) {
    let pattern = regexCache.get(fault);
    if (pattern === undefined) {
      const compiled = compileMatchText(fault.matchText);
      if (typeof compiled === 'string') {
        return false; // validateMessageFault refused it already; never reached
      }
      pattern = compiled;
      regexCache.set(fault, pattern);
    }
    const input = payload.subarray(0, MAX_MATCH_INPUT_BYTES);
    if (!pattern.test(textDecoder.decode(input))) {
      return false;
    }
  }
  return true;
}

/** Bytes of a payload tried for a safe bit flip before giving up (bounds the work). */
const CORRUPT_ATTEMPTS = 64;

/**
 * Flips one payload bit inside the message's wire bytes, checked with a fresh decoder:
 * the result must decode to exactly one frame, the payload with that one bit flipped,
 * and nothing left over. So the frame stays valid (a flipped bit that would make a
 * delimiter, or touch a length field, is never chosen). Returns undefined when no such
 * bit is found within the attempts.
 */
export function corruptOneBit(
  framing: Framing,
  wire: Buffer,
  payload: Uint8Array,
  start: number,
): Buffer | undefined {
  if (payload.length === 0) {
    return undefined;
  }
  // Where the payload sits in the wire bytes: the last place it occurs whole (headers
  // come first in every built-in framing; trailers are short delimiters).
  const payloadBytes = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
  const offsets: number[] = [];
  for (let at = wire.lastIndexOf(payloadBytes); at >= 0 && offsets.length < 4; ) {
    offsets.push(at);
    at = at === 0 ? -1 : wire.lastIndexOf(payloadBytes, at - 1);
  }
  for (const offset of offsets) {
    for (let attempt = 0; attempt < Math.min(CORRUPT_ATTEMPTS, payload.length * 8); attempt += 1) {
      const bit = (start + attempt) % (payload.length * 8);
      const candidate = Buffer.from(wire);
      candidate[offset + (bit >> 3)]! ^= 1 << (bit & 7);
      const expected = Buffer.from(payloadBytes);
      expected[bit >> 3]! ^= 1 << (bit & 7);
      if (decodesToExactly(framing, candidate, expected)) {
        return candidate;
      }
    }
  }
  return undefined;
}

function decodesToExactly(framing: Framing, wire: Buffer, expected: Buffer): boolean {
  const decoder = framing.createDecoder();
  try {
    decoder.push(wire);
    const frame = decoder.next();
    if (frame === NEED_DATA || decoder.next() !== NEED_DATA || decoder.buffered !== 0) {
      return false;
    }
    return Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength).equals(expected);
  } catch {
    return false;
  }
}
