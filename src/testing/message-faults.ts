/**
 * Message faults: validation of {@link MessageFault}s, which messages they select
 * (`match`), and the one-bit corruption that keeps a frame valid. The pipe that forwards
 * a direction (fault-pipe.ts) counts `nth` and rolls `probability` per connection, and
 * applies the actions in a fixed order: delay, truncate, drop, corrupt, duplicate.
 */
import { type Framing, NEED_DATA } from '../codec/types.js';
import { InvalidArgumentError } from '../errors.js';
import { LinearRegex, UnsupportedPatternError } from './linear-regex.js';

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
 * in its input (linear-regex.ts), and a frame may be 8 MiB.
 */
export const MAX_MATCH_INPUT_BYTES = 16 * 1024;

/**
 * Compiles a `matchText` for the linear-time matcher, or says why it cannot run: an
 * invalid regular expression, one over MAX_MATCH_TEXT_LENGTH, or one outside the regular
 * part of the syntax (backreferences, lookaround, `\b`). V8's own RegExp is never run on
 * a payload: a pattern such as `(a+)+$` would hang the proxy's thread.
 */
export function compileMatchText(text: string): LinearRegex | string {
  if (text.length > MAX_MATCH_TEXT_LENGTH) {
    return `is longer than ${MAX_MATCH_TEXT_LENGTH} characters`;
  }
  try {
    new RegExp(text, 'u');
  } catch {
    return 'is not a valid regular expression';
  }
  try {
    return new LinearRegex(text);
  } catch (error) {
    if (error instanceof UnsupportedPatternError) {
      return 'uses a construct that is not supported (backreferences, lookaround, \\b, \\p; or too large)';
    }
    throw error;
  }
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
const regexCache = new WeakMap<MessageFault, LinearRegex>();

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
