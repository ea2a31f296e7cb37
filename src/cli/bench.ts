/**
 * `switchboard bench`: a load generator against an echo server.
 *
 * Theory of operation: each of `--connections` connections runs one loop that
 * keeps `--pipeline` requests outstanding: it writes as many frames as there
 * are free slots (in one write), then reads replies; every reply completes the
 * oldest outstanding request (echo servers answer in order), and its latency
 * (write to reply, `performance.now()`) goes into a shared histogram. At the end
 * of `--duration` no new requests start; outstanding ones are drained (each
 * read bounded by {@link REPLY_TIMEOUT_MS}) so that every counted message was
 * answered.
 *
 * The histogram is log-linear in microseconds (32 sub-buckets per power of
 * two, about 3 % resolution), so memory stays constant however long the run.
 * `--self` starts an in-process echo server on 127.0.0.1:0 (the switchboard
 * server's `echo` handler) and benchmarks it.
 */
import { performance } from 'node:perf_hooks';
import {
  ConnectionError,
  connect,
  createServer,
  type Framing,
  formatAddress,
  InvalidArgumentError,
  NEED_DATA,
  parseAddress,
  type Socket,
  TimeoutError,
} from '../index.js';
import {
  booleanFlag,
  type CommandSpec,
  FRAMING_FLAG,
  framingFromArgs,
  integerFlag,
  stringFlag,
  UsageError,
} from './args.js';
import { EXIT, stdout } from './output.js';

/** A reply must arrive within this long, or the target is not an echo server. */
const REPLY_TIMEOUT_MS = 5000;
/** How often the progress line on a TTY is refreshed. */
const PROGRESS_INTERVAL_MS = 500;
/** What a run does without --connections, --size, --duration, --pipeline (help states them). */
const RUN_DEFAULTS = Object.freeze({ connections: 1, size: 64, durationSec: 5, pipeline: 1 });

/** Log-linear latency histogram in microseconds. */
export class LatencyHistogram {
  static readonly #SUB_BUCKETS = 32;
  static readonly #LINEAR_LIMIT = 64;
  readonly #counts = new Float64Array(64 + 40 * 32);
  #total = 0;
  #sum = 0;
  #max = 0;

  /** Records one latency in microseconds. */
  record(micros: number): void {
    const value = Math.max(0, Math.round(micros));
    const index = LatencyHistogram.#index(value);
    this.#counts[index] = (this.#counts[index] ?? 0) + 1;
    this.#total += 1;
    this.#sum += value;
    if (value > this.#max) {
      this.#max = value;
    }
  }

  /** Number of samples. */
  get count(): number {
    return this.#total;
  }

  /** Mean in microseconds (0 when empty). */
  get mean(): number {
    return this.#total === 0 ? 0 : this.#sum / this.#total;
  }

  /** Largest sample in microseconds. */
  get max(): number {
    return this.#max;
  }

  /** The value (µs, bucket midpoint, capped at max) at quantile `q` in [0, 1]. */
  quantile(q: number): number {
    if (this.#total === 0) {
      return 0;
    }
    const rank = Math.max(1, Math.ceil(q * this.#total));
    let seen = 0;
    for (let index = 0; index < this.#counts.length; index += 1) {
      seen += this.#counts[index] ?? 0;
      if (seen >= rank) {
        return Math.min(this.#max, LatencyHistogram.#midpoint(index));
      }
    }
    return this.#max;
  }

  static #index(value: number): number {
    if (value < LatencyHistogram.#LINEAR_LIMIT) {
      return value;
    }
    const exponent = Math.min(45, Math.floor(Math.log2(value)));
    const sub = Math.floor(value / 2 ** (exponent - 5)) - LatencyHistogram.#SUB_BUCKETS;
    return (
      LatencyHistogram.#LINEAR_LIMIT +
      (exponent - 6) * LatencyHistogram.#SUB_BUCKETS +
      Math.min(31, sub)
    );
  }

  static #midpoint(index: number): number {
    if (index < LatencyHistogram.#LINEAR_LIMIT) {
      return index;
    }
    const exponent =
      Math.floor((index - LatencyHistogram.#LINEAR_LIMIT) / LatencyHistogram.#SUB_BUCKETS) + 6;
    const sub = (index - LatencyHistogram.#LINEAR_LIMIT) % LatencyHistogram.#SUB_BUCKETS;
    const width = 2 ** (exponent - 5);
    return (LatencyHistogram.#SUB_BUCKETS + sub) * width + width / 2;
  }
}

/** What `bench --json` prints (one line). */
export interface BenchReport {
  address: string;
  framing: string;
  connections: number;
  size: number;
  pipeline: number;
  durationSec: number;
  messages: number;
  msgsPerSec: number;
  /** Payload bytes echoed per second, one way, in MB (10^6 bytes). */
  mbPerSec: number;
  latencyMs: { p50: number; p99: number; p999: number; mean: number; max: number };
}

interface RunState {
  /** False once the duration is over: no new requests start. */
  running: boolean;
  messages: number;
  readonly histogram: LatencyHistogram;
}

/** The `bench` command. */
export const command: CommandSpec = {
  name: 'bench',
  usage:
    'bench ADDR|--self --framing SPEC [--connections N] [--size B] [--duration S]\n' +
    '                   [--pipeline N] [--json]',
  description:
    'Sends --size byte messages over --connections connections to an echo server at ADDR\n' +
    '(or, with --self, to an in-process `serve --mode echo`) for --duration seconds, keeping\n' +
    '--pipeline requests in flight per connection, and reports msgs/s, MB/s (payload, one\n' +
    'way, 10^6 bytes) and latency percentiles p50/p99/p999. A progress line is shown on a\n' +
    'terminal only.',
  flags: [
    {
      name: 'self',
      type: 'boolean',
      description: 'benchmark an in-process echo server on 127.0.0.1:0',
    },
    { ...FRAMING_FLAG, description: 'framing, e.g. line, length:u16be (required)' },
    {
      name: 'connections',
      short: 'c',
      type: 'string',
      value: 'N',
      description: `concurrent connections (default ${RUN_DEFAULTS.connections})`,
    },
    {
      name: 'size',
      short: 's',
      type: 'string',
      value: 'B',
      description: `payload bytes per message (default ${RUN_DEFAULTS.size}; k/m suffixes allowed)`,
    },
    {
      name: 'duration',
      short: 'd',
      type: 'string',
      value: 'S',
      description: `seconds to run, decimals allowed (default ${RUN_DEFAULTS.durationSec})`,
    },
    {
      name: 'pipeline',
      short: 'p',
      type: 'string',
      value: 'N',
      description: `requests in flight per connection (default ${RUN_DEFAULTS.pipeline})`,
    },
    { name: 'json', type: 'boolean', description: 'print the result as one JSON object on stdout' },
  ],
  positionals: { min: 0, max: 1, name: 'ADDR' },
  examples: [
    'bench --self --framing length --size 64 --duration 3',
    'bench 127.0.0.1:7000 --framing line --connections 8 --pipeline 16 --json',
  ],
  async run({ args, signal }) {
    const self = booleanFlag(args, 'self');
    const target = args.positionals[0];
    if (self === (target !== undefined)) {
      throw new UsageError('bench: give ADDR or --self (exactly one)');
    }
    const framing = framingFromArgs(args, command);
    const connections =
      integerFlag(args, command, 'connections', { min: 1, max: 10_000 }) ??
      RUN_DEFAULTS.connections;
    const size = integerFlag(args, command, 'size', { kind: 'bytes' }) ?? RUN_DEFAULTS.size;
    const pipeline =
      integerFlag(args, command, 'pipeline', { min: 1, max: 100_000 }) ?? RUN_DEFAULTS.pipeline;
    const durationText = stringFlag(args, command, 'duration') ?? String(RUN_DEFAULTS.durationSec);
    const duration = Number(durationText);
    if (!/^\d+(\.\d+)?$/.test(durationText) || !(duration > 0)) {
      throw new UsageError(
        `bench: --duration must be a positive number of seconds, got '${durationText}'`,
      );
    }
    const json = booleanFlag(args, 'json');
    if (size > framing.maxFrame) {
      // Checked before allocating: a size of 99999999999 is no typed array (RangeError),
      // and 2000000000 would allocate 2 GB only for the framing to refuse it.
      throw new UsageError(
        `bench: --size ${size} does not fit the framing: larger than maxFrame ${framing.maxFrame}`,
      );
    }
    const payload = new Uint8Array(size).fill(0x78);
    let frame: Uint8Array;
    try {
      frame = Buffer.concat(framing.createEncoder().encode(payload));
    } catch (error) {
      if (error instanceof InvalidArgumentError) {
        throw new UsageError(`bench: --size ${size} does not fit the framing: ${error.message}`);
      }
      throw error;
    }
    const server = self ? await startEchoServer(framing) : undefined;
    // The report names the address as formatAddress spells it (`tcp://HOST:PORT`), given or not.
    const address = server?.address ?? formatAddress(parseAddress(target as string));
    try {
      const report = await runBench({
        address,
        framing,
        frame,
        connections,
        pipeline,
        duration,
        size,
        json,
        signal,
      });
      if (json) {
        await stdout.line(JSON.stringify(report));
      } else {
        await stdout.write(formatReport(report));
      }
    } finally {
      await server?.close();
    }
    return EXIT.ok;
  },
};

async function runBench(options: {
  address: string;
  framing: Framing;
  frame: Uint8Array;
  connections: number;
  pipeline: number;
  duration: number;
  size: number;
  json: boolean;
  signal: AbortSignal;
}): Promise<BenchReport> {
  const sockets = await Promise.all(
    Array.from({ length: options.connections }, () =>
      connect(options.address, { signal: options.signal }),
    ),
  );
  const state: RunState = { running: true, messages: 0, histogram: new LatencyHistogram() };
  const started = performance.now();
  const stopTimer = setTimeout(() => {
    state.running = false;
  }, options.duration * 1000);
  const onAbort = (): void => {
    state.running = false;
  };
  options.signal.addEventListener('abort', onAbort, { once: true });
  const progress =
    !options.json && process.stderr.isTTY === true ? startProgress(state, started) : undefined;
  try {
    await Promise.all(
      sockets.map((socket) =>
        driveConnection(socket, options.framing, options.frame, options.pipeline, state),
      ),
    );
  } finally {
    clearTimeout(stopTimer);
    options.signal.removeEventListener('abort', onAbort);
    progress?.stop();
    await Promise.all(sockets.map((socket) => socket.close({ timeout: 1000 })));
  }
  const elapsedSec = (performance.now() - started) / 1000;
  const histogram = state.histogram;
  const msgsPerSec = state.messages / elapsedSec;
  const toMs = (micros: number): number => Math.round(micros) / 1000;
  return {
    address: options.address,
    framing: options.framing.spec,
    connections: options.connections,
    size: options.size,
    pipeline: options.pipeline,
    durationSec: Math.round(elapsedSec * 1000) / 1000,
    messages: state.messages,
    msgsPerSec: Math.round(msgsPerSec),
    mbPerSec: Math.round((msgsPerSec * options.size) / 1e4) / 100,
    latencyMs: {
      p50: toMs(histogram.quantile(0.5)),
      p99: toMs(histogram.quantile(0.99)),
      p999: toMs(histogram.quantile(0.999)),
      mean: toMs(histogram.mean),
      max: toMs(histogram.max),
    },
  };
}

/** One connection's request/reply loop (see the module comment). */
async function driveConnection(
  socket: Socket,
  framing: Framing,
  frame: Uint8Array,
  pipeline: number,
  state: RunState,
): Promise<void> {
  const decoder = framing.createDecoder();
  // Send times of outstanding requests, oldest first (a ring of `pipeline` slots).
  const sentAt = new Float64Array(pipeline);
  let head = 0;
  let outstanding = 0;
  const batch = Buffer.concat(Array.from({ length: pipeline }, () => frame));
  while (state.running || outstanding > 0) {
    if (state.running && outstanding < pipeline) {
      const free = pipeline - outstanding;
      const now = performance.now();
      for (let slot = 0; slot < free; slot += 1) {
        sentAt[(head + outstanding + slot) % pipeline] = now;
      }
      outstanding += free;
      await socket.sendAll(batch.subarray(0, free * frame.byteLength));
    }
    let chunk: Uint8Array;
    try {
      chunk = await socket.recv(256 * 1024, { timeout: REPLY_TIMEOUT_MS });
    } catch (error) {
      if (error instanceof TimeoutError) {
        throw new TimeoutError(
          'SB_TIMEOUT',
          `bench: no reply within ${REPLY_TIMEOUT_MS} ms (is the target an echo server?)`,
        );
      }
      throw error;
    }
    if (chunk.byteLength === 0) {
      decoder.end();
      throw new ConnectionError(
        'SB_CONNECTION_CLOSED',
        'bench: the server closed the connection during the run',
      );
    }
    decoder.push(chunk);
    const now = performance.now();
    for (;;) {
      const reply = decoder.next();
      if (reply === NEED_DATA) {
        break;
      }
      if (outstanding === 0) {
        // Not an answer to anything we sent (a greeting, a broadcast): not a sample.
        continue;
      }
      state.histogram.record((now - (sentAt[head] ?? now)) * 1000);
      head = (head + 1) % pipeline;
      outstanding -= 1;
      state.messages += 1;
    }
  }
}

function startProgress(state: RunState, started: number): { stop(): void } {
  const timer = setInterval(() => {
    const seconds = (performance.now() - started) / 1000;
    const rate = Math.round(state.messages / seconds);
    process.stderr.write(
      `\r${seconds.toFixed(1)} s  ${state.messages} msgs  ${rate} msgs/s  p99 ${(state.histogram.quantile(0.99) / 1000).toFixed(3)} ms\u001b[K`,
    );
  }, PROGRESS_INTERVAL_MS);
  return {
    stop() {
      clearInterval(timer);
      process.stderr.write('\r\u001b[K');
    },
  };
}

function formatReport(report: BenchReport): string {
  const latency = report.latencyMs;
  return [
    `bench ${report.address} framing ${report.framing}: ${report.connections} connection(s), ${report.size} B payload, pipeline ${report.pipeline}, ${report.durationSec} s`,
    `messages  ${report.messages}`,
    `msgs/s    ${report.msgsPerSec}`,
    `MB/s      ${report.mbPerSec}`,
    `latency   p50 ${latency.p50} ms  p99 ${latency.p99} ms  p999 ${latency.p999} ms  mean ${latency.mean} ms  max ${latency.max} ms`,
    '',
  ].join('\n');
}

/** An in-process `serve --mode echo` for `--self`, on 127.0.0.1:0. */
async function startEchoServer(
  framing: Framing,
): Promise<{ address: string; close(): Promise<void> }> {
  const server = await createServer({ listen: '127.0.0.1:0', framing, handler: 'echo' });
  return {
    address: server.address,
    close: () => server.close({ timeout: 1000 }),
  };
}
