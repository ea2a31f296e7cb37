/**
 * The bad-input catalog (bad-inputs.cases.ts) against real echo servers on loopback.
 *
 * For every case:
 * - the offending connection is closed by the server, and the server reports the
 *   expected code for it: on `switchboard:frame:error` / `switchboard:connection:close`
 *   (matched by the client's port) and in `metrics.errors`;
 * - valid edge cases are echoed byte for byte and close cleanly (code null);
 * - a well-behaved client on the same server keeps echoing before, during and after;
 * - the server's heap + array buffers grow by less than {@link PEAK_BOUND} during the
 *   case (sampled every 5 ms) and keep less than {@link RETAINED_BOUND} after a GC.
 *
 * Cases that share framing and options share one server (one `describe`); the cases of
 * a server run one after another so memory and metric deltas belong to one case.
 * Time-based cases move an injected manual clock (never real sleeps for timing).
 * Set SB_RELIABILITY_REPORT=path to write the per-case results as JSON.
 */
import { writeFileSync } from 'node:fs';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseFraming } from '../../src/codec/spec.js';
import { type Decoder, type Framing, NEED_DATA } from '../../src/codec/types.js';
import {
  type ConnectionCloseMessage,
  diagnosticChannels,
  type FrameErrorMessage,
} from '../../src/diagnostics.js';
import type { ErrorCode } from '../../src/errors.js';
import { encodeProxyHeader } from '../../src/server/proxy-protocol.js';
import { createServer, type Server } from '../../src/server/server.js';
import { hasOpenssl, makeCerts, type TestCerts } from '../helpers/certs.js';
import { hostPort, ManualClock, until } from '../server/helpers.js';
import { BAD_INPUT_CASES, type BadInputCase, type Peer } from './bad-inputs.cases.js';

/** Peak growth of heapUsed + arrayBuffers while a case runs. */
const PEAK_BOUND = 32 * 2 ** 20;
/** Growth left after the case and a full GC. */
const RETAINED_BOUND = 8 * 2 ** 20;
const MiB = 2 ** 20;

setFlagsFromString('--expose_gc');
const gc = runInNewContext('gc') as () => void;
async function collectGarbage(): Promise<void> {
  for (let pass = 0; pass < 3; pass++) {
    gc();
    await new Promise((resolve) => setImmediate(resolve));
  }
}
const memoryNow = (): number => {
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.arrayBuffers;
};
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** How long a case's observation may take before it fails, ms. */
const OBSERVE_MS = 8000;

// ---- server-side observations -------------------------------------------------------
const frameErrors: FrameErrorMessage[] = [];
const connectionCloses: ConnectionCloseMessage[] = [];
const unsubscribers = [
  diagnosticChannels.frameError.subscribe((message) => frameErrors.push(message)),
  diagnosticChannels.connectionClose.subscribe((message) => connectionCloses.push(message)),
];
const byPort = (port: number) => (message: { remoteAddress: string }) =>
  message.remoteAddress.endsWith(`:${port}`);

/**
 * The code the server reported for the client on `port`: frame:error first, else
 * connection:close. Only messages published since the case began count (the OS reuses
 * client ports, so an earlier case's connection may have had the same one).
 */
function reportedCode(port: number, since: CaseMark): ErrorCode | null | undefined {
  const failed = frameErrors.slice(since.frameErrors).find(byPort(port));
  if (failed !== undefined) {
    return failed.code;
  }
  const closed = connectionCloses.slice(since.connectionCloses).find(byPort(port));
  return closed === undefined ? undefined : closed.code;
}

/** How many diagnostics messages had arrived when a case began. */
interface CaseMark {
  frameErrors: number;
  connectionCloses: number;
}

// ---- the well-behaved client ------------------------------------------------------
/**
 * Echoes numbered frames in a loop over a raw socket and the framing's own codec, until
 * stopped. Any mismatch, error or close is recorded as `failure`.
 */
class GoodClient {
  echoes = 0;
  failure: Error | null = null;
  #running = true;
  #decoder: Decoder;
  #waiting: ((frame: Uint8Array | Error) => void) | null = null;
  #frames: Uint8Array[] = [];
  readonly #loop: Promise<void>;

  constructor(
    readonly socket: net.Socket,
    readonly framing: Framing,
  ) {
    this.#decoder = framing.createDecoder();
    socket.on('data', (chunk: Buffer) => {
      try {
        this.#decoder.push(chunk);
        for (let frame = this.#decoder.next(); frame !== NEED_DATA; frame = this.#decoder.next()) {
          this.#frames.push(Buffer.from(frame));
        }
      } catch (error) {
        this.#fail(error as Error);
      }
      this.#wake();
    });
    socket.on('error', (error) => this.#fail(error));
    socket.on('close', () => this.#fail(new Error('good client: connection closed by server')));
    this.#loop = this.#run();
  }

  #fail(error: Error): void {
    if (this.#running && this.failure === null) {
      this.failure = error;
    }
    this.#waiting?.(error);
    this.#waiting = null;
  }

  #wake(): void {
    const frame = this.#frames.shift();
    if (frame !== undefined && this.#waiting !== null) {
      const waiting = this.#waiting;
      this.#waiting = null;
      waiting(frame);
    } else if (frame !== undefined) {
      this.#frames.unshift(frame);
    }
  }

  #payload(sequence: number): Uint8Array {
    const spec = this.framing.spec;
    if (spec.startsWith('tagged')) {
      const body = Buffer.alloc(5);
      body[0] = 0x01;
      body.writeUInt32BE(sequence, 1);
      return body;
    }
    const text = `good ${sequence}`;
    const fixed = /^fixed:(\d+)$/.exec(spec);
    return Buffer.from(fixed === null ? text : text.padEnd(Number(fixed[1]), '.'));
  }

  async #run(): Promise<void> {
    const encoder = this.framing.createEncoder();
    for (let sequence = 0; this.#running && this.failure === null; sequence++) {
      const payload = this.#payload(sequence);
      for (const part of encoder.encode(payload)) {
        this.socket.write(part);
      }
      const reply = await new Promise<Uint8Array | Error>((resolve) => {
        this.#waiting = resolve;
        this.#wake();
      });
      if (reply instanceof Error) {
        return;
      }
      if (!Buffer.from(payload).equals(Buffer.from(reply))) {
        this.#fail(new Error(`good client: echo ${sequence} differs from what was sent`));
        return;
      }
      this.echoes += 1;
      await sleep(2);
    }
  }

  /** Resolves after `count` more echoes (throws when the client failed). */
  async more(count: number, what: string): Promise<void> {
    const target = this.echoes + count;
    await until(() => this.echoes >= target || this.failure !== null, OBSERVE_MS, what);
    if (this.failure !== null) {
      throw this.failure;
    }
  }

  async stop(): Promise<void> {
    this.#running = false;
    this.#waiting?.(new Error('stopped'));
    await this.#loop;
    this.socket.destroy();
  }
}

// ---- grouping and servers -------------------------------------------------------------
const opensslAvailable = hasOpenssl();
if (!opensslAvailable) {
  console.warn('skipping the TLS bad-input cases: the openssl CLI (test certificates) is missing');
}
let certs: TestCerts | undefined;

function groupKey(entry: BadInputCase): string {
  const options = JSON.stringify(entry.serverOptions ?? {}, (_key, value: unknown) =>
    typeof value === 'function' ? `fn:${(value as { name: string }).name}` : value,
  );
  const extras = [entry.fakeClock ? 'manual clock' : '', entry.tls ? 'tls' : '']
    .filter((extra) => extra !== '')
    .join(', ');
  return `${entry.framing} ${options === '{}' ? '' : options}${extras === '' ? '' : ` [${extras}]`}`.trim();
}

const groups = new Map<string, BadInputCase[]>();
for (const entry of BAD_INPUT_CASES) {
  const key = groupKey(entry);
  groups.set(key, [...(groups.get(key) ?? []), entry]);
}

/** What one case measured (written to SB_RELIABILITY_REPORT). */
interface CaseResult {
  name: string;
  framing: string;
  expected: ErrorCode | null;
  observed: (ErrorCode | null | undefined)[];
  metricDelta: number;
  peakMiB: number;
  retainedMiB: number;
  goodEchoesDuring: number;
}
const results: CaseResult[] = [];
afterAll(() => {
  for (const unsubscribe of unsubscribers) {
    unsubscribe();
  }
  certs?.cleanup();
  const path = process.env.SB_RELIABILITY_REPORT;
  if (path !== undefined && path !== '') {
    writeFileSync(path, `${JSON.stringify(results, null, 2)}\n`);
  }
  const peak = Math.max(0, ...results.map((result) => result.peakMiB));
  console.info(
    `bad inputs: ${results.length} cases, largest peak growth ${peak.toFixed(1)} MiB (bound ${PEAK_BOUND / MiB} MiB)`,
  );
});

for (const [key, cases] of groups) {
  const first = cases[0]!;
  const needsTls = first.tls === true;
  describe.skipIf(needsTls && !opensslAvailable)(key, () => {
    let server: Server;
    let good: GoodClient;
    let clock: ManualClock | null = null;
    const offenders = new Set<net.Socket>();
    const received = new Map<net.Socket, { chunks: Buffer[]; closed: boolean; port: number }>();
    const framing =
      typeof first.serverOptions?.framing === 'object'
        ? first.serverOptions.framing
        : parseFraming(
            first.framing,
            first.serverOptions?.maxFrame ? { maxFrame: first.serverOptions.maxFrame } : {},
          );
    const { host, port } = { host: '127.0.0.1', port: 0 };

    beforeAll(async () => {
      if (needsTls && certs === undefined) {
        certs = makeCerts();
      }
      clock = first.fakeClock === true ? new ManualClock() : null;
      server = await createServer({
        listen: `${host}:${port}`,
        handler: 'echo',
        framing: first.framing,
        ...first.serverOptions,
        ...(clock === null ? {} : { clock }),
        ...(needsTls ? { tls: { cert: certs!.server.cert, key: certs!.server.key } } : {}),
      });
      const target = hostPort(server.address);
      const socket = needsTls
        ? tls.connect({ host: target.host, port: target.port, ca: certs!.ca })
        : net.connect(target.port, target.host);
      await new Promise<void>((resolve, reject) => {
        socket.once(needsTls ? 'secureConnect' : 'connect', () => resolve());
        socket.once('error', reject);
      });
      socket.setNoDelay(true);
      if (first.serverOptions?.proxyProtocol === true) {
        socket.write(encodeProxyHeader({ version: 2, command: 'local' }));
      }
      good = new GoodClient(socket, framing);
      await good.more(3, 'the good client echoes before the cases');
    });

    afterAll(async () => {
      await good?.stop();
      for (const socket of offenders) {
        socket.destroy();
      }
      await server?.close({ timeout: 1000 });
    });

    const peer: Peer = {
      async connect() {
        const target = hostPort(server.address);
        const socket = net.connect(target.port, target.host);
        socket.setNoDelay(true);
        const record = { chunks: [] as Buffer[], closed: false, port: -1 };
        received.set(socket, record);
        offenders.add(socket);
        socket.on('data', (chunk: Buffer) => record.chunks.push(chunk));
        socket.on('error', () => undefined);
        socket.on('close', () => {
          record.closed = true;
        });
        await new Promise<void>((resolve, reject) => {
          socket.once('connect', resolve);
          socket.once('error', reject);
        });
        record.port = socket.localPort!;
        return socket;
      },
      write(socket, data) {
        return new Promise<void>((resolve) => {
          if (socket.destroyed) {
            resolve();
            return;
          }
          socket.write(data, () => resolve());
        });
      },
      async advance(ms) {
        if (clock === null) {
          throw new Error('advance() needs a case with fakeClock');
        }
        const step = 250;
        for (let moved = 0; moved < ms; moved += step) {
          clock.advance(Math.min(step, ms - moved));
          // The good client talks between steps, so only the offender goes quiet.
          await good.more(1, 'the good client echoes while the clock moves');
        }
      },
      settle: (ms = 10) => sleep(ms),
      seen(socket) {
        const record = received.get(socket)!;
        return { data: Buffer.concat(record.chunks), closed: record.closed };
      },
      async closed(socket, limitMs = OBSERVE_MS) {
        const record = received.get(socket)!;
        await until(() => record.closed, limitMs, 'the connection is closed');
      },
    };

    for (const entry of cases) {
      it(entry.name, async () => {
        await collectGarbage();
        const baseline = memoryNow();
        let peak = baseline;
        const sampler = setInterval(() => {
          peak = Math.max(peak, memoryNow());
        }, 5);
        const mark: CaseMark = {
          frameErrors: frameErrors.length,
          connectionCloses: connectionCloses.length,
        };
        const errorsBefore = server.metrics.errors[entry.expectedCode ?? 'SB_INTERNAL'] ?? 0;
        const echoesBefore = good.echoes;
        let victims: net.Socket[];
        try {
          const behaviour = entry.behaviour;
          if (behaviour.kind === 'bytes') {
            const socket = await peer.connect();
            for (const [index, chunk] of behaviour.chunks.entries()) {
              if (index > 0 && (behaviour.gapMs ?? 0) > 0) {
                await sleep(behaviour.gapMs!);
              }
              await peer.write(socket, chunk);
            }
            if (behaviour.end !== 'hold' && (behaviour.gapMs ?? 0) > 0) {
              await sleep(behaviour.gapMs!);
            }
            if (behaviour.end === 'fin') {
              socket.end();
            } else if (behaviour.end === 'rst') {
              socket.resetAndDestroy();
            }
            victims = [socket];
          } else {
            victims = (await behaviour.run(peer)).offenders;
          }
          expect(victims.length).toBeGreaterThanOrEqual(entry.minOffenders ?? 1);

          const observed: (ErrorCode | null | undefined)[] = [];
          for (const socket of victims) {
            const localPort = received.get(socket)!.port;
            if (entry.expectedCode === null) {
              const expected = Buffer.from(entry.expectedReply ?? new Uint8Array());
              await until(
                () => peer.seen(socket).data.length >= expected.length,
                OBSERVE_MS,
                'the valid input is echoed',
              );
              expect(peer.seen(socket).data.equals(expected)).toBe(true);
              socket.end();
            }
            // The client sees its connection closed (by the server, or by its own RST/FIN).
            await peer.closed(socket);
            if (entry.observedVia !== 'metrics') {
              await until(
                () => reportedCode(localPort, mark) !== undefined,
                OBSERVE_MS,
                `the server reports the connection on port ${localPort}`,
              );
              observed.push(reportedCode(localPort, mark));
            }
          }
          if (entry.expectedCode !== null) {
            await until(
              () =>
                (server.metrics.errors[entry.expectedCode!] ?? 0) - errorsBefore >= victims.length,
              OBSERVE_MS,
              `metrics.errors.${entry.expectedCode} grows by ${victims.length}`,
            );
          }
          const metricDelta =
            (server.metrics.errors[entry.expectedCode ?? 'SB_INTERNAL'] ?? 0) - errorsBefore;
          if (entry.observedVia === 'metrics') {
            observed.push(metricDelta >= victims.length ? entry.expectedCode : undefined);
          }
          for (const code of observed) {
            expect(code).toBe(entry.expectedCode);
          }
          // The good client kept echoing during the case, and goes on after it.
          const during = good.echoes - echoesBefore;
          await good.more(3, 'the good client echoes after the case');
          expect(good.failure).toBeNull();
          // No connection leaks: only the good client is left being served.
          await until(() => server.connections === 1, OBSERVE_MS, 'only the good client remains');

          clearInterval(sampler);
          victims.length = 0;
          await collectGarbage();
          const retained = memoryNow() - baseline;
          const peakGrowth = peak - baseline;
          results.push({
            name: entry.name,
            framing: entry.framing,
            expected: entry.expectedCode,
            observed,
            metricDelta,
            peakMiB: Math.max(0, peakGrowth) / MiB,
            retainedMiB: retained / MiB,
            goodEchoesDuring: during,
          });
          expect(peakGrowth).toBeLessThan(PEAK_BOUND);
          expect(retained).toBeLessThan(RETAINED_BOUND);
        } finally {
          clearInterval(sampler);
        }
      });
    }
  });
}
