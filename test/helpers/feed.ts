/**
 * The one helper every codec test feeds its decoders through (STYLE rule 6).
 *
 * `feed(makeDecoder, input)` decodes `input` three ways — the whole input as one
 * chunk, one byte at a time, and in seeded random chunks — draining `next()`
 * after every push and calling `end()` at the end. It checks that the three ways
 * agree (same frames, same error code and offset), that a failed decoder's error
 * is sticky, and, with `trailing` (a partial frame appended to the input), that
 * the frames are unchanged and exactly the trailing bytes stay `buffered`. It
 * returns the frames and the error, if any. Only FrameError and
 * UnexpectedEofError may come out of a decoder; anything else is rethrown and
 * fails the test.
 */
// node:assert rather than vitest's expect: scripts/fuzz.ts uses this helper outside vitest,
// and vitest still shows a diff for an AssertionError.
import assert from 'node:assert/strict';
import type { Decoder } from '../../src/codec/types.js';
import { NEED_DATA } from '../../src/codec/types.js';
import { FrameError, UnexpectedEofError } from '../../src/errors.js';
import { seededRandom } from '../../src/testing/seeded-random.js';

/** A decode error, reduced to what tests compare. */
export interface FeedError {
  code: string;
  offset: number | undefined;
  name: string;
  message: string;
  /** The error object itself (for identity checks). */
  error: FrameError | UnexpectedEofError;
}

/** What one run produced. */
export interface FeedOutcome {
  frames: Uint8Array[];
  /** The frames in lowercase hex, for readable expectations. */
  hex: string[];
  /** The error the run ended with, if any. */
  error: FeedError | undefined;
  /** `decoder.buffered` when the run stopped. */
  buffered: number;
  /** `decoder.inFrame` when the run stopped. */
  inFrame: boolean;
}

/** How a run cuts the input into chunks. */
export type Chunking = 'whole' | 'bytewise' | 'random';

/** Options of {@link feed}. */
export interface FeedOptions {
  /** Bytes appended after the input that must remain buffered (a partial frame). */
  trailing?: Uint8Array;
  /** Seed of the random chunking (default 1). */
  seed?: number;
  /** Largest random chunk (default 16). */
  maxChunk?: number;
  /** Call `end()` after the input (default true). */
  end?: boolean;
}

/** The result of {@link feed}: the agreed outcome plus each run's own outcome. */
export interface FeedResult extends FeedOutcome {
  runs: Record<Chunking, FeedOutcome>;
}

/** A small seeded PRNG (mulberry32): returns floats in [0, 1). */
export { seededRandom };

/** Lowercase hex of `bytes`. */
export function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('hex');
}

/** Bytes from a hex string (spaces ignored). */
export function fromHex(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text.replace(/\s+/g, ''), 'hex'));
}

/** Bytes of a latin1/ASCII string. */
export function ascii(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, 'latin1'));
}

/** Concatenates byte arrays. */
export function concat(parts: readonly Uint8Array[]): Uint8Array {
  const total = parts.reduce((sum, part) => sum + part.length, 0);
  const out = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** Cuts `input` into chunks (views, no copies) the given way. */
export function chunk(
  input: Uint8Array,
  chunking: Chunking,
  seed = 1,
  maxChunk = 16,
): Uint8Array[] {
  if (chunking === 'whole') {
    return [input];
  }
  const chunks: Uint8Array[] = [];
  if (chunking === 'bytewise') {
    for (let index = 0; index < input.length; index++) {
      chunks.push(input.subarray(index, index + 1));
    }
    return chunks;
  }
  const random = seededRandom(seed);
  let offset = 0;
  while (offset < input.length) {
    // Mostly small chunks, sometimes an empty one (decoders must ignore it).
    const size = random() < 0.05 ? 0 : 1 + Math.floor(random() * maxChunk);
    chunks.push(input.subarray(offset, offset + size));
    offset += size;
  }
  return chunks;
}

function describeError(error: unknown): FeedError {
  if (error instanceof FrameError || error instanceof UnexpectedEofError) {
    return {
      code: error.code,
      offset: error.offset,
      name: error.name,
      message: error.message,
      error,
    };
  }
  // Anything else escaping a decoder is a bug (types.ts): let the test fail loudly.
  throw error;
}

/**
 * Pushes `chunks` into `decoder`, draining `next()` after each push, then calls
 * `end()` (unless `end` is false) and drains again. Bounded: a decoder that returns
 * more frames than the input could hold fails the test.
 */
export function feedChunks(
  decoder: Decoder,
  chunks: readonly Uint8Array[],
  end = true,
): FeedOutcome {
  const frames: Uint8Array[] = [];
  const totalBytes = chunks.reduce((sum, part) => sum + part.length, 0);
  const frameBound = totalBytes + 2;
  let error: FeedError | undefined;
  const drain = (): void => {
    for (let frame = decoder.next(); frame !== NEED_DATA; frame = decoder.next()) {
      frames.push(frame);
      if (frames.length > frameBound) {
        throw new Error(`decoder returned more than ${frameBound} frames for ${totalBytes} bytes`);
      }
    }
  };
  try {
    for (const part of chunks) {
      decoder.push(part);
      drain();
    }
    if (end) {
      decoder.end();
      drain();
    }
  } catch (caught) {
    error = describeError(caught);
  }
  if (error !== undefined) {
    // Sticky: every later call rethrows the same error object.
    const failed = error.error;
    expectRethrows(() => decoder.next(), failed, 'next()');
    expectRethrows(() => decoder.end(), failed, 'end()');
    expectRethrows(() => decoder.push(new Uint8Array(1)), failed, 'push()');
  }
  return {
    frames,
    hex: frames.map(hex),
    error,
    buffered: decoder.buffered,
    inFrame: decoder.inFrame,
  };
}

/** Checks that `call` throws exactly `expected`. */
function expectRethrows(call: () => unknown, expected: Error, label: string): void {
  let thrown: unknown;
  try {
    call();
  } catch (caught) {
    thrown = caught;
  }
  assert.equal(thrown, expected, `${label} after a failure must rethrow the same error`);
}

function sameOutcome(left: FeedOutcome, right: FeedOutcome): boolean {
  if (left.error?.code !== right.error?.code || left.error?.offset !== right.error?.offset) {
    return false;
  }
  if (left.hex.length !== right.hex.length) {
    return false;
  }
  return left.hex.every((frame, index) => frame === right.hex[index]);
}

function summary(outcome: FeedOutcome): unknown {
  return {
    hex: outcome.hex,
    code: outcome.error?.code,
    offset: outcome.error?.offset,
  };
}

/**
 * Decodes `input` three ways (whole, byte by byte, seeded random chunks), checks
 * that they agree and that `trailing` bytes stay buffered, and returns the outcome.
 */
export function feed(
  makeDecoder: () => Decoder,
  input: Uint8Array,
  options: FeedOptions = {},
): FeedResult {
  const seed = options.seed ?? 1;
  const end = options.end ?? true;
  const runs = {
    whole: feedChunks(makeDecoder(), chunk(input, 'whole'), end),
    bytewise: feedChunks(makeDecoder(), chunk(input, 'bytewise'), end),
    random: feedChunks(makeDecoder(), chunk(input, 'random', seed, options.maxChunk), end),
  };
  // Cheap comparison first: the fuzz suite calls this hundreds of thousands of times.
  if (!sameOutcome(runs.bytewise, runs.whole)) {
    assert.deepEqual(
      summary(runs.bytewise),
      summary(runs.whole),
      'one byte at a time vs whole input',
    );
  }
  if (!sameOutcome(runs.random, runs.whole)) {
    assert.deepEqual(
      summary(runs.random),
      summary(runs.whole),
      `random chunks (seed ${seed}) vs whole input`,
    );
  }
  const trailing = options.trailing;
  if (trailing !== undefined && runs.whole.error === undefined) {
    const withTrailing = concat([input, trailing]);
    for (const chunking of ['whole', 'bytewise', 'random'] as const) {
      const decoder = makeDecoder();
      const outcome = feedChunks(
        decoder,
        chunk(withTrailing, chunking, seed, options.maxChunk),
        false,
      );
      const label: string = `${chunking} with ${trailing.length} trailing bytes`;
      assert.equal(outcome.error, undefined, label);
      assert.deepEqual(outcome.hex, runs.whole.hex, label);
      assert.equal(outcome.buffered, trailing.length, `${label}: buffered`);
      assert.equal(outcome.inFrame, trailing.length > 0, `${label}: inFrame`);
    }
  }
  return { ...runs.whole, runs };
}

/** Encodes each payload with `encode` and concatenates the wire bytes. */
export function encodeAll(
  encode: (payload: Uint8Array) => Uint8Array[],
  payloads: readonly Uint8Array[],
): Uint8Array {
  return concat(payloads.flatMap((payload) => encode(payload)));
}
