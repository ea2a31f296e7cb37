/**
 * FaultProxy: an in-process, loopback-only TCP proxy that injects network faults
 * (toxiproxy-like) between a client and a target, for use in tests.
 *
 * Theory of operation
 * -------------------
 * Every accepted client connection gets one upstream connection to the target and
 * two one-way pipes: `upstream` (client -> target) and `downstream` (target ->
 * client). Each pipe is an async pump over a FIFO queue:
 *
 *     source 'data' --> queue [chunk, arrivedAt] --> pump --> faults --> sink.write()
 *
 * Rules:
 * 1. Order is preserved per direction. One pump per pipe handles one chunk at a time;
 *    a chunk is never written before the chunk queued ahead of it.
 * 2. Latency does not accumulate. A chunk's delivery time is `arrivedAt + latency ±
 *    jitter`, raised to the previous chunk's delivery time so jitter never reorders.
 *    Queued chunks therefore wait in parallel, not one latency after another.
 * 3. Memory is bounded. When a pipe's queue holds more than `highWaterMark` bytes the
 *    source socket is paused; it resumes below half of that. When `sink.write()`
 *    returns false the pump waits for 'drain'. A slow reader therefore slows the
 *    sender, as TCP would.
 * 4. Faults are read from the proxy's fault table once per chunk, so faults can be
 *    added and removed while traffic flows. Faults of one direction compose in a
 *    fixed order, whatever order they were added in:
 *
 *      | stage        | effect                                                      |
 *      |--------------|-------------------------------------------------------------|
 *      | halfOpen     | the pipe stops reading its source and holds its queue        |
 *      | blackhole    | chunks are read and dropped; a FIN is swallowed too          |
 *      | latency      | sum of latencies; jitter drawn from the seeded PRNG          |
 *      | resetAfter / | truncate the chunk at the first budget reached, forward it,  |
 *      | closeAfter   | then RST (resetAndDestroy) or FIN (end) both sides           |
 *      | bandwidth    | smallest rate wins; pieces of ~50 ms paced by a token clock  |
 *      | slice        | smallest maxBytes wins; one write per piece, yielding between |
 *
 *    resetAfter/closeAfter budgets count bytes forwarded per connection and direction
 *    from the moment the fault applies to that connection. `timeout` drops bytes like
 *    blackhole and closes on its timer; `slowClose` delays the forwarded FIN. A reset
 *    stops both pipes, then waits RESET_AFTER_FLUSH_MS so the peer reads it as a reset.
 * 5. Determinism. Jitter comes from a PRNG seeded with `(seed, connection number,
 *    direction)`, so the n-th chunk of the k-th connection in a direction always gets
 *    the same delay for a given seed, whatever the other connections do.
 * 6. Half-close is forwarded: a FIN from one side becomes `end()` on the other once the
 *    queue ahead of it is delivered (sockets use allowHalfOpen). A socket error tears
 *    the connection down; ECONNRESET from one side becomes a RST to the other.
 * 7. Loopback only. The target and the listen address must be loopback addresses or a
 *    unix socket path; anything else is refused with InvalidArgumentError.
 * 8. Toxicity. A fault added with `toxicity` p < 1 applies to a connection direction
 *    with probability p, rolled once per pipe (as Toxiproxy rolls per link) from a PRNG
 *    seeded like the jitter's, so a seed replays which connections were affected.
 * 9. Messages. With a `framing`, each pipe runs a MessageSplitter over its source: a
 *    queued chunk is then one message's exact wire bytes (or raw bytes). While no message
 *    fault applies, partial frames are forwarded as they arrive, byte-exact, with the
 *    sender's chunking; while one applies, a partial frame waits for its end so that the
 *    fault can act on it whole. Message faults act at delivery, before the byte faults,
 *    in a fixed order: delay, truncate, drop, corrupt, duplicate. A framing error turns
 *    the direction into plain bytes for the rest of the connection (event, counter).
 */
import net from 'node:net';
import { setTimeout as timerSleep, setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { parseFraming } from '../codec/spec.js';
import type { Framing } from '../codec/types.js';
import { InvalidArgumentError } from '../errors.js';
import { listeningText } from '../net/address.js';
import { timerDelay } from '../net/clock.js';
import { resolveOptions } from '../options.js';
import {
  corruptOneBit,
  type MessageAction,
  type MessageFault,
  messageMatches,
  validateMessageFault,
} from './message-faults.js';

export type { MessageAction, MessageFault };

import { MessageSplitter, type Segment } from './message-splitter.js';
import { seededRandom } from './seeded-random.js';

/**
 * node's promise setTimeout, clamped to what a node timer holds ({@link timerDelay}):
 * a longer one would run after 1 ms, so a latency or timeout of 3e9 ms (a Toxiproxy
 * client may send any int64) would act at once.
 */
function sleep(ms: number, value: undefined, options: { signal: AbortSignal }): Promise<undefined> {
  return timerSleep(timerDelay(ms), value, options);
}

/** Which way bytes travel: `upstream` is client -> target, `downstream` is target -> client. */
export type FaultDirection = 'upstream' | 'downstream';

/** Where a fault applies. `both` applies it to each direction independently. */
export type FaultDirectionSpec = FaultDirection | 'both';

/**
 * A fault the proxy can inject. All times in ms, all sizes in bytes.
 *
 * - `latency`: delay every chunk by `ms`, plus a uniform jitter in `[-jitterMs, +jitterMs]`
 *   (never below 0, never reordering).
 * - `bandwidth`: forward at most `bytesPerSecond`.
 * - `slice`: deliver at most `maxBytes` per write (down to 1), yielding to the event loop
 *   (or waiting `delayMs`, fractions allowed) between writes so each piece leaves as its
 *   own segment. With `variationBytes`, each piece is `maxBytes ± variationBytes` (seeded),
 *   as Toxiproxy's slicer does.
 * - `resetAfter`: after `bytes` more bytes in this direction, reset (RST) both sides. With
 *   `delayMs`, the reset waits that long once the budget is reached (Toxiproxy's
 *   `reset_peer` timeout); the bytes after the budget are dropped meanwhile.
 * - `slowClose`: a FIN in this direction is forwarded `ms` late.
 * - `timeout`: drop this direction's bytes; `ms` after the fault applies to a connection,
 *   close it (FIN both ways). `ms` 0 holds the connection until the fault is removed,
 *   which closes the connections it held (Toxiproxy's `timeout`).
 * - `blackhole`: read and drop everything; the connection stays open and silent.
 * - `halfOpen`: stop forwarding (and reading) this direction without closing; bytes wait
 *   in the queue and the kernel buffers, and flow again when the fault is removed.
 * - `closeAfter`: after `bytes` more bytes in this direction, close both sides
 *   gracefully (FIN).
 */
export type Fault =
  | { type: 'latency'; ms: number; jitterMs?: number }
  | { type: 'bandwidth'; bytesPerSecond: number }
  | { type: 'slice'; maxBytes: number; delayMs?: number; variationBytes?: number }
  | { type: 'resetAfter'; bytes: number; delayMs?: number }
  | { type: 'blackhole' }
  | { type: 'halfOpen' }
  | { type: 'closeAfter'; bytes: number }
  | { type: 'slowClose'; ms: number }
  | { type: 'timeout'; ms: number }
  | MessageFault;

/** Options of {@link FaultProxy.addFault}. */
export interface AddFaultOptions {
  /**
   * Probability in [0, 1] that the fault applies to a given connection and direction,
   * rolled once per connection direction from the proxy's seed (Toxiproxy's `toxicity`,
   * rolled per link). Default 1.
   */
  toxicity?: number;
}

/** A TCP target `{ host, port }`. */
export interface FaultProxyTcpTarget {
  host: string;
  port: number;
}

/** Options of {@link FaultProxy.start}. */
export interface FaultProxyOptions {
  /**
   * Where the proxy listens, `HOST:PORT` or `[v6]:PORT` on a loopback host.
   * Default `127.0.0.1:0` (a free port; read it from {@link FaultProxy.port}).
   */
  listen?: string;
  /**
   * Where connections are forwarded: `HOST:PORT`, `[v6]:PORT`, `tcp://HOST:PORT`,
   * `{ host, port }`, or a unix socket (`unix:/path` or an absolute path). Loopback only.
   */
  target: string | FaultProxyTcpTarget;
  /**
   * A framing (spec string such as `line`, or a {@link Framing}): each direction is decoded
   * with it, which message faults and {@link FaultProxyOptions.onMessage} need. Bytes are
   * still forwarded exactly as received where no message fault applies; a framing error
   * makes that direction fall back to plain bytes (event `framingError`, counted).
   */
  framing?: string | Framing;
  /**
   * Called for each whole message decoded in each direction (needs `framing`), as it
   * arrives at the proxy. Must not throw. The tap and the recorder are built on it.
   */
  onMessage?: (message: FaultProxyMessage) => void;
  /** PRNG seed for jitter. Default 1. Same seed, same jitter schedule. */
  seed?: number;
  /**
   * Bytes a pipe queues before it pauses its source socket. Default 256 KiB.
   * With latency `L` ms, a direction's throughput is capped near `highWaterMark / L`.
   */
  highWaterMark?: number;
  /** Called synchronously for each notable event (see {@link FaultProxyEvent}). Must not throw. */
  onEvent?: (event: FaultProxyEvent) => void;
}

/** A decoded message, reported through {@link FaultProxyOptions.onMessage}. */
export interface FaultProxyMessage {
  connection: number;
  direction: FaultDirection;
  /** The payload as the framing's decoder returns it. */
  payload: Uint8Array;
  /** Its size on the wire (header and delimiters included). */
  wireBytes: number;
  /**
   * True for plain bytes after this direction's framing failed (`payload` is then the
   * chunk as received): the direction is counted in bytes from then on.
   */
  raw: boolean;
}

/** Events reported through {@link FaultProxyOptions.onEvent}. `connection` numbers start at 1. */
export type FaultProxyEvent =
  | { type: 'open'; connection: number }
  | { type: 'close'; connection: number }
  | { type: 'delay'; connection: number; direction: FaultDirection; ms: number }
  | { type: 'drop'; connection: number; direction: FaultDirection; bytes: number }
  | { type: 'reset'; connection: number; direction: FaultDirection }
  | { type: 'closeAfter'; connection: number; direction: FaultDirection }
  | {
      type: 'framingError';
      connection: number;
      direction: FaultDirection;
      code: string;
      message: string;
    }
  | { type: 'message'; connection: number; direction: FaultDirection; action: MessageAction }
  | { type: 'error'; message: string };

/** Counters since the proxy started. Bytes are counted as written to the sink. */
export interface FaultProxyStats {
  /** Connections accepted in total. */
  connections: number;
  /** Connections currently open. */
  activeConnections: number;
  /** Bytes forwarded client -> target. */
  bytesUpstream: number;
  /** Bytes forwarded target -> client. */
  bytesDownstream: number;
  /** Bytes dropped by `blackhole` (and after a cut). */
  bytesDropped: number;
  /** Connections reset by `resetAfter`. */
  resets: number;
  /** Connections closed by `closeAfter`. */
  gracefulCloses: number;
  /** Connection directions whose framing failed and that fell back to plain bytes. */
  framingErrors: number;
  /** Messages a message fault acted on. */
  messagesAffected: number;
}

const DEFAULT_HIGH_WATER_MARK = 256 * 1024;
/** Bandwidth pacing granularity: each paced piece carries about this much time's worth. */
const BANDWIDTH_PIECE_MS = 50;
/** After a `closeAfter` FIN, sockets whose peer never answers with FIN are destroyed after this. */
const GRACEFUL_CLOSE_GRACE_MS = 5_000;
/**
 * A reset sent within a few ms of the bytes before it can reach a Linux peer while its
 * recv() of those bytes is in progress; the peer then reads EOF, not ECONNRESET (#14
 * item 11: `resetAfter` downstream looked like a clean close). Waiting this long after
 * the bytes are flushed lets the peer's read finish first; the pipes forward nothing
 * meanwhile.
 */
const RESET_AFTER_FLUSH_MS = 15;

const OPTION_SCHEMA = {
  listen: { kind: 'string', default: '127.0.0.1:0' },
  seed: { kind: 'count', default: 1 },
  highWaterMark: { kind: 'bytes', default: DEFAULT_HIGH_WATER_MARK, min: 1 },
} as const;

type ResolvedTarget = { kind: 'tcp'; host: string; port: number } | { kind: 'unix'; path: string };

interface FaultEntry {
  id: number;
  directions: readonly FaultDirection[];
  fault: Fault;
  toxicity: number;
}

/** The faults that apply to one chunk, merged from the table (rule 4). */
interface EffectiveFaults {
  halfOpen: boolean;
  blackhole: boolean;
  latencyMs: number;
  jitterMs: number;
  bytesPerSecond: number;
  sliceBytes: number;
  sliceVariation: number;
  sliceDelayMs: number;
  slowCloseMs: number;
  /** A `timeout` fault applies: bytes are dropped. */
  timeout: boolean;
  cuts: { id: number; kind: 'reset' | 'close'; bytes: number; delayMs: number }[];
}

function isLoopbackHost(host: string): boolean {
  if (host === 'localhost' || host === '::1' || host === '0:0:0:0:0:0:0:1') {
    return true;
  }
  if (net.isIPv4(host)) {
    return host.startsWith('127.');
  }
  if (host.toLowerCase().startsWith('::ffff:')) {
    const mapped = host.slice('::ffff:'.length);
    return net.isIPv4(mapped) && mapped.startsWith('127.');
  }
  return false;
}

function invalid(message: string): InvalidArgumentError {
  return new InvalidArgumentError('SB_INVALID_ARGUMENT', `FaultProxy: ${message}`);
}

function parsePort(text: string, what: string): number {
  if (!/^\d{1,5}$/.test(text) || Number(text) > 65535) {
    throw new InvalidArgumentError('SB_BAD_ADDRESS', `FaultProxy: ${what} has an invalid port`);
  }
  return Number(text);
}

/** Parses `HOST:PORT` / `[v6]:PORT` (optionally `tcp://`-prefixed) and checks it is loopback. */
function parseHostPort(address: string, what: string): { host: string; port: number } {
  const text = address.startsWith('tcp://') ? address.slice('tcp://'.length) : address;
  const bracketed = /^\[([^\]]+)\]:(\d+)$/.exec(text);
  let host: string;
  let portText: string;
  if (bracketed !== null) {
    host = bracketed[1]!;
    portText = bracketed[2]!;
  } else {
    const colon = text.lastIndexOf(':');
    if (colon <= 0 || text.indexOf(':') !== colon) {
      throw new InvalidArgumentError(
        'SB_BAD_ADDRESS',
        `FaultProxy: ${what} must be HOST:PORT or [v6]:PORT`,
      );
    }
    host = text.slice(0, colon);
    portText = text.slice(colon + 1);
  }
  const port = parsePort(portText, what);
  if (!isLoopbackHost(host)) {
    throw invalid(`${what} host must be a loopback address (127.0.0.0/8, ::1, localhost)`);
  }
  return { host, port };
}

function resolveTarget(target: unknown): ResolvedTarget {
  if (typeof target === 'string') {
    if (target.startsWith('unix:')) {
      const path = target.slice('unix:'.length);
      if (path.length === 0) {
        throw new InvalidArgumentError('SB_BAD_ADDRESS', 'FaultProxy: target unix path is empty');
      }
      return { kind: 'unix', path };
    }
    if (target.startsWith('/')) {
      return { kind: 'unix', path: target };
    }
    return { kind: 'tcp', ...parseHostPort(target, 'target') };
  }
  if (typeof target === 'object' && target !== null && 'host' in target && 'port' in target) {
    const { host, port } = target as { host: unknown; port: unknown };
    if (typeof host !== 'string' || typeof port !== 'number' || !Number.isInteger(port)) {
      throw invalid('target must be { host: string, port: integer }');
    }
    if (port < 1 || port > 65535) {
      throw new InvalidArgumentError('SB_BAD_ADDRESS', 'FaultProxy: target port must be 1..65535');
    }
    if (!isLoopbackHost(host)) {
      throw invalid('target host must be a loopback address (127.0.0.0/8, ::1, localhost)');
    }
    return { kind: 'tcp', host, port };
  }
  throw invalid('option "target" is required: HOST:PORT, { host, port } or a unix path');
}

/**
 * Checks a listen address, a target and a framing spec as {@link FaultProxy.start} would,
 * without listening. Throws InvalidArgumentError.
 * @internal
 */
export function validateProxyAddresses(listen: string, target: string, framing?: string): void {
  parseHostPort(listen, 'listen');
  resolveTarget(target);
  if (framing !== undefined) {
    parseFraming(framing);
  }
}

function requireCount(fault: Fault, name: string, value: unknown, min: number): void {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw invalid(`fault "${fault.type}" needs "${name}" as an integer >= ${min}`);
  }
}

function requireDuration(fault: Fault, name: string, value: unknown): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw invalid(`fault "${fault.type}" needs "${name}" as a number of ms >= 0`);
  }
}

function validateFault(fault: Fault): void {
  if (typeof fault !== 'object' || fault === null) {
    throw invalid('a fault must be an object with a "type"');
  }
  switch (fault.type) {
    case 'latency':
      requireCount(fault, 'ms', fault.ms, 0);
      if (fault.jitterMs !== undefined) {
        requireCount(fault, 'jitterMs', fault.jitterMs, 0);
      }
      return;
    case 'bandwidth':
      requireCount(fault, 'bytesPerSecond', fault.bytesPerSecond, 1);
      return;
    case 'slice':
      requireCount(fault, 'maxBytes', fault.maxBytes, 1);
      if (fault.delayMs !== undefined) {
        requireDuration(fault, 'delayMs', fault.delayMs);
      }
      if (fault.variationBytes !== undefined) {
        requireCount(fault, 'variationBytes', fault.variationBytes, 0);
      }
      return;
    case 'resetAfter':
      requireCount(fault, 'bytes', fault.bytes, 0);
      if (fault.delayMs !== undefined) {
        requireDuration(fault, 'delayMs', fault.delayMs);
      }
      return;
    case 'closeAfter':
      requireCount(fault, 'bytes', fault.bytes, 0);
      return;
    case 'slowClose':
    case 'timeout':
      requireDuration(fault, 'ms', fault.ms);
      return;
    case 'blackhole':
    case 'halfOpen':
      return;
    case 'message':
      validateMessageFault(fault);
      return;
    default:
      throw invalid(`unknown fault type "${String((fault as { type: unknown }).type)}"`);
  }
}

function validateToxicity(options: AddFaultOptions): number {
  if (typeof options !== 'object' || options === null) {
    throw invalid('fault options must be an object');
  }
  const { toxicity } = options;
  if (toxicity === undefined) {
    return 1;
  }
  if (typeof toxicity !== 'number' || !(toxicity >= 0 && toxicity <= 1)) {
    throw invalid('"toxicity" must be a number in [0, 1]');
  }
  return toxicity;
}

function destroyWithReset(socket: net.Socket): void {
  if (socket.destroyed) {
    return;
  }
  // resetAndDestroy() only works on TCP handles; a unix socket has no RST, so it is
  // simply destroyed. Without a handle yet, destroy() is the reset equivalent too.
  try {
    socket.resetAndDestroy();
  } catch {
    socket.destroy();
  }
}

/** Resolves when the socket can take more writes, or when it closes (whichever first). */
function waitForDrain(socket: net.Socket): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      socket.off('drain', done);
      socket.off('close', done);
      resolve();
    };
    socket.on('drain', done);
    socket.on('close', done);
  });
}

/** Resolves when a connecting socket connects, or closes. */
function waitForConnect(socket: net.Socket): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      socket.off('connect', done);
      socket.off('close', done);
      resolve();
    };
    socket.on('connect', done);
    socket.on('close', done);
  });
}

/** Writes `data` and resolves once it is handed to the kernel, or when the socket closes. */
function writeAndFlush(socket: net.Socket, data: Uint8Array): Promise<void> {
  return new Promise((resolve) => {
    const settle = (): void => {
      socket.off('close', settle);
      resolve();
    };
    socket.on('close', settle);
    socket.write(data, settle);
  });
}

const END_OF_INPUT = Symbol('end of input');

interface QueuedChunk {
  chunk: Buffer;
  arrivedAt: number;
  /** Set when the chunk is exactly one message's wire bytes (framed proxies). */
  message?: Segment['message'];
}

/** One direction of one connection: a queue and the pump that applies faults (rules 1-4). */
class Pipe {
  private readonly queue: (QueuedChunk | typeof END_OF_INPUT)[] = [];
  private queuedBytes = 0;
  private pausedBySelf = false;
  private wake: (() => void) | undefined;
  /** Delivery time of the previous chunk; latency never delivers earlier (no reordering). */
  private lastDeliverAt = 0;
  private nextBandwidthSlot = 0;
  /** Per cut fault id: bytes forwarded since the fault applied to this pipe. */
  private readonly cutCounters = new Map<number, number>();
  private readonly random: () => number;
  /** Toxicity rolls (rule 8): its own PRNG, so rolls never shift the jitter schedule. */
  private readonly toxicityRandom: () => number;
  private readonly rolls = new Map<number, boolean>();
  /** `timeout` faults holding this pipe, with their close timer (undefined for ms 0). */
  private readonly timeouts = new Map<number, NodeJS.Timeout | undefined>();
  /** Framed proxies: cuts the stream into messages (rule 9). */
  private readonly splitter: MessageSplitter | undefined;
  /** Per message fault id: matching messages seen on this pipe. */
  private readonly messageCounts = new Map<number, number>();
  private readonly messageRandom: () => number;
  /** True once this pipe forwards nothing more (END delivered, sink gone or torn down). */
  done = false;

  constructor(
    private readonly connection: ProxiedConnection,
    readonly direction: FaultDirection,
    private readonly source: net.Socket,
    private readonly sink: net.Socket,
  ) {
    const directionSalt = direction === 'upstream' ? 0x9e3779b9 : 0x85ebca6b;
    this.random = seededRandom(
      (connection.proxy.seed ^ Math.imul(connection.id, 0x27d4eb2f) ^ directionSalt) >>> 0,
    );
    this.toxicityRandom = seededRandom(
      (connection.proxy.seed ^ Math.imul(connection.id, 0x165667b1) ^ ~directionSalt) >>> 0,
    );
    this.messageRandom = seededRandom(
      (connection.proxy.seed ^ Math.imul(connection.id, 0x2545f491) ^ (directionSalt >>> 1)) >>> 0,
    );
    const framing = connection.proxy.framing;
    this.splitter = framing === undefined ? undefined : new MessageSplitter(framing);
    source.on('data', (chunk: Buffer) => this.onData(chunk));
    source.on('end', () => this.onEnd());
    void this.pump();
  }

  private onData(chunk: Buffer): void {
    if (this.done) {
      this.connection.proxy.countDropped(chunk.length);
      return;
    }
    const arrivedAt = performance.now();
    if (this.splitter === undefined) {
      this.enqueue({ chunk, arrivedAt });
    } else {
      const failedBefore = this.splitter.failure !== undefined;
      const hold = this.hasFault('message');
      const segments = this.splitter.push(chunk, hold);
      let failedNow = !failedBefore && this.splitter.failure !== undefined;
      for (const segment of segments) {
        // The messages decoded before a framing error come first, then the error, then
        // the bytes after it (raw segments are last in a push).
        if (failedNow && segment.message === undefined) {
          this.framingFailed();
          failedNow = false;
        }
        this.report(segment);
        this.enqueue({
          chunk: segment.bytes,
          arrivedAt,
          ...(segment.message === undefined ? {} : { message: segment.message }),
        });
      }
      if (failedNow) {
        this.framingFailed();
      }
    }
    this.updateFlow();
    this.notify();
  }

  private enqueue(item: QueuedChunk): void {
    this.queue.push(item);
    this.queuedBytes += item.chunk.length;
  }

  /** Hands a message (or, after a framing error, a raw chunk) to the proxy's onMessage. */
  private report(
    segment: Segment,
    payload: Uint8Array | undefined = segment.message?.payload,
  ): void {
    const onMessage = this.connection.proxy.onMessage;
    if (onMessage === undefined) {
      return;
    }
    const raw = payload === undefined;
    if (raw && this.splitter?.failure === undefined) {
      return; // the tail of a partial frame: reported with its frame
    }
    onMessage({
      connection: this.connection.id,
      direction: this.direction,
      payload: payload ?? segment.bytes,
      wireBytes: segment.bytes.length,
      raw,
    });
  }

  private framingFailed(): void {
    const failure = this.splitter?.failure;
    if (failure === undefined) {
      return;
    }
    this.connection.proxy.countFramingError();
    this.connection.proxy.emit({
      type: 'framingError',
      connection: this.connection.id,
      direction: this.direction,
      code: failure.code,
      message: failure.message,
    });
  }

  private onEnd(): void {
    if (this.splitter !== undefined && !this.done) {
      const failedBefore = this.splitter.failure !== undefined;
      const { segments, frames } = this.splitter.end();
      // Pending bytes go through as they are, whatever the decoder says of them.
      for (const segment of segments) {
        this.enqueue({ chunk: segment.bytes, arrivedAt: performance.now() });
      }
      for (const frame of frames) {
        this.report({ bytes: Buffer.alloc(0) }, frame);
      }
      if (!failedBefore && this.splitter.failure !== undefined) {
        this.framingFailed();
      }
    }
    this.queue.push(END_OF_INPUT);
    this.notify();
  }

  /** Whether a fault of the table applies to this pipe (direction and toxicity roll). */
  applies(entry: FaultEntry): boolean {
    if (!entry.directions.includes(this.direction)) {
      return false;
    }
    if (entry.toxicity >= 1) {
      return true;
    }
    let roll = this.rolls.get(entry.id);
    if (roll === undefined) {
      roll = this.toxicityRandom() < entry.toxicity;
      this.rolls.set(entry.id, roll);
    }
    return roll;
  }

  private hasFault(type: Fault['type']): boolean {
    return this.connection.proxy.hasFault(type, (entry) => this.applies(entry));
  }

  /** Re-evaluates pause/resume and wakes the pump; called when faults change. */
  faultsChanged(): void {
    if (this.splitter !== undefined && !this.done && !this.hasFault('message')) {
      for (const segment of this.splitter.release()) {
        this.enqueue({ chunk: segment.bytes, arrivedAt: performance.now() });
      }
    }
    this.syncTimeouts();
    this.updateFlow();
    this.notify();
  }

  /**
   * Starts the close timer of each `timeout` fault that newly applies, and closes the
   * connection when a `timeout` fault that held it is removed (as Toxiproxy does).
   */
  private syncTimeouts(): void {
    if (this.done) {
      return;
    }
    const present = new Set<number>();
    for (const entry of this.connection.proxy.faultEntries()) {
      if (entry.fault.type !== 'timeout' || !this.applies(entry)) {
        continue;
      }
      present.add(entry.id);
      if (!this.timeouts.has(entry.id)) {
        const ms = entry.fault.ms;
        const timer =
          ms > 0
            ? setTimeout(() => this.connection.closeGracefully(this.direction), timerDelay(ms))
            : undefined;
        timer?.unref();
        this.timeouts.set(entry.id, timer);
      }
    }
    let released = false;
    for (const [id, timer] of this.timeouts) {
      if (!present.has(id)) {
        clearTimeout(timer);
        this.timeouts.delete(id);
        released = true;
      }
    }
    if (released) {
      this.connection.closeGracefully(this.direction);
    }
  }

  /** Stops the pump and drops whatever is queued. */
  stop(): void {
    this.done = true;
    for (const timer of this.timeouts.values()) {
      clearTimeout(timer);
    }
    this.timeouts.clear();
    this.queue.length = 0;
    this.queuedBytes = 0;
    this.notify();
    // Keep draining the source so its peer is not blocked by a pipe that forwards nothing.
    if (!this.source.destroyed) {
      this.source.resume();
    }
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  private updateFlow(): void {
    if (this.done || this.source.destroyed) {
      return;
    }
    const halfOpen = this.hasFault('halfOpen');
    const limit = this.connection.proxy.highWaterMark;
    let shouldPause: boolean;
    if (halfOpen) {
      shouldPause = true;
    } else if (this.pausedBySelf) {
      shouldPause = this.queuedBytes > limit / 2;
    } else {
      shouldPause = this.queuedBytes > limit;
    }
    if (shouldPause && !this.pausedBySelf) {
      this.pausedBySelf = true;
      this.source.pause();
    } else if (!shouldPause && this.pausedBySelf) {
      this.pausedBySelf = false;
      this.source.resume();
    }
  }

  private waitForWork(): Promise<void> {
    return new Promise((resolve) => {
      this.wake = resolve;
    });
  }

  private async pump(): Promise<void> {
    const signal = this.connection.abort.signal;
    try {
      while (!this.done) {
        const head = this.queue[0];
        if (head === undefined || this.hasFault('halfOpen')) {
          await this.waitForWork();
          continue;
        }
        this.queue.shift();
        if (head === END_OF_INPUT) {
          await this.deliverEnd(signal);
          return;
        }
        this.queuedBytes -= head.chunk.length;
        this.updateFlow();
        await this.deliver(head, signal);
      }
    } catch (error) {
      if (!signal.aborted) {
        this.connection.destroy(error);
      }
    }
  }

  private async deliverEnd(signal: AbortSignal): Promise<void> {
    const faults = this.connection.proxy.effectiveFaults((entry) => this.applies(entry));
    if (faults.slowCloseMs > 0) {
      await sleep(faults.slowCloseMs, undefined, { signal });
    }
    this.done = true;
    // A FIN that arrives while blackholed (or held by `timeout`) is swallowed: the
    // connection stays silent.
    if (!faults.blackhole && !faults.timeout && !this.sink.destroyed) {
      this.sink.end();
    }
    this.connection.pipeFinished();
  }

  private async deliver(item: QueuedChunk, signal: AbortSignal): Promise<void> {
    const proxy = this.connection.proxy;
    const faults = proxy.effectiveFaults((entry) => this.applies(entry));
    let chunk = item.chunk;
    if (item.message?.whole === true && !faults.blackhole && !faults.timeout) {
      const outcome = await this.applyMessageFaults(chunk, item.message.payload, faults, signal);
      if (outcome === undefined) {
        return;
      }
      chunk = outcome;
    }
    if (faults.blackhole || faults.timeout) {
      proxy.countDropped(chunk.length);
      proxy.emit({
        type: 'drop',
        connection: this.connection.id,
        direction: this.direction,
        bytes: chunk.length,
      });
      return;
    }
    if (faults.latencyMs > 0 || faults.jitterMs > 0) {
      const jitter = faults.jitterMs * (2 * this.random() - 1);
      const delay = Math.max(0, faults.latencyMs + jitter);
      const deliverAt = Math.max(item.arrivedAt + delay, this.lastDeliverAt);
      this.lastDeliverAt = deliverAt;
      proxy.emit({
        type: 'delay',
        connection: this.connection.id,
        direction: this.direction,
        ms: Math.round(delay * 1000) / 1000,
      });
      const wait = deliverAt - performance.now();
      if (wait > 0) {
        await sleep(wait, undefined, { signal });
      }
    }
    // Cuts: find the first budget this chunk reaches (rule 4).
    let cut: EffectiveFaults['cuts'][number] | undefined;
    let cutAt = chunk.length;
    for (const candidate of faults.cuts) {
      const forwarded = this.cutCounters.get(candidate.id) ?? 0;
      const remaining = Math.max(0, candidate.bytes - forwarded);
      if (remaining <= cutAt) {
        cutAt = remaining;
        cut = candidate;
      }
    }
    if (cut !== undefined) {
      proxy.countDropped(chunk.length - cutAt);
      chunk = chunk.subarray(0, cutAt);
    }
    for (const candidate of faults.cuts) {
      this.cutCounters.set(candidate.id, (this.cutCounters.get(candidate.id) ?? 0) + chunk.length);
    }
    await this.write(chunk, faults, signal, cut?.kind === 'reset');
    if (cut !== undefined) {
      if (cut.kind === 'reset') {
        // Nothing more crosses in either direction; the reset follows a short grace so
        // that it reaches the peer as a reset, not as EOF (see RESET_AFTER_FLUSH_MS).
        this.connection.stopPipes();
        await sleep(Math.max(RESET_AFTER_FLUSH_MS, cut.delayMs), undefined, { signal });
        this.connection.reset(this.direction);
      } else {
        this.connection.closeGracefully(this.direction);
      }
    }
  }

  /**
   * Applies the message faults that select this message (rule 9). Returns the bytes to
   * forward, or undefined when the message was dropped or the connection truncated.
   */
  private async applyMessageFaults(
    wire: Buffer,
    payload: Uint8Array,
    faults: EffectiveFaults,
    signal: AbortSignal,
  ): Promise<Buffer | undefined> {
    const proxy = this.connection.proxy;
    const selected: MessageFault[] = [];
    for (const entry of proxy.faultEntries()) {
      if (entry.fault.type !== 'message' || !this.applies(entry)) {
        continue;
      }
      const fault = entry.fault;
      if (!messageMatches(fault, payload)) {
        continue;
      }
      const seen = (this.messageCounts.get(entry.id) ?? 0) + 1;
      this.messageCounts.set(entry.id, seen);
      const nth = fault.nth ?? 0;
      if (nth !== 0 && seen !== nth) {
        continue;
      }
      if (fault.probability !== undefined && !(this.messageRandom() < fault.probability)) {
        continue;
      }
      selected.push(fault);
    }
    if (selected.length === 0) {
      return wire;
    }
    const has = (action: MessageFault['action']): boolean =>
      selected.some((fault) => fault.action === action);
    for (const fault of selected) {
      proxy.countMessageAffected();
      proxy.emit({
        type: 'message',
        connection: this.connection.id,
        direction: this.direction,
        action: fault.action,
      });
    }
    const delayMs = selected.reduce(
      (sum, fault) => sum + (fault.action === 'delay' ? (fault.delayMs ?? 0) : 0),
      0,
    );
    if (delayMs > 0) {
      await sleep(delayMs, undefined, { signal });
    }
    if (has('truncate')) {
      const keep = Math.floor(wire.length / 2);
      proxy.countDropped(wire.length - keep);
      await this.write(wire.subarray(0, keep), faults, signal, true);
      this.connection.closeGracefully(this.direction);
      return undefined;
    }
    if (has('drop')) {
      proxy.countDropped(wire.length);
      return undefined;
    }
    let bytes = wire;
    if (has('corrupt') && proxy.framing !== undefined) {
      const start = Math.floor(this.messageRandom() * payload.length * 8);
      bytes = corruptOneBit(proxy.framing, wire, payload, start) ?? wire;
    }
    if (has('duplicate')) {
      bytes = Buffer.concat([bytes, bytes]);
    }
    return bytes;
  }

  /**
   * Writes `chunk` in pieces shaped by bandwidth and slice, honouring backpressure.
   * With `untilFlushed`, resolves only once the last piece is handed to the kernel (or
   * the sink closes): a reset must follow the bytes it comes after.
   */
  private async write(
    chunk: Buffer,
    faults: EffectiveFaults,
    signal: AbortSignal,
    untilFlushed: boolean,
  ): Promise<void> {
    let pieceSize = chunk.length;
    if (faults.bytesPerSecond > 0) {
      pieceSize = Math.min(
        pieceSize,
        Math.max(1, Math.floor((faults.bytesPerSecond * BANDWIDTH_PIECE_MS) / 1000)),
      );
    }
    if (faults.sliceBytes > 0) {
      pieceSize = Math.min(pieceSize, faults.sliceBytes);
    }
    if (this.sink.connecting) {
      // Writes queued before connect are flushed together (one writev): wait, so that
      // slices stay separate writes and pacing starts when bytes can actually flow.
      await waitForConnect(this.sink);
    }
    for (let offset = 0; offset < chunk.length && !this.done; offset += pieceSize) {
      if (faults.sliceVariation > 0 && faults.sliceBytes > 0) {
        const variation = Math.round(faults.sliceVariation * (2 * this.random() - 1));
        pieceSize = Math.max(1, faults.sliceBytes + variation);
      }
      const piece = chunk.subarray(offset, offset + pieceSize);
      if (faults.bytesPerSecond > 0) {
        const now = performance.now();
        if (this.nextBandwidthSlot > now) {
          await sleep(this.nextBandwidthSlot - now, undefined, { signal });
        }
        this.nextBandwidthSlot =
          Math.max(this.nextBandwidthSlot, now) + (piece.length * 1000) / faults.bytesPerSecond;
      }
      if (this.sink.destroyed || this.sink.writableEnded) {
        this.connection.proxy.countDropped(chunk.length - offset);
        this.stop();
        this.connection.pipeFinished();
        return;
      }
      const lastPiece = offset + pieceSize >= chunk.length;
      this.connection.proxy.countForwarded(this.direction, piece.length);
      if ((lastPiece && untilFlushed) || faults.sliceBytes > 0) {
        // A slice must reach the kernel alone: the next piece waits for this one's flush,
        // or Node would coalesce queued pieces into one writev.
        await writeAndFlush(this.sink, piece);
      } else if (!this.sink.write(piece)) {
        await waitForDrain(this.sink);
      }
      if (faults.sliceBytes > 0 && !lastPiece) {
        // Let the event loop run so each piece leaves as its own write (and segment).
        // Two setImmediate hops guarantee at least one I/O poll in between: one hop
        // taken from the poll phase lands in the same loop iteration's check phase.
        if (faults.sliceDelayMs > 0) {
          await sleep(faults.sliceDelayMs, undefined, { signal });
        } else {
          await yieldToEventLoop(undefined, { signal });
          await yieldToEventLoop(undefined, { signal });
        }
      }
    }
  }
}

/** A client connection, its upstream connection and the two pipes between them. */
class ProxiedConnection {
  readonly abort = new AbortController();
  private readonly upstreamPipe: Pipe;
  private readonly downstreamPipe: Pipe;
  private closedSockets = 0;
  private tornDown = false;
  private graceTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly proxy: FaultProxy,
    readonly id: number,
    readonly client: net.Socket,
    readonly upstream: net.Socket,
  ) {
    for (const socket of [client, upstream]) {
      socket.setNoDelay(true);
      socket.on('error', (error: NodeJS.ErrnoException) => this.onSocketError(socket, error));
      socket.on('close', () => this.onSocketClose());
    }
    this.upstreamPipe = new Pipe(this, 'upstream', client, upstream);
    this.downstreamPipe = new Pipe(this, 'downstream', upstream, client);
  }

  faultsChanged(): void {
    this.upstreamPipe.faultsChanged();
    this.downstreamPipe.faultsChanged();
  }

  private other(socket: net.Socket): net.Socket {
    return socket === this.client ? this.upstream : this.client;
  }

  private onSocketError(socket: net.Socket, error: NodeJS.ErrnoException): void {
    // A reset on one side is shown to the other side as a reset; other errors just close.
    if (error.code === 'ECONNRESET') {
      destroyWithReset(this.other(socket));
    }
    this.destroy();
  }

  private onSocketClose(): void {
    this.closedSockets += 1;
    if (this.closedSockets === 2) {
      this.finish();
      return;
    }
    // One side is gone: nothing more can be delivered to it. The pipe towards the
    // surviving socket still delivers what it holds, then ends it (pipeFinished).
    if (this.client.destroyed) {
      this.downstreamPipe.stop();
    }
    if (this.upstream.destroyed) {
      this.upstreamPipe.stop();
    }
    this.pipeFinished();
  }

  /** Called when a pipe is done; once both are, the sockets are closed after flushing. */
  pipeFinished(): void {
    if (!this.upstreamPipe.done || !this.downstreamPipe.done) {
      return;
    }
    for (const socket of [this.client, this.upstream]) {
      if (!socket.destroyed) {
        socket.end(() => socket.destroy());
      }
    }
  }

  /** Stops both pipes (nothing more is forwarded); the sockets stay as they are. */
  stopPipes(): void {
    this.upstreamPipe.stop();
    this.downstreamPipe.stop();
  }

  reset(direction: FaultDirection): void {
    this.proxy.countReset();
    this.proxy.emit({ type: 'reset', connection: this.id, direction });
    destroyWithReset(this.client);
    destroyWithReset(this.upstream);
    this.destroy();
  }

  closeGracefully(direction: FaultDirection): void {
    if (this.graceTimer !== undefined || this.tornDown) {
      return;
    }
    this.proxy.countGracefulClose();
    this.proxy.emit({ type: 'closeAfter', connection: this.id, direction });
    this.upstreamPipe.stop();
    this.downstreamPipe.stop();
    this.client.end();
    this.upstream.end();
    // A peer that never answers our FIN would keep the socket forever: bound it.
    this.graceTimer = setTimeout(() => this.destroy(), GRACEFUL_CLOSE_GRACE_MS);
    this.graceTimer.unref();
  }

  /** Destroys both sockets now (idempotent). */
  destroy(_reason?: unknown): void {
    if (this.tornDown) {
      return;
    }
    this.tornDown = true;
    this.abort.abort();
    this.upstreamPipe.stop();
    this.downstreamPipe.stop();
    this.client.destroy();
    this.upstream.destroy();
  }

  private finish(): void {
    if (this.graceTimer !== undefined) {
      clearTimeout(this.graceTimer);
    }
    this.tornDown = true;
    this.abort.abort();
    this.proxy.connectionClosed(this);
  }
}

/**
 * A loopback TCP proxy that injects faults between a client and a target.
 *
 * @example
 * ```ts
 * import { createServer, openChannel } from 'switchboard';
 * import { FaultProxy } from 'switchboard/testing';
 *
 * await using server = await createServer({ listen: '127.0.0.1:0', framing: 'line', handler: 'echo' });
 * await using proxy = await FaultProxy.start({ target: server.address, seed: 42 });
 * // Every reply arrives one byte at a time, 20-30 ms late: framing must still hold.
 * proxy.addFault('downstream', { type: 'slice', maxBytes: 1 });
 * const id = proxy.addFault('downstream', { type: 'latency', ms: 20, jitterMs: 10 });
 * await using channel = await openChannel(proxy.address, { framing: 'line' });
 * await channel.send('through the proxy');
 * console.log(new TextDecoder().decode((await channel.receive()) ?? new Uint8Array()));
 * proxy.removeFault(id); // faults come and go while traffic flows
 * ```
 */
export class FaultProxy {
  /** The seed of the jitter PRNG. */
  readonly seed: number;
  /** Queue bound per pipe in bytes (see {@link FaultProxyOptions.highWaterMark}). */
  readonly highWaterMark: number;
  /** The framing each direction is decoded with, if any. */
  readonly framing: Framing | undefined;
  /** @internal */
  readonly onMessage: ((message: FaultProxyMessage) => void) | undefined;
  private readonly server: net.Server;
  private readonly target: ResolvedTarget;
  private readonly onEvent: ((event: FaultProxyEvent) => void) | undefined;
  private readonly faults = new Map<number, FaultEntry>();
  private readonly connections = new Set<ProxiedConnection>();
  private nextFaultId = 1;
  private nextConnectionId = 1;
  private closing: Promise<void> | undefined;
  private readonly counters: FaultProxyStats = {
    connections: 0,
    activeConnections: 0,
    bytesUpstream: 0,
    bytesDownstream: 0,
    bytesDropped: 0,
    resets: 0,
    gracefulCloses: 0,
    framingErrors: 0,
    messagesAffected: 0,
  };

  private constructor(
    server: net.Server,
    target: ResolvedTarget,
    seed: number,
    highWaterMark: number,
    onEvent: ((event: FaultProxyEvent) => void) | undefined,
    messages: {
      framing: Framing | undefined;
      onMessage: ((message: FaultProxyMessage) => void) | undefined;
    },
  ) {
    this.framing = messages.framing;
    this.onMessage = messages.onMessage;
    this.server = server;
    this.target = target;
    this.seed = seed;
    this.highWaterMark = highWaterMark;
    this.onEvent = onEvent;
    server.on('connection', (client) => this.accept(client));
    // An accept failure (EMFILE, ENFILE) must not crash the test process that uses us:
    // the client's connection fails instead, and the event says why.
    server.on('error', (error: Error) => this.emit({ type: 'error', message: error.message }));
  }

  /**
   * Starts a proxy listening on `options.listen` (default `127.0.0.1:0`) that forwards to
   * `options.target`. Rejects with InvalidArgumentError when either address is not
   * loopback, and with the listen error (e.g. EADDRINUSE) when it cannot listen.
   */
  static async start(options: FaultProxyOptions): Promise<FaultProxy> {
    if (typeof options !== 'object' || options === null) {
      throw invalid('options must be an object with a "target"');
    }
    const resolved = resolveOptions('FaultProxy', OPTION_SCHEMA, options, {}, [
      'target',
      'onEvent',
      'framing',
      'onMessage',
    ]);
    const framing =
      options.framing === undefined
        ? undefined
        : typeof options.framing === 'string'
          ? parseFraming(options.framing)
          : options.framing;
    if (options.onMessage !== undefined && typeof options.onMessage !== 'function') {
      throw new InvalidArgumentError(
        'SB_BAD_OPTION',
        'FaultProxy: option "onMessage" must be a function',
      );
    }
    const target = resolveTarget(options.target);
    const listen = parseHostPort(resolved.listen, 'listen');
    if (options.onEvent !== undefined && typeof options.onEvent !== 'function') {
      throw new InvalidArgumentError(
        'SB_BAD_OPTION',
        'FaultProxy: option "onEvent" must be a function',
      );
    }
    // allowHalfOpen: a FIN from the client must not close our side towards it (rule 6).
    const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: listen.host, port: listen.port }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    return new FaultProxy(server, target, resolved.seed, resolved.highWaterMark, options.onEvent, {
      framing,
      onMessage: options.onMessage,
    });
  }

  /** The listening port. */
  get port(): number {
    const address = this.server.address();
    return typeof address === 'object' && address !== null ? address.port : 0;
  }

  /** The listening address as `HOST:PORT` (`[v6]:PORT` for IPv6), ready for connect(). */
  get address(): string {
    return listeningText(this.server.address());
  }

  /** A snapshot of the counters. */
  get stats(): FaultProxyStats {
    return { ...this.counters, activeConnections: this.connections.size };
  }

  /**
   * Adds a fault to one direction (or both) and returns its id. Applies to existing and
   * future connections from the next chunk on. Throws InvalidArgumentError on a bad fault.
   */
  addFault(direction: FaultDirectionSpec, fault: Fault, options: AddFaultOptions = {}): number {
    if (direction !== 'upstream' && direction !== 'downstream' && direction !== 'both') {
      throw invalid('direction must be "upstream", "downstream" or "both"');
    }
    validateFault(fault);
    if (fault.type === 'message' && this.framing === undefined) {
      throw invalid('a message fault needs a proxy started with a "framing"');
    }
    const toxicity = validateToxicity(options);
    const id = this.nextFaultId;
    this.nextFaultId += 1;
    const directions: FaultDirection[] =
      direction === 'both' ? ['upstream', 'downstream'] : [direction];
    this.faults.set(id, { id, directions, fault: { ...fault }, toxicity });
    this.notifyFaultsChanged();
    return id;
  }

  /**
   * Replaces the fault `id` by `fault` (same directions), keeping its byte budgets and
   * toxicity rolls, as a Toxiproxy toxic update does. Returns false when no such fault
   * exists. Throws InvalidArgumentError on a bad fault.
   */
  updateFault(id: number, fault: Fault, options: AddFaultOptions = {}): boolean {
    const entry = this.faults.get(id);
    if (entry === undefined) {
      return false;
    }
    validateFault(fault);
    const toxicity = options.toxicity === undefined ? entry.toxicity : validateToxicity(options);
    this.faults.set(id, { ...entry, fault: { ...fault }, toxicity });
    this.notifyFaultsChanged();
    return true;
  }

  /** Removes a fault by id. Returns false when no such fault exists. */
  removeFault(id: number): boolean {
    const removed = this.faults.delete(id);
    if (removed) {
      this.notifyFaultsChanged();
    }
    return removed;
  }

  /** Removes every fault. */
  clearFaults(): void {
    this.faults.clear();
    this.notifyFaultsChanged();
  }

  /**
   * Stops listening and destroys every proxied connection. Idempotent: later calls return
   * the same promise.
   */
  close(): Promise<void> {
    if (this.closing === undefined) {
      this.closing = new Promise<void>((resolve) => {
        this.server.close(() => resolve());
        for (const connection of this.connections) {
          connection.destroy();
        }
      });
    }
    return this.closing;
  }

  /** `await using proxy = await FaultProxy.start(...)` closes the proxy at scope exit. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** @internal */
  faultEntries(): IterableIterator<FaultEntry> {
    return this.faults.values();
  }

  /** @internal */
  hasFault(type: Fault['type'], applies: (entry: FaultEntry) => boolean): boolean {
    for (const entry of this.faults.values()) {
      if (entry.fault.type === type && applies(entry)) {
        return true;
      }
    }
    return false;
  }

  /** @internal Merges the faults that apply to one pipe (rule 4). */
  effectiveFaults(applies: (entry: FaultEntry) => boolean): EffectiveFaults {
    const merged: EffectiveFaults = {
      halfOpen: false,
      blackhole: false,
      latencyMs: 0,
      jitterMs: 0,
      bytesPerSecond: 0,
      sliceBytes: 0,
      sliceVariation: 0,
      sliceDelayMs: 0,
      slowCloseMs: 0,
      timeout: false,
      cuts: [],
    };
    for (const entry of this.faults.values()) {
      if (!applies(entry)) {
        continue;
      }
      const { id, fault } = entry;
      switch (fault.type) {
        case 'halfOpen':
          merged.halfOpen = true;
          break;
        case 'blackhole':
          merged.blackhole = true;
          break;
        case 'latency':
          merged.latencyMs += fault.ms;
          merged.jitterMs += fault.jitterMs ?? 0;
          break;
        case 'bandwidth':
          merged.bytesPerSecond =
            merged.bytesPerSecond === 0
              ? fault.bytesPerSecond
              : Math.min(merged.bytesPerSecond, fault.bytesPerSecond);
          break;
        case 'slice':
          merged.sliceBytes =
            merged.sliceBytes === 0 ? fault.maxBytes : Math.min(merged.sliceBytes, fault.maxBytes);
          merged.sliceDelayMs = Math.max(merged.sliceDelayMs, fault.delayMs ?? 0);
          merged.sliceVariation = Math.max(merged.sliceVariation, fault.variationBytes ?? 0);
          break;
        case 'resetAfter':
          merged.cuts.push({ id, kind: 'reset', bytes: fault.bytes, delayMs: fault.delayMs ?? 0 });
          break;
        case 'closeAfter':
          merged.cuts.push({ id, kind: 'close', bytes: fault.bytes, delayMs: 0 });
          break;
        case 'slowClose':
          merged.slowCloseMs += fault.ms;
          break;
        case 'timeout':
          merged.timeout = true;
          break;
      }
    }
    return merged;
  }

  /** @internal */
  emit(event: FaultProxyEvent): void {
    this.onEvent?.(event);
  }

  /** @internal */
  countForwarded(direction: FaultDirection, bytes: number): void {
    if (direction === 'upstream') {
      this.counters.bytesUpstream += bytes;
    } else {
      this.counters.bytesDownstream += bytes;
    }
  }

  /** @internal */
  countDropped(bytes: number): void {
    this.counters.bytesDropped += bytes;
  }

  /** @internal */
  countFramingError(): void {
    this.counters.framingErrors += 1;
  }

  /** @internal */
  countMessageAffected(): void {
    this.counters.messagesAffected += 1;
  }

  /** @internal */
  countReset(): void {
    this.counters.resets += 1;
  }

  /** @internal */
  countGracefulClose(): void {
    this.counters.gracefulCloses += 1;
  }

  /** @internal */
  connectionClosed(connection: ProxiedConnection): void {
    if (this.connections.delete(connection)) {
      this.emit({ type: 'close', connection: connection.id });
    }
  }

  private notifyFaultsChanged(): void {
    for (const connection of this.connections) {
      connection.faultsChanged();
    }
  }

  private accept(client: net.Socket): void {
    if (this.closing !== undefined) {
      client.destroy();
      return;
    }
    const id = this.nextConnectionId;
    this.nextConnectionId += 1;
    this.counters.connections += 1;
    const upstream =
      this.target.kind === 'tcp'
        ? net.connect({ host: this.target.host, port: this.target.port, allowHalfOpen: true })
        : net.connect({ path: this.target.path, allowHalfOpen: true });
    const connection = new ProxiedConnection(this, id, client, upstream);
    this.connections.add(connection);
    this.emit({ type: 'open', connection: id });
    // pauseOnConnect: the pipe's listeners are in place now, so no byte is missed.
    client.resume();
    // A halfOpen fault present before the connection pauses its source right away.
    connection.faultsChanged();
  }
}
