/**
 * The fault matrix (issue #7): framings × network faults, between a client Channel and
 * a switchboard echo server (createServer, handler 'echo', 127.0.0.1 port 0) through a
 * FaultProxy. The rows and columns are data (faults-matrix.ts): every framing on the
 * `loop` dispatch, then `length:u32be` on `threads` and `processes`. Each row has one
 * server; each cell its own proxy and client, seeded by the cell, and starts once the
 * earlier cells' connections are closed.
 *
 * Theory of operation
 * -------------------
 * The client sends MESSAGES numbered payloads (6 ASCII digits of sequence number, then
 * seeded random bytes; printable ASCII for `line`), at most WINDOW unanswered at a
 * time, and records every echo in arrival order. Invariants, in every cell:
 * 1. Nothing acknowledged is lost, duplicated or reordered: the echoed sequence numbers
 *    are exactly 0..k-1, and echo i is byte for byte the payload i that was sent.
 * 2. A fault that keeps the byte stream intact (slicing, latency + jitter, bandwidth)
 *    loses nothing: k = MESSAGES, and the server decoded exactly MESSAGES frames in
 *    the cell (metrics.framesIn).
 * 3. A destructive fault (reset, blackhole, half-open) surfaces as a SwitchboardError
 *    with one of the cell's expected codes, before the hang guard (HANG_GUARD_MS, far
 *    above any expected time: it only turns a hang into a failure, it measures nothing);
 *    afterwards the same server echoes on a fresh connection.
 *
 * Mid-stream faults (blackhole, half-open) are added after BEFORE_FAULT messages were
 * echoed and nothing is in flight, so exactly BEFORE_FAULT are acknowledged. The resets
 * and the graceful close cut one direction in the middle of frame RESET_AT, so at most
 * RESET_AT are acknowledged (a RST may also discard echoes the client had not read yet).
 *
 * How each destructive fault is detected (no hangs):
 * - reset (either direction): the RST itself (`SB_CONNECTION_RESET`), or the cut frame
 *   at EOF (`SB_UNEXPECTED_EOF`) when the client reads the proxy's FIN before its RST;
 * - graceful close mid-frame: the cut frame at end of input (`SB_UNEXPECTED_EOF`);
 * - blackhole (both directions, FIN dropped too): the Channel's own `idleTimeout`
 *   (`SB_IDLE_TIMEOUT`, sticky, the connection is destroyed); `sbp`: the heartbeat
 *   (`SB_PEER_UNRESPONSIVE`);
 * - half-open (server → client held, nothing closed): the reply deadline
 *   `receive({ timeout })` (`SB_TIMEOUT`; the channel stays usable), and then, since the
 *   connection was only silent, removing the fault must deliver every held echo in
 *   order (k = MESSAGES); `sbp`: the heartbeat (`SB_PEER_UNRESPONSIVE`).
 */
import { writeFileSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { encodeEnvelope, SbpType, sbpFraming } from '../../src/codec/sbp.js';
import { parseFraming } from '../../src/codec/spec.js';
import { type ErrorCode, SwitchboardError } from '../../src/errors.js';
import { type Channel, type OpenChannelOptions, openChannel } from '../../src/net/channel.js';
import { createServer, type Server } from '../../src/server/server.js';
import { type Fault, FaultProxy } from '../../src/testing/index.js';
import { until } from '../helpers/until.js';
import { seededRandom } from '../server/helpers.js';
import {
  BANDWIDTH,
  BEFORE_FAULT,
  type CellOutcome,
  CLIENT_IDLE_TIMEOUT_MS,
  cellName,
  cellSeed,
  expectedCodes,
  FAULT_KINDS,
  HANG_GUARD_MS,
  HEARTBEAT,
  LATENCY,
  MATRIX_ROWS,
  type MatrixFraming,
  type MatrixRow,
  MESSAGES,
  REPLY_DEADLINE_MS,
  RESET_AT,
  rowLabel,
  SLICE,
  WINDOW,
} from './faults-matrix.js';

const SEQUENCE_DIGITS = 6;

const range = (count: number): number[] => Array.from({ length: count }, (_, index) => index);

/** Seeded payloads: sequence number in SEQUENCE_DIGITS ASCII digits, then 0..48 random bytes. */
function makePayloads(framing: MatrixFraming, seed: number): Uint8Array[] {
  const random = seededRandom(seed);
  return range(MESSAGES).map((sequence) => {
    const size = Math.floor(random() * 49);
    const body = Buffer.alloc(SEQUENCE_DIGITS + size);
    body.write(String(sequence).padStart(SEQUENCE_DIGITS, '0'), 'latin1');
    for (let at = SEQUENCE_DIGITS; at < body.length; at++) {
      // `line` cannot carry LF (and strips a trailing CR): printable ASCII only.
      body[at] = framing === 'line' ? 0x20 + Math.floor(random() * 95) : Math.floor(random() * 256);
    }
    return body;
  });
}

/** Bytes on the wire per payload, so that a fault can cut at an exact frame position. */
function wireSizes(framing: MatrixFraming, payloads: Uint8Array[]): number[] {
  const encode =
    framing === 'sbp'
      ? (payload: Uint8Array) => encodeEnvelope(SbpType.DATA, 0, payload)
      : (payload: Uint8Array) => parseFraming(framing).createEncoder().encode(payload);
  return payloads.map((payload) => encode(payload).reduce((sum, part) => sum + part.length, 0));
}

/** A client that sends numbered payloads and records every echo, in arrival order. */
class SequencedClient {
  /** Sequence numbers of the echoes, in arrival order. */
  readonly acked: number[] = [];
  /** Echoes whose bytes differ from the payload sent with that position. */
  readonly mismatches: string[] = [];
  sent = 0;

  constructor(
    readonly channel: Channel,
    readonly payloads: Uint8Array[],
  ) {}

  /**
   * Sends and receives until `count` echoes arrived; resolves with the error that stopped
   * it (undefined when all arrived). Each receive waits at most `replyTimeout` ms.
   */
  async exchange(count: number, replyTimeout: number): Promise<unknown> {
    try {
      while (this.acked.length < count) {
        while (this.sent < count && this.sent - this.acked.length < WINDOW) {
          await this.channel.send(this.payloads[this.sent]!);
          this.sent += 1;
        }
        const echo = await this.channel.receive({ timeout: replyTimeout });
        if (echo === null) {
          return new Error(`clean end of input after ${this.acked.length} echoes (no error)`);
        }
        this.record(echo);
      }
      return undefined;
    } catch (error) {
      return error;
    }
  }

  private record(echo: Uint8Array): void {
    const position = this.acked.length;
    const sequence = Number(
      Buffer.from(echo.subarray(0, SEQUENCE_DIGITS)).toString('latin1') || Number.NaN,
    );
    this.acked.push(sequence);
    const expected = this.payloads[position];
    if (expected === undefined || !Buffer.from(expected).equals(Buffer.from(echo))) {
      this.mismatches.push(
        `echo ${position} (sequence ${sequence}) differs from payload ${position}`,
      );
    }
  }
}

/** Rejects when `work` has not settled within HANG_GUARD_MS. */
async function guarded<T>(work: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(
      () => reject(new Error(`hang: ${what} did not finish within ${HANG_GUARD_MS} ms`)),
      HANG_GUARD_MS,
    );
  });
  try {
    return await Promise.race([work, hang]);
  } finally {
    clearTimeout(timer);
  }
}

/** The error is a SwitchboardError whose code is one of `codes`. */
function expectCode(error: unknown, codes: readonly ErrorCode[]): void {
  expect(error, 'the fault must surface as a SwitchboardError').toBeInstanceOf(SwitchboardError);
  expect(codes).toContain((error as SwitchboardError).code);
}

// ---- servers (one per row) and per-cell resources ---------------------------------------
const proxies: FaultProxy[] = [];
const channels: Channel[] = [];

afterEach(async () => {
  for (const channel of channels.splice(0)) {
    channel.destroy();
  }
  await Promise.all(proxies.splice(0).map((proxy) => proxy.close()));
});

/** The row's echo server. */
function startServer(row: MatrixRow): Promise<Server> {
  return createServer({
    listen: '127.0.0.1:0',
    handler: 'echo',
    // createServer takes spec strings of src/codec only; the sbp Framing object puts the
    // server's channels in envelope mode (PINGs answered, DATA echoed).
    framing: row.framing === 'sbp' ? sbpFraming() : row.framing,
    dispatch: row.dispatch,
    ...(row.dispatch === 'loop' ? {} : { workers: 2 }),
  });
}

interface Cell {
  framing: MatrixFraming;
  server: Server;
  proxy: FaultProxy;
  payloads: Uint8Array[];
  wire: number[];
  /** server.metrics.framesIn when the cell started (no connection open). */
  framesBefore: number;
  /** A SequencedClient on a channel through the proxy. */
  open(extra?: Omit<OpenChannelOptions, 'framing'>): Promise<SequencedClient>;
}

async function startCell(row: MatrixRow, server: Server, seed: number): Promise<Cell> {
  // Earlier cells' connections are gone (their counts merged, even from worker processes).
  await until(
    () => server.connections === 0,
    HANG_GUARD_MS,
    'hang: the earlier cells’ connections close',
  );
  const proxy = await FaultProxy.start({ target: server.address.replace(/^tcp:\/\//, ''), seed });
  proxies.push(proxy);
  const payloads = makePayloads(row.framing, seed);
  return {
    framing: row.framing,
    server,
    proxy,
    payloads,
    wire: wireSizes(row.framing, payloads),
    framesBefore: server.metrics.framesIn,
    async open(extra = {}) {
      const channel = await openChannel(proxy.address, {
        framing: row.framing,
        trackLeaks: false,
        ...extra,
      });
      channels.push(channel);
      return new SequencedClient(channel, payloads);
    },
  };
}

/** Invariant 1: the echoes are exactly 0..k-1, each byte for byte what was sent. */
function expectPrefix(client: SequencedClient, count: number): void {
  expect(client.acked).toEqual(range(count));
  expect(client.mismatches).toEqual([]);
}

/** Invariant 2: everything echoed, and the server decoded each message exactly once. */
async function expectEverythingEchoed(cell: Cell, client: SequencedClient): Promise<void> {
  const error = await guarded(client.exchange(MESSAGES, HANG_GUARD_MS), 'the exchange');
  expect(error).toBeUndefined();
  expectPrefix(client, MESSAGES);
  // Worker processes report their counts now and then: wait for all of them, then
  // check for extras. Before close(): in sbp mode the CLOSE envelope is a frame too.
  const framesIn = (): number => cell.server.metrics.framesIn - cell.framesBefore;
  await until(() => framesIn() >= MESSAGES, HANG_GUARD_MS, 'hang: the server counts every frame');
  expect(framesIn()).toBe(MESSAGES);
  await guarded(client.channel.close(), 'close');
}

/** After a destructive fault, the same server echoes on a fresh, direct connection. */
async function expectServerStillServes(cell: Cell): Promise<void> {
  const channel = await openChannel(cell.server.address, {
    framing: cell.framing,
    trackLeaks: false,
  });
  channels.push(channel);
  const fresh = new SequencedClient(channel, cell.payloads);
  expect(await guarded(fresh.exchange(3, HANG_GUARD_MS), 'a fresh connection')).toBeUndefined();
  expectPrefix(fresh, 3);
}

/** Sends BEFORE_FAULT messages and waits for their echoes: nothing in flight afterwards. */
async function warmUp(client: SequencedClient): Promise<void> {
  expect(await guarded(client.exchange(BEFORE_FAULT, HANG_GUARD_MS), 'the warm-up')).toBe(
    undefined,
  );
  expectPrefix(client, BEFORE_FAULT);
}

/** How a column runs a cell; resolves with what the client saw. */
type ColumnRun = (
  cell: Cell,
  codes: readonly ErrorCode[],
) => Promise<Pick<CellOutcome, 'acknowledged' | 'code' | 'acknowledgedAfterRecovery'>>;

/** A fault that keeps the stream intact, present from the first byte in both directions. */
function transparent(fault: Fault): ColumnRun {
  return async (cell) => {
    cell.proxy.addFault('both', fault);
    await expectEverythingEchoed(cell, await cell.open());
    return { acknowledged: MESSAGES, code: null };
  };
}

/**
 * Cuts one direction in the middle of the frame with sequence RESET_AT (the messages
 * and their echoes have the same size on the wire), with a reset or a graceful close.
 */
function cutMidFrame(
  direction: 'upstream' | 'downstream',
  type: 'resetAfter' | 'closeAfter',
): ColumnRun {
  return async (cell, codes) => {
    const budget =
      cell.wire.slice(0, RESET_AT).reduce((sum, size) => sum + size, 0) +
      Math.floor(cell.wire[RESET_AT]! / 2);
    cell.proxy.addFault(direction, { type, bytes: budget });
    const client = await cell.open();
    const error = await guarded(client.exchange(MESSAGES, HANG_GUARD_MS), 'the exchange');
    expectCode(error, codes);
    // The cut frame never counts (upstream: the server never decodes it); a RST may
    // also discard echoes not read yet.
    expect(client.acked.length).toBeLessThanOrEqual(RESET_AT);
    expectPrefix(client, client.acked.length);
    const { resets, gracefulCloses } = cell.proxy.stats;
    expect(type === 'resetAfter' ? resets : gracefulCloses).toBe(1);
    await expectServerStillServes(cell);
    return { acknowledged: client.acked.length, code: (error as SwitchboardError).code };
  };
}

/** How each column of FAULT_KINDS runs, by name. */
const COLUMN_RUNS: Record<string, ColumnRun> = {
  '1-byte slicing': transparent(SLICE),
  'latency+jitter': transparent(LATENCY),
  'bandwidth cap': transparent(BANDWIDTH),
  'reset mid-stream': cutMidFrame('downstream', 'resetAfter'),
  'reset mid-request': cutMidFrame('upstream', 'resetAfter'),
  'close mid-frame': cutMidFrame('downstream', 'closeAfter'),
  async blackhole(cell, codes) {
    const sbp = cell.framing === 'sbp';
    const client = await cell.open(
      sbp ? { heartbeat: HEARTBEAT } : { idleTimeout: CLIENT_IDLE_TIMEOUT_MS },
    );
    await warmUp(client);
    cell.proxy.addFault('both', { type: 'blackhole' });
    const error = await guarded(client.exchange(MESSAGES, HANG_GUARD_MS), 'the exchange');
    expectCode(error, codes);
    expect(client.channel.error, 'the failure is sticky').toBe(error);
    expectPrefix(client, BEFORE_FAULT);
    expect(cell.proxy.stats.bytesDropped).toBeGreaterThan(0);
    await expectServerStillServes(cell);
    return { acknowledged: BEFORE_FAULT, code: (error as SwitchboardError).code };
  },
  async 'half-open'(cell, codes) {
    const sbp = cell.framing === 'sbp';
    const client = await cell.open(sbp ? { heartbeat: HEARTBEAT } : {});
    await warmUp(client);
    const fault = cell.proxy.addFault('downstream', { type: 'halfOpen' });
    const error = await guarded(
      client.exchange(MESSAGES, sbp ? HANG_GUARD_MS : REPLY_DEADLINE_MS),
      'the exchange',
    );
    expectCode(error, codes);
    expectPrefix(client, BEFORE_FAULT);
    const outcome = { acknowledged: BEFORE_FAULT, code: (error as SwitchboardError).code };
    if (sbp) {
      await expectServerStillServes(cell);
      return outcome;
    }
    // Only silent, not broken: once the path heals, every held echo arrives in order.
    expect(client.channel.error).toBeUndefined();
    cell.proxy.removeFault(fault);
    await expectEverythingEchoed(cell, client);
    await expectServerStillServes(cell);
    return { ...outcome, acknowledgedAfterRecovery: client.acked.length };
  },
};

const outcomes: CellOutcome[] = [];
afterAll(() => {
  const path = process.env.SB_FAULTS_REPORT;
  if (path !== undefined && path !== '') {
    writeFileSync(path, `${JSON.stringify(outcomes, null, 2)}\n`);
  }
});

describe('fault matrix: framing × fault through a FaultProxy to an echo server', () => {
  it('every column of FAULT_KINDS has a run', () => {
    expect(Object.keys(COLUMN_RUNS).sort()).toEqual(FAULT_KINDS.map((kind) => kind.name).sort());
  });

  for (const [rowIndex, row] of MATRIX_ROWS.entries()) {
    describe(rowLabel(row), () => {
      let server: Server;
      beforeAll(async () => {
        server = await startServer(row);
      });
      afterAll(async () => {
        await server?.close({ timeout: 1000 });
      });

      for (const [column, kind] of FAULT_KINDS.entries()) {
        const seed = cellSeed(rowIndex, column);
        it(`${cellName(row, kind)} (seed ${seed})`, async () => {
          const cell = await startCell(row, server, seed);
          const started = performance.now();
          const outcome = await COLUMN_RUNS[kind.name]!(cell, expectedCodes(row.framing, kind));
          const elapsedMs = Math.round(performance.now() - started);
          outcomes.push({
            row: rowLabel(row),
            framing: row.framing,
            fault: kind.name,
            seed,
            ...outcome,
            elapsedMs,
          });
        });
      }
    });
  }
});
