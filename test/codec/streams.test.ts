/**
 * Stream adapters of the codecs (#17): web TransformStreams (decodeStream/encodeStream)
 * and async iterables (decode/encode). For every framing, a file read with
 * fs.createReadStream through decodeStream gives exactly the frames the one feed()
 * helper gets from the same bytes; errors keep their codes; a slow consumer pauses
 * the source (counted pulls, no timing).
 */
import { createReadStream, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { parseFraming } from '../../src/codec/spec.js';
import { decode, decodeStream, encode, encodeStream } from '../../src/codec/streams.js';
import type { Framing } from '../../src/codec/types.js';
import { FrameError, InvalidArgumentError, UnexpectedEofError } from '../../src/errors.js';
import { feed, hex, seededRandom } from '../helpers/feed.js';

const dir = mkdtempSync(join(tmpdir(), 'sb-streams-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Every framing kind, with argument variants. */
const SPECS = [
  'line',
  'line:crlf',
  'delim:00',
  'delim:0d0a',
  'fixed:4',
  'length',
  'length:u8',
  'length:u16le',
  'length:u24',
  'length:u64be',
  'digits:4',
  'varint',
  'netstring',
  'tagged:01=4,02=length:u16be',
  'eof',
  'mllp',
  'content-length',
] as const;

/** Seeded payloads the framing's encoder accepts (fixed sizes and type bytes where needed). */
function payloadsFor(framing: Framing, seed: number): Uint8Array[] {
  const random = seededRandom(seed);
  const probe = framing.createEncoder();
  const count = framing.spec === 'eof' ? 1 : 40;
  const payloads: Uint8Array[] = [];
  for (let attempt = 0; payloads.length < count && attempt < 10_000; attempt++) {
    const length = framing.spec === 'fixed:4' ? 4 : Math.floor(random() * 300);
    const payload = Uint8Array.from({ length }, () => Math.floor(random() * 256));
    if (framing.spec.startsWith('tagged:')) {
      if (random() < 0.5) {
        payloads.push(Uint8Array.of(0x01, 1, 2, 3, 4));
        continue;
      }
      payload[0] = 0x02;
      if (payload.length === 0) {
        continue;
      }
    }
    try {
      framing.createEncoder().encode(payload);
      probe.encode(payload);
    } catch {
      // Not carried by this framing (a delimiter inside, too many digits, ...): draw again.
      continue;
    }
    payloads.push(payload);
  }
  expect(payloads.length).toBe(count);
  return payloads;
}

function wireOf(framing: Framing, payloads: readonly Uint8Array[]): Uint8Array {
  const encoder = framing.createEncoder();
  return Buffer.concat(payloads.flatMap((payload) => encoder.encode(payload)));
}

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of iterable) {
    items.push(item);
  }
  return items;
}

function webFileStream(path: string, highWaterMark: number): ReadableStream<Uint8Array> {
  return Readable.toWeb(createReadStream(path, { highWaterMark })) as ReadableStream<Uint8Array>;
}

describe('a file through decodeStream equals feed() of its bytes, for every framing', () => {
  SPECS.forEach((spec, index) => {
    it(spec, async () => {
      const framing = parseFraming(spec);
      const payloads = payloadsFor(framing, 100 + index);
      const wire = wireOf(framing, payloads);
      const file = join(dir, `wire-${index}.bin`);
      writeFileSync(file, wire);

      const expected = feed(() => framing.createDecoder(), wire);
      expect(expected.error).toBeUndefined();
      expect(expected.hex).toEqual(payloads.map(hex));

      // Small read chunks so frames and headers straddle chunk boundaries.
      const viaWeb = await collect(webFileStream(file, 7).pipeThrough(decodeStream(spec)));
      expect(viaWeb.map(hex)).toEqual(expected.hex);
      const viaIterable = await collect(decode(createReadStream(file, { highWaterMark: 5 }), spec));
      expect(viaIterable.map(hex)).toEqual(expected.hex);
      // A Framing object works as the spec does.
      const viaFraming = await collect(decode([wire], framing));
      expect(viaFraming.map(hex)).toEqual(expected.hex);

      // The encoders give back the same bytes.
      const encodedWeb = await collect(
        ReadableStream.from(payloads).pipeThrough(encodeStream(spec)),
      );
      expect(hex(Buffer.concat(encodedWeb))).toBe(hex(wire));
      const encodedIterable = await collect(encode(payloads, spec));
      expect(hex(Buffer.concat(encodedIterable))).toBe(hex(wire));
    });
  });
});

describe('errors keep their codes', () => {
  it('a frame over maxFrame errors the web stream and the iterable with SB_FRAME_TOO_LARGE', async () => {
    const bytes = Uint8Array.of(0x05, 1, 2, 3, 4, 5);
    const web = ReadableStream.from([bytes]).pipeThrough(
      decodeStream('length:u8', { maxFrame: 4 }),
    );
    const webError = await collect(web).catch((error: unknown) => error);
    expect(webError).toBeInstanceOf(FrameError);
    expect(webError).toMatchObject({ code: 'SB_FRAME_TOO_LARGE' });
    await expect(collect(decode([bytes], 'length:u8', { maxFrame: 4 }))).rejects.toMatchObject({
      code: 'SB_FRAME_TOO_LARGE',
    });
  });

  it('input ending inside a frame is SB_UNEXPECTED_EOF, after the whole frames', async () => {
    const bytes = Uint8Array.of(0x00, 0x01, 0x61, 0x00, 0x05, 0x62);
    const frames: string[] = [];
    const reader = ReadableStream.from([bytes])
      .pipeThrough(decodeStream('length:u16be'))
      .getReader();
    let failure: unknown;
    for (let round = 0; round < 10; round++) {
      try {
        const { value, done } = await reader.read();
        if (done) {
          break;
        }
        frames.push(Buffer.from(value).toString());
      } catch (error) {
        failure = error;
        break;
      }
    }
    expect(frames).toEqual(['a']);
    expect(failure).toBeInstanceOf(UnexpectedEofError);
    expect(failure).toMatchObject({ code: 'SB_UNEXPECTED_EOF' });

    const iterated: string[] = [];
    const outcome = (async () => {
      for await (const frame of decode([bytes.subarray(0, 4), bytes.subarray(4)], 'length:u16be')) {
        iterated.push(Buffer.from(frame).toString());
      }
    })();
    await expect(outcome).rejects.toMatchObject({ code: 'SB_UNEXPECTED_EOF' });
    expect(iterated).toEqual(['a']);
  });

  it('a payload the framing cannot carry is SB_PAYLOAD_TOO_LARGE; a bad spec fails at the call', async () => {
    const tooLarge = ReadableStream.from(['ok', 'x'.repeat(300)]).pipeThrough(
      encodeStream('length:u8'),
    );
    await expect(collect(tooLarge)).rejects.toMatchObject({ code: 'SB_PAYLOAD_TOO_LARGE' });
    await expect(collect(encode(['x'.repeat(300)], 'length:u8'))).rejects.toMatchObject({
      code: 'SB_PAYLOAD_TOO_LARGE',
    });
    // The line encoder's own refusal (a newline inside a payload) comes through as it is.
    const newline = ReadableStream.from(['two\nlines']).pipeThrough(encodeStream('line'));
    await expect(collect(newline)).rejects.toBeInstanceOf(InvalidArgumentError);
    const computed: string = 'lenght:u32be';
    expect(() => decodeStream(computed)).toThrow(
      expect.objectContaining({ code: 'SB_BAD_FRAMING_SPEC' }),
    );
    expect(() => decode([], computed)).toThrow(
      expect.objectContaining({ code: 'SB_BAD_FRAMING_SPEC' }),
    );
    expect(() => decodeStream(parseFraming('line'), { maxFrame: 10 })).toThrow(
      expect.objectContaining({ code: 'SB_BAD_OPTION' }),
    );
  });

  it("a non-bytes chunk is the caller's error, not a frame error", async () => {
    const web = ReadableStream.from([42 as unknown as Uint8Array]).pipeThrough(
      decodeStream('line'),
    );
    await expect(collect(web)).rejects.toMatchObject({ code: 'SB_INVALID_ARGUMENT' });
  });
});

/** A byte source of `total` chunks, one length:u16be frame each, counting its pulls. */
function countingSource(total: number) {
  const state = { pulls: 0 };
  const stream = new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        if (state.pulls === total) {
          controller.close();
          return;
        }
        state.pulls += 1;
        controller.enqueue(Uint8Array.of(0x00, 0x02, state.pulls & 0xff, 0x21));
      },
    },
    { highWaterMark: 0 },
  );
  return { state, stream };
}

/** Lets every queued task and promise run (a bounded number of event-loop turns). */
async function turns(count = 20): Promise<void> {
  for (let turn = 0; turn < count; turn++) {
    await new Promise((resolve) => setImmediate(resolve));
  }
}

describe('backpressure: a slow consumer pauses the source', () => {
  it('decodeStream pulls about one chunk per frame read, not the whole source', async () => {
    const total = 1000;
    const { state, stream } = countingSource(total);
    const reader = stream.pipeThrough(decodeStream('length:u16be')).getReader();
    await turns();
    const idlePulls = state.pulls;
    expect(idlePulls).toBeLessThanOrEqual(3);
    for (let read = 1; read <= 10; read++) {
      const { done } = await reader.read();
      expect(done).toBe(false);
      await turns(3);
      // Only what the pipe's small queues hold ahead of the reader.
      expect(state.pulls).toBeLessThanOrEqual(read + 3);
    }
    let frames = 10;
    for (let round = 0; round < total + 5; round++) {
      const { done } = await reader.read();
      if (done) {
        break;
      }
      frames += 1;
    }
    expect(frames).toBe(total);
    expect(state.pulls).toBe(total);
  });

  it('decode() reads the source only when the consumer wants a frame', async () => {
    let yielded = 0;
    let finished = false;
    async function* source(): AsyncGenerator<Uint8Array> {
      try {
        for (let index = 0; index < 1000; index++) {
          yielded += 1;
          yield Uint8Array.of(0x61, 0x0a, 0x62);
          yield Uint8Array.of(0x0a);
        }
      } finally {
        finished = true;
      }
    }
    const frames = decode(source(), 'line');
    expect(yielded).toBe(0);
    expect(Buffer.from((await frames.next()).value ?? []).toString()).toBe('a');
    expect(yielded).toBe(1);
    expect(Buffer.from((await frames.next()).value ?? []).toString()).toBe('b');
    expect(yielded).toBe(1);
    await frames.return();
    expect(finished).toBe(true);
    expect(yielded).toBe(1);
  });
});
