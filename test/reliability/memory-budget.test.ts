/**
 * The server-wide input budget (`maxBufferedInputTotal`, issue #14 item 3) over real
 * loopback, in every dispatch model: many connections each holding an unfinished
 * frame below the per-connection limit, together over a small budget. The largest
 * holder is cut with SB_MEMORY_BUDGET, everyone else (and a canary) keeps being
 * served, and the bytes accounted return to 0 once the connections have gone,
 * whether they completed their frames, closed or reset.
 *
 * Also: no decoder sizes a buffer from what a header merely claims.
 */
import type * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { parseFraming } from '../../src/codec/spec.js';
import type { Decoder } from '../../src/codec/types.js';
import { isSwitchboardError } from '../../src/errors.js';
import { encodeProxyHeader, PROXY_V2_SIGNATURE } from '../../src/server/proxy-protocol.js';
import type { Server } from '../../src/server/server.js';
import { Tracker, until } from '../server/helpers.js';

const tracker = new Tracker();
afterEach(() => tracker.cleanup());

const KiB = 1024;
const MiB = 1024 * KiB;
/** Waits (bounded) in this file allow for processes workers reporting every 250 ms. */
const WAIT_MS = 10_000;
/** Bytes each unfinished frame lacks. */
const REST = 50 * KiB;

function lengthHeader(length: number): Buffer {
  const header = Buffer.alloc(4);
  header.writeUInt32BE(length);
  return header;
}

/** Writes a `length:u32be` header claiming `claimed` bytes, then `bodyBytes` of body. */
/**
 * What a connection holding `sent` body bytes of a `claimed`-byte u32be frame counts in
 * the budget: the bytes received, or, once half of a large frame (64 KiB or more) has
 * arrived, the whole buffer the decoder assembles it in (codec/byte-queue.ts, #15).
 */
function heldFor(claimed: number, sent: number): number {
  const wire = 4 + claimed;
  const received = 4 + sent;
  return wire >= 64 * KiB && received * 2 >= wire ? wire : received;
}

function startFrame(socket: net.Socket, claimed: number, bodyBytes: number): void {
  socket.write(lengthHeader(claimed));
  socket.write(Buffer.alloc(bodyBytes, 0x62));
}

/** Counts what a raw socket receives, and whether the server closed it. */
function watch(socket: net.Socket): { received: number; closed: boolean } {
  const state = { received: 0, closed: false };
  socket.on('data', (chunk: Buffer) => {
    state.received += chunk.length;
  });
  socket.on('close', () => {
    state.closed = true;
  });
  return state;
}

async function canaryEcho(server: Server, canary: Awaited<ReturnType<Tracker['channel']>>) {
  await canary.send('still here');
  const reply = await canary.receive({ timeout: WAIT_MS });
  expect(Buffer.from(reply!).toString()).toBe('still here');
  void server;
}

describe.each(['loop', 'threads', 'processes'] as const)('input budget, %s', (dispatch) => {
  it('cuts the largest unfinished frame with SB_MEMORY_BUDGET; others and a canary keep being served; accounting returns to 0 after completes, closes and resets', async () => {
    const budget = 1 * MiB;
    const server = await tracker.server({
      handler: 'echo',
      framing: 'length:u32be',
      dispatch,
      workers: 1, // processes: the one worker's share is the whole budget
      maxFrame: 1 * MiB,
      maxBufferedInputTotal: budget,
    });
    const canary = await tracker.channel(server.address, 'length:u32be');
    await canaryEcho(server, canary);

    // Four partial frames below maxFrame, 972,816 bytes together with the room reserved
    // for their rest: under the budget. Each header claims REST more bytes than sent,
    // so completing two later fits.
    const sizes = [300 * KiB, 100 * KiB, 200 * KiB, 150 * KiB];
    const holders: net.Socket[] = [];
    let expected = 0;
    for (const size of sizes) {
      const socket = await tracker.socket(server.address);
      startFrame(socket, size + REST, size);
      holders.push(socket);
      expected += heldFor(size + REST, size);
      await until(() => server.metrics.bufferedInput === expected, WAIT_MS).catch(() => {
        throw new Error(`bufferedInput ${server.metrics.bufferedInput}, expected ${expected}`);
      });
    }
    const states = holders.map(watch);
    expect(server.metrics.errors.SB_MEMORY_BUDGET ?? 0).toBe(0);

    // A fifth pushes the total past the budget; it is not the largest, so it stays.
    const pusher = await tracker.socket(server.address);
    const pusherState = watch(pusher);
    startFrame(pusher, 290 * KiB + REST, 290 * KiB);
    await until(() => states[0]!.closed, WAIT_MS);
    expected =
      expected - heldFor(sizes[0]! + REST, sizes[0]!) + heldFor(290 * KiB + REST, 290 * KiB);
    await until(() => server.metrics.bufferedInput === expected, WAIT_MS).catch(() => {
      throw new Error(`bufferedInput ${server.metrics.bufferedInput}, expected ${expected}`);
    });
    expect(server.metrics.bufferedInput).toBeLessThanOrEqual(budget);
    await until(() => server.metrics.errors.SB_MEMORY_BUDGET === 1, WAIT_MS);
    expect(states.slice(1).every((state) => !state.closed)).toBe(true);
    expect(pusherState.closed).toBe(false);
    await canaryEcho(server, canary);

    // Holder 1 completes its frame and gets it back whole; holder 2 closes (FIN)
    // mid-frame, holder 3 resets; the pusher completes too.
    holders[1]!.write(Buffer.alloc(REST, 0x63));
    pusher.write(Buffer.alloc(REST, 0x63));
    await until(() => states[1]!.received === 4 + sizes[1]! + REST, WAIT_MS);
    await until(() => pusherState.received === 4 + 290 * KiB + REST, WAIT_MS);
    holders[2]!.end();
    holders[3]!.resetAndDestroy();
    await until(() => server.metrics.bufferedInput === 0, WAIT_MS);
    await canaryEcho(server, canary);
    expect(server.metrics.errors.SB_MEMORY_BUDGET).toBe(1);

    holders[1]!.destroy();
    pusher.destroy();
    canary.destroy();
    await until(() => server.connections === 0, WAIT_MS);
    expect(server.metrics.bufferedInput).toBe(0);
  });
});

/** A PROXY v2 header's first 16 bytes: PROXY, TCP over IPv4, claiming `length` bytes after them. */
function proxyV2Fixed(length: number): Buffer {
  const fixed = Buffer.alloc(16);
  fixed.set(PROXY_V2_SIGNATURE);
  fixed[12] = 0x21;
  fixed[13] = 0x11;
  fixed.writeUInt16BE(length, 14);
  return fixed;
}

describe.each(['loop', 'processes'] as const)('input budget, PROXY headers, %s', (dispatch) => {
  it('a header still being read counts, and the largest is cut with SB_MEMORY_BUDGET', async () => {
    // Before, a header's bytes were outside the budget: 10,000 peers each holding most
    // of a 64 KiB v2 header held 640 MiB past a 256 MiB maxBufferedInputTotal.
    const budget = 160 * KiB;
    const server = await tracker.server({
      handler: 'echo',
      framing: 'line',
      dispatch,
      workers: 1,
      proxyProtocol: true,
      maxBufferedInputTotal: budget,
    });
    const canary = await tracker.socket(server.address);
    const canaryState = watch(canary);
    canary.write(encodeProxyHeader({ version: 2, command: 'local' }));
    canary.write('still here\n');
    await until(() => canaryState.received === 'still here\n'.length, WAIT_MS);

    const sizes = [60 * KiB, 40 * KiB, 50 * KiB];
    const holders: net.Socket[] = [];
    let expected = 0;
    for (const size of sizes) {
      const socket = await tracker.socket(server.address);
      socket.write(proxyV2Fixed(0xffff));
      socket.write(Buffer.alloc(size, 0x70));
      holders.push(socket);
      expected += 16 + size;
      await until(() => server.metrics.bufferedInput === expected, WAIT_MS).catch(() => {
        throw new Error(`bufferedInput ${server.metrics.bufferedInput}, expected ${expected}`);
      });
    }
    const states = holders.map(watch);
    // A fourth passes the budget: the largest header (the first) is cut, the rest stay.
    const pusher = await tracker.socket(server.address);
    const pusherState = watch(pusher);
    pusher.write(proxyV2Fixed(0xffff));
    pusher.write(Buffer.alloc(30 * KiB, 0x70));
    await until(() => states[0]!.closed, WAIT_MS);
    await until(() => server.metrics.errors.SB_MEMORY_BUDGET === 1, WAIT_MS);
    expected = expected - (16 + sizes[0]!) + 16 + 30 * KiB;
    await until(() => server.metrics.bufferedInput === expected, WAIT_MS).catch(() => {
      throw new Error(`bufferedInput ${server.metrics.bufferedInput}, expected ${expected}`);
    });
    expect(states.slice(1).every((state) => !state.closed)).toBe(true);
    expect(pusherState.closed).toBe(false);
    canary.write('again\n');
    await until(() => canaryState.received === 'still here\nagain\n'.length, WAIT_MS);

    for (const socket of [...holders, pusher]) {
      socket.destroy();
    }
    await until(() => server.metrics.bufferedInput === 0, WAIT_MS);
  });
});

describe('input budget, what counts', () => {
  it('frames a handler has not received yet and unread socket bytes count, and are released when it ends', async () => {
    let release: () => void = () => undefined;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    const server = await tracker.server({
      framing: 'length:u32be',
      handler: async () => {
        await released; // never reads
      },
    });
    const socket = await tracker.socket(server.address);
    // 3 MiB of whole frames: the channel queues 1 MiB of them, its socket buffers
    // ~1 MiB more, then the kernel holds the rest (flow control).
    const frame = Buffer.concat([lengthHeader(64 * KiB), Buffer.alloc(64 * KiB, 0x64)]);
    for (let index = 0; index < 48; index++) {
      socket.write(frame);
    }
    await until(() => server.metrics.bufferedInput >= 2 * MiB, WAIT_MS);
    expect(server.metrics.bufferedInput).toBeLessThan(3 * MiB);
    release();
    await until(() => server.connections === 0, WAIT_MS);
    expect(server.metrics.bufferedInput).toBe(0);
  });

  it('threads: frames handed to the pool count until answered, and a connection holding too many is cut', async () => {
    const server = await tracker.server({
      framing: 'length:u32be',
      dispatch: 'threads',
      workers: 1,
      handler: new URL('./fixtures/holding-frame-handler.ts', import.meta.url).pathname,
      maxBufferedInputTotal: 1 * MiB,
    });
    const frame = new Uint8Array(100 * KiB).fill(0x68);
    const client = await tracker.channel(server.address, 'length:u32be');
    for (let index = 0; index < 6; index++) {
      await client.send(frame);
    }
    await until(() => server.metrics.bufferedInput === 6 * 100 * KiB, WAIT_MS);
    await client.send('release');
    for (let index = 0; index < 7; index++) {
      expect(await client.receive({ timeout: WAIT_MS })).not.toBeNull();
    }
    await until(() => server.metrics.bufferedInput === 0, WAIT_MS);

    // 11 unanswered frames are more than the budget: this connection is cut.
    for (let index = 0; index < 11; index++) {
      await client.send(frame);
    }
    // The server just closes: the client sees an end (FIN) or a reset (bytes unread).
    const outcome = await client.receive({ timeout: WAIT_MS }).then(
      (message) => message,
      (error: unknown) => error,
    );
    expect(outcome === null || isSwitchboardError(outcome)).toBe(true);
    expect(isSwitchboardError(outcome, 'SB_TIMEOUT')).toBe(false);
    await until(() => server.metrics.errors.SB_MEMORY_BUDGET === 1, WAIT_MS);
    const other = await tracker.channel(server.address, 'length:u32be');
    await other.send('release'); // frees the cut connection's frames in the worker too
    expect(Buffer.from((await other.receive({ timeout: WAIT_MS }))!).toString()).toBe('released');
    await until(() => server.metrics.bufferedInput === 0, WAIT_MS);
  });

  it('processes: each worker enforces its share, floor(total / workers)', async () => {
    const server = await tracker.server({
      handler: 'echo',
      framing: 'length:u32be',
      dispatch: 'processes',
      workers: 2,
      maxBufferedInputTotal: 2 * MiB, // 1 MiB per worker
    });
    const canary = await tracker.channel(server.address, 'length:u32be');
    await canaryEcho(server, canary);
    // 1.5 MiB of one unfinished frame: within the total, over one worker's share.
    const socket = await tracker.socket(server.address);
    const state = watch(socket);
    startFrame(socket, 2 * MiB, 1536 * KiB);
    await until(() => state.closed, WAIT_MS);
    await until(() => server.metrics.errors.SB_MEMORY_BUDGET === 1, WAIT_MS);
    await canaryEcho(server, canary);
  });

  it('validates maxBufferedInputTotal', async () => {
    await expect(tracker.server({ handler: 'echo', maxBufferedInputTotal: 0 })).rejects.toThrow(
      /maxBufferedInputTotal/,
    );
    await expect(
      tracker.server({ handler: 'echo', maxBufferedInputTotal: 1.5 as number }),
    ).rejects.toMatchObject({ code: 'SB_BAD_OPTION' });
  });
});

describe('decoders never size a buffer from a header', () => {
  const claimed = 8 * MiB;
  const cases: { spec: string; header: Buffer; decoder: () => Decoder }[] = [
    { spec: 'length:u32be', header: lengthHeader(claimed), decoder: fromSpec('length:u32be') },
    {
      spec: 'length:u64le',
      header: Buffer.from([0, 0, 0x80, 0, 0, 0, 0, 0]),
      decoder: fromSpec('length:u64le'),
    },
    { spec: 'varint', header: Buffer.from([0x80, 0x80, 0x80, 0x04]), decoder: fromSpec('varint') },
    { spec: 'digits:7', header: Buffer.from(String(claimed)), decoder: fromSpec('digits:7') },
    { spec: 'netstring', header: Buffer.from(`${claimed}:`), decoder: fromSpec('netstring') },
    {
      spec: 'content-length',
      header: Buffer.from(`Content-Length: ${claimed}\r\n\r\n`),
      decoder: fromSpec('content-length'),
    },
    {
      spec: 'tagged:01=length:u32be',
      header: Buffer.concat([Buffer.from([1]), lengthHeader(claimed - 1)]),
      decoder: fromSpec('tagged:01=length:u32be'),
    },
    {
      spec: 'sbp',
      header: Buffer.concat([lengthHeader(claimed), Buffer.from([0])]),
      decoder: () => parseFraming('sbp').createDecoder(),
    },
  ];

  function fromSpec(spec: string): () => Decoder {
    return () => parseFraming(spec).createDecoder();
  }

  it.each(cases)(
    '$spec: 200 decoders told of 8 MiB frames hold only what arrived',
    ({ header, decoder }) => {
      const before = process.memoryUsage().arrayBuffers;
      const decoders: Decoder[] = [];
      for (let index = 0; index < 200; index++) {
        const instance = decoder();
        instance.push(new Uint8Array(header));
        instance.push(new Uint8Array([0x65]));
        expect(typeof instance.next()).toBe('symbol'); // NEED_DATA
        expect(instance.buffered).toBe(header.length + 1);
        decoders.push(instance);
      }
      // Sized from the header, 200 of them would hold 1.6 GiB.
      expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(16 * MiB);
      expect(decoders).toHaveLength(200);
    },
  );
});
