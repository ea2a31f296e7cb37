/**
 * `processes` dispatch: N worker processes; the primary accepts and hands each
 * connection over as a handle.
 *
 * Theory of operation
 * -------------------
 * The primary owns the listening socket (opened with `pauseOnConnect`, so it
 * never reads a byte of a client's stream) and the admission limits. Each
 * admitted socket is sent to the worker with the fewest connections
 * (`child.send({ type: 'connection', id }, socket)`); the worker runs the `loop`
 * model on it (PROXY header, TLS, Channel, handler) and reports
 * `{ type: 'closed', id }` when it ends, which releases the primary's admission
 * slot. Workers also send metric deltas, which the primary merges, so one
 * `/metrics` covers all of them.
 *
 * Chat across processes: the primary's {@link ChatRoom} has one member per
 * ready worker (joined on `ready`, left on exit). A worker posts every chat frame
 * its clients send to the primary (after delivering it to its own other
 * clients); the primary posts it to its room as that worker's member, so it goes
 * to every other worker, each of which delivers it to its own clients, and to
 * the room's relay: the chat bus, when the server has one (server.ts bridges the
 * primary's room, so one NATS connection and one `Sb-Origin` serve the whole
 * instance). A frame from the bus is delivered to every worker. Each hop (worker
 * -> primary IPC, NATS per connection, primary -> worker IPC) keeps order, so
 * each client's frames reach every other client in the order sent, exactly once
 * (docs/SCALING.md). Chat frames cross IPC in batches, one message per
 * event-loop turn and direction ({@link FrameBatch}); a worker that stops
 * reading while more than {@link relayQueueLimit} bytes wait for it is killed
 * and replaced, so every client that stays connected gets every frame.
 *
 * Crashes: when a worker exits unexpectedly, only its own connections drop (the
 * kernel closes their sockets with the process); the primary counts them as
 * `SB_WORKER_CRASHED`, releases their slots and forks a replacement, which
 * serves new connections once it has loaded the handler. A connection accepted
 * while no worker is ready (the only worker is being replaced) waits in the
 * primary, unread, for the first worker that becomes ready ({@link
 * ProcessDispatcher.serve}); it is closed with `SB_WORKER_CRASHED` (counted and
 * published) only when no worker is starting any more, or after `frameTimeout` ms.
 * The wait is bounded by admission: each waiting connection holds its slot.
 *
 * Stopped workers: a worker that is alive but not running (SIGSTOP, stuck in a
 * synchronous loop) never exits. The primary pings each ready worker every
 * `heartbeatInterval` ms (liveness.ts); one that has not answered by the next ping
 * is unresponsive (`SB_WORKER_UNRESPONSIVE`): it gets no new connections while a
 * responsive worker exists, and after `unresponsiveTimeout` ms it is killed and
 * replaced as if it had crashed. Sockets still queued for it in the primary are
 * closed then (closeUnacknowledgedHandle), so its clients see a close, not a hang.
 *
 * Diagnostics: workers relay their diagnostics_channel messages to the primary
 * while it has subscribers (diagnostics-relay.ts), so `serve --json` sees them.
 *
 * Close: `drain(timeout)` asks each worker to drain its connections (same rules
 * as the loop model) and waits for the answers; `close()` then tells workers to
 * exit and kills any that do not within a grace period.
 *
 * Limitations: `maxConnectionsPerIp` counts the socket address (the proxy, not
 * the PROXY client, because the header is read in the worker); connection
 * handlers must be modules, not functions.
 */
import { type ChildProcess, fork } from 'node:child_process';
import type * as net from 'node:net';
import { fileURLToPath } from 'node:url';
import { ConnectionError, SwitchboardError } from '../../errors.js';
import { systemClock, timerDelay } from '../../net/clock.js';
import { afterIo } from '../../net/schedule.js';
import { DEFAULTS } from '../../options.js';
import { loadFailureError } from '../handler-module.js';
import type { ChatMember, ChatRoom } from '../handlers.js';
import { NO_LIVE_TRAFFIC, reportConnectionError, type ServerMetrics } from '../metrics.js';
import type { ProxyPreamble } from '../raw-socket.js';
import { primaryObserves, publishRelayed } from './diagnostics-relay.js';
import { needsTypeScriptLoader, tsxLoaderUrl, workerEntryUrl } from './entry.js';
import { type LivenessHost, WorkerLiveness } from './liveness.js';
import type {
  ChatMessage,
  ChatPacket,
  LiveTraffic,
  PrimaryMessage,
  ProcessWorkerConfig,
  ProcessWorkerMessage,
} from './protocol.js';

/**
 * Most payload bytes one chat message over IPC carries (a single larger frame still
 * goes alone). Why a cap: frames pile up here while a message is being written, so
 * without one a fast sender makes each message larger than the last, and the
 * receiving worker then hands its clients one burst of many MiB at once: a client
 * that reads at full speed would pass `maxQueuedOutput` and be cut for the size of
 * a relay hop, not for failing to read.
 */
export const MAX_RELAY_MESSAGE_BYTES = 1024 * 1024;

/**
 * Chat frames bound for one IPC channel (a ChatMember: `deliver` queues a frame).
 *
 * Batching: an IPC message costs far more than a small frame, so the queued
 * frames leave together at the end of the event-loop turn (setImmediate), at most
 * {@link MAX_RELAY_MESSAGE_BYTES} per message, and while a message is still being
 * written (the other side is not reading) new frames wait here instead of in
 * node's unbounded IPC queue. Order: frames leave in order; the owner calls
 * {@link FrameBatch.flush} before sending anything else on the channel, which
 * sends at once, so no other message overtakes them.
 *
 * Bound: when more than `limit` bytes wait, `onOverflow` runs once and later
 * frames are ignored: the side that is not reading is cut (as a slow client is
 * cut by `maxQueuedOutput`), instead of a hole in the chat of clients that stay.
 */
export class FrameBatch implements ChatMember {
  /** Waiting frames: `#frames[#head..]` (an index, so taking a message is O(its frames)). */
  #frames: Uint8Array[] = [];
  #head = 0;
  #bytes = 0;
  #scheduled = false;
  #inFlight = 0;
  #overflowed = false;
  readonly #send: (frames: Uint8Array[], written: () => void) => void;
  readonly #limit: number;
  readonly #onOverflow: () => void;
  readonly #written = (): void => {
    this.#inFlight -= 1;
    this.#schedule();
  };

  /**
   * @param send sends one message with `frames` and calls `written` once it has
   *   been written to the channel (or failed).
   * @param limit bytes that may wait here.
   * @param onOverflow called once, when more than `limit` bytes wait.
   */
  constructor(
    send: (frames: Uint8Array[], written: () => void) => void,
    limit: number,
    onOverflow: () => void,
  ) {
    this.#send = send;
    this.#limit = limit;
    this.#onOverflow = onOverflow;
  }

  /** Bytes waiting to be sent. */
  get queuedBytes(): number {
    return this.#bytes;
  }

  /** Queues `frame`; it leaves at the end of this turn, or after the message being written. */
  deliver(frame: Uint8Array): void {
    if (this.#overflowed) {
      return;
    }
    this.#frames.push(frame);
    this.#bytes += frame.byteLength;
    if (this.#bytes > this.#limit) {
      this.#overflowed = true;
      this.#frames = [];
      this.#head = 0;
      this.#bytes = 0;
      this.#onOverflow();
      return;
    }
    this.#schedule();
  }

  /** Sends every waiting frame now (even while a message is being written), if any. */
  flush(): void {
    while (this.#head < this.#frames.length) {
      this.#sendOne();
    }
  }

  /** Sends the oldest waiting frames, up to MAX_RELAY_MESSAGE_BYTES, as one message. */
  #sendOne(): void {
    const frames = this.#frames;
    const start = this.#head;
    let end = start;
    let bytes = 0;
    while (
      end < frames.length &&
      (end === start || bytes + frames[end]!.byteLength <= MAX_RELAY_MESSAGE_BYTES)
    ) {
      bytes += frames[end]!.byteLength;
      end += 1;
    }
    let message: Uint8Array[];
    if (start === 0 && end === frames.length) {
      message = frames;
      this.#frames = [];
      this.#head = 0;
    } else {
      message = frames.slice(start, end);
      this.#head = end;
      if (end === frames.length) {
        this.#frames = [];
        this.#head = 0;
      }
    }
    this.#bytes -= bytes;
    this.#inFlight += 1;
    this.#send(message, this.#written);
  }

  #schedule(): void {
    if (!this.#scheduled && this.#inFlight === 0 && this.#head < this.#frames.length) {
      this.#scheduled = true;
      afterIo(() => {
        this.#scheduled = false;
        if (this.#inFlight === 0 && this.#head < this.#frames.length) {
          this.#sendOne();
        }
      });
    }
  }
}

/**
 * Packs frames for IPC. Why: node's advanced serialization costs per object, and a
 * message of thousands of small frames spent far longer in it than on the bytes;
 * two typed arrays serialize as two copies.
 */
export function packFrames(frames: readonly Uint8Array[]): ChatPacket {
  const lengths = new Uint32Array(frames.length);
  let total = 0;
  for (let index = 0; index < frames.length; index += 1) {
    const length = frames[index]!.byteLength;
    lengths[index] = length;
    total += length;
  }
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const frame of frames) {
    bytes.set(frame, offset);
    offset += frame.byteLength;
  }
  return { bytes, lengths };
}

/** One end of a process's IPC channel: the primary's ChildProcess, or a worker's `process`. */
interface IpcEnd {
  readonly connected: boolean;
  /** Absent on a `process` that was not forked with an IPC channel. */
  send?(message: ChatMessage, handle: undefined, options: object, callback: () => void): boolean;
}

/**
 * Sends one batch of chat frames over `to`'s IPC channel (a {@link FrameBatch}'s sender,
 * on either side); `written` runs once node has written it, or at once when the channel
 * is gone (the frames go with the process that would have read them).
 */
export function sendChatBatch(
  to: IpcEnd,
  frames: readonly Uint8Array[],
  written: () => void,
): void {
  if (!to.connected || to.send === undefined) {
    written();
    return;
  }
  to.send({ type: 'chat', ...packFrames(frames) }, undefined, {}, written);
}

/** The frames of a {@link ChatPacket}, as views of its buffer (a malformed packet yields what fits). */
export function unpackFrames(packet: ChatPacket): Uint8Array[] {
  const { bytes, lengths } = packet;
  const frames: Uint8Array[] = new Array(lengths.length);
  let offset = 0;
  let count = 0;
  for (; count < lengths.length; count += 1) {
    const end = offset + lengths[count]!;
    if (end > bytes.length) {
      break;
    }
    frames[count] = bytes.subarray(offset, end);
    offset = end;
  }
  frames.length = count;
  return frames;
}

/**
 * Bytes of chat that may wait in the primary for one worker that is not reading
 * its IPC channel: 4 x `maxQueuedOutput` (the channel carries the chat of many
 * connections), and never less than 16 MiB, so that a burst toward a worker that
 * is merely busy does not cut it.
 */
export function relayQueueLimit(maxQueuedOutput: number): number {
  return Math.max(4 * maxQueuedOutput, 16 * 1024 * 1024);
}

/** Options of {@link ProcessDispatcher.start}. */
export interface ProcessDispatcherOptions
  extends Omit<ProcessWorkerConfig, 'workerIndex' | 'relayDiagnostics'> {
  workers: number;
  /** ms between liveness pings to each worker; 0 = off (liveness.ts). */
  heartbeatInterval: number;
  /** ms an unresponsive worker is kept before it is killed and replaced; 0 = kept. */
  unresponsiveTimeout: number;
  metrics: ServerMetrics;
  /** The primary's chat room: each ready worker is one member (see the module comment). */
  chatRoom: ChatRoom;
}

interface WorkerSlot {
  index: number;
  child: ChildProcess;
  ready: boolean;
  exiting: boolean;
  /**
   * Connections handed to this worker, by id: the primary's copy of the socket (closed
   * by node once the worker acknowledges the handle) and the accounting to run at the end.
   */
  connections: Map<string, { socket: net.Socket; done: () => void }>;
  live: LiveTraffic;
  drained: ((destroyed: number) => void) | null;
  /** This worker incarnation in the primary's chat room (a new object per fork). */
  member: FrameBatch;
  /** Heartbeat of this incarnation; null when heartbeats are off. */
  liveness: WorkerLiveness | null;
}

/** How long workers get to exit after `close()` before they are killed, ms. */
const EXIT_GRACE_MS = 5000;

/** The primary side of the `processes` model. */
export class ProcessDispatcher {
  readonly model = 'processes' as const;
  /** Each worker reads the PROXY header and counts it in its own budget. */
  readonly inputBudget = null;
  readonly #options: ProcessDispatcherOptions;
  readonly #slots: WorkerSlot[] = [];
  #nextId = 0;
  #closing = false;
  /**
   * Connections accepted while no worker was ready, oldest first, each with its
   * deadline timer (see the module comment, "Crashes").
   */
  readonly #waiting = new Map<net.Socket, { resolve: () => void; timer: NodeJS.Timeout | null }>();
  /** Workers that crashed and were replaced. */
  crashes = 0;

  private constructor(options: ProcessDispatcherOptions) {
    this.#options = options;
  }

  /** Forks the workers and resolves once every one has loaded the handler. */
  static async start(options: ProcessDispatcherOptions): Promise<ProcessDispatcher> {
    const dispatcher = new ProcessDispatcher(options);
    try {
      await Promise.all(
        Array.from({ length: options.workers }, (_, index) => dispatcher.#fork(index)),
      );
    } catch (error) {
      await dispatcher.close();
      throw error;
    }
    return dispatcher;
  }

  get connections(): number {
    let count = 0;
    for (const slot of this.#slots) {
      count += slot.connections.size;
    }
    return count;
  }

  /** Process ids of the live workers, in worker order. */
  get workerPids(): number[] {
    return this.#slots
      .filter((slot) => slot.ready && !slot.exiting)
      .map((slot) => slot.child.pid ?? 0);
  }

  serve(raw: net.Socket, _proxy: ProxyPreamble | null): Promise<void> {
    const metrics = this.#options.metrics;
    // The least-loaded responsive worker; only when none answers its heartbeat, the
    // least-loaded of the others (the connection may wait for it, as it would in the
    // kernel's accept queue, rather than being refused).
    let target: WorkerSlot | undefined;
    let targetResponsive = false;
    for (const slot of this.#slots) {
      if (!slot.ready || slot.exiting) {
        continue;
      }
      const responsive = slot.liveness?.responsive ?? true;
      if (
        target === undefined ||
        (responsive && !targetResponsive) ||
        (responsive === targetResponsive && slot.connections.size < target.connections.size)
      ) {
        target = slot;
        targetResponsive = responsive;
      }
    }
    if (this.#closing) {
      metrics.recordRefusal('closing');
      raw.destroy();
      return Promise.resolve();
    }
    if (target === undefined) {
      if (!this.#starting()) {
        this.#refuseNoWorker(raw);
        return Promise.resolve();
      }
      return this.#wait(raw);
    }
    return this.#handOver(raw, target);
  }

  /** True while a worker is forked and loading its handler (it will be ready, or exit). */
  #starting(): boolean {
    return this.#slots.some(
      (slot) =>
        !slot.ready &&
        !slot.exiting &&
        slot.child.exitCode === null &&
        slot.child.signalCode === null,
    );
  }

  /** Closes a connection no worker can take, with `SB_WORKER_CRASHED` counted and published. */
  #refuseNoWorker(raw: net.Socket): void {
    raw.destroy();
    this.#reportError(
      new ConnectionError('SB_WORKER_CRASHED', 'no worker process is ready; connection closed'),
      null,
    );
  }

  /** Keeps `raw` (paused, unread) until a worker is ready; see the module comment. */
  #wait(raw: net.Socket): Promise<void> {
    return new Promise<void>((resolve) => {
      const timeout = this.#options.limits.frameTimeout;
      const timer =
        timeout > 0
          ? setTimeout(() => {
              if (this.#waiting.delete(raw)) {
                this.#refuseNoWorker(raw);
                resolve();
              }
            }, timerDelay(timeout))
          : null;
      timer?.unref();
      this.#waiting.set(raw, { resolve, timer });
      // A client that leaves while waiting frees its slot at once.
      raw.once('close', () => {
        const entry = this.#waiting.get(raw);
        if (entry !== undefined) {
          this.#waiting.delete(raw);
          clearTimeout(entry.timer ?? undefined);
          resolve();
        }
      });
    });
  }

  /**
   * Hands the waiting connections to the workers now ready, or closes them when none
   * is ready and none is starting (the replacement failed to load) or the server closes.
   */
  #flushWaiting(): void {
    const waiting = [...this.#waiting];
    this.#waiting.clear();
    for (const [raw, { resolve, timer }] of waiting) {
      clearTimeout(timer ?? undefined);
      this.serve(raw, null).then(resolve, resolve);
    }
  }

  #handOver(raw: net.Socket, slot: WorkerSlot): Promise<void> {
    const metrics = this.#options.metrics;
    this.#nextId += 1;
    const id = `w${slot.index}-${this.#nextId}`;
    metrics.connectionsOpen += 1;
    metrics.connectionsAccepted += 1;
    return new Promise<void>((resolve) => {
      slot.connections.set(id, {
        socket: raw,
        done: () => {
          metrics.connectionsOpen -= 1;
          resolve();
        },
      });
      const message: PrimaryMessage = { type: 'connection', id };
      slot.child.send(message, raw, { keepOpen: false }, (error) => {
        if (error !== null && error !== undefined && slot.connections.has(id)) {
          // The worker went away before the handle left (its exit may come later).
          raw.destroy();
          this.#reportError(
            new ConnectionError(
              'SB_WORKER_CRASHED',
              `worker process ${slot.index} exited before taking the connection`,
            ),
            id,
          );
          this.#settle(slot, id);
        }
      });
    });
  }

  #settle(slot: WorkerSlot, id: string): void {
    const entry = slot.connections.get(id);
    if (entry !== undefined) {
      slot.connections.delete(id);
      entry.done();
    }
  }

  liveTraffic(): LiveTraffic {
    const sum = { ...NO_LIVE_TRAFFIC };
    for (const slot of this.#slots) {
      sum.framesIn += slot.live.framesIn;
      sum.framesOut += slot.live.framesOut;
      sum.bytesIn += slot.live.bytesIn;
      sum.bytesOut += slot.live.bytesOut;
      sum.bufferedInput += slot.live.bufferedInput;
      sum.bufferedOutput += slot.live.bufferedOutput;
    }
    return sum;
  }

  async drain(timeout: number): Promise<number> {
    this.#closing = true;
    this.#flushWaiting(); // closed now, as 'closing' refusals: they were never served
    const answers = this.#slots
      .filter((slot) => slot.child.connected && slot.ready)
      .map(
        (slot) =>
          new Promise<number>((resolve) => {
            slot.drained = resolve;
            slot.member.flush(); // chat already relayed reaches the clients before they close
            slot.child.send({ type: 'drain', timeout } satisfies PrimaryMessage);
          }),
      );
    const destroyed = await Promise.all(answers);
    return destroyed.reduce((sum, count) => sum + count, 0);
  }

  async close(): Promise<void> {
    this.#closing = true;
    this.#flushWaiting();
    await Promise.all(
      this.#slots.map(
        (slot) =>
          new Promise<void>((resolve) => {
            slot.exiting = true;
            slot.liveness?.stop();
            if (slot.child.exitCode !== null || slot.child.signalCode !== null) {
              resolve();
              return;
            }
            const kill = setTimeout(() => slot.child.kill('SIGKILL'), EXIT_GRACE_MS);
            slot.child.once('exit', () => {
              clearTimeout(kill);
              resolve();
            });
            if (slot.child.connected) {
              slot.child.send({ type: 'exit' } satisfies PrimaryMessage);
            } else {
              slot.child.kill('SIGTERM');
            }
          }),
      ),
    );
  }

  #fork(index: number): Promise<void> {
    const options = this.#options;
    const handlerModule = 'module' in options.handler ? options.handler.module : null;
    const requestModule = options.requests?.onRequest ?? null;
    const execArgv =
      needsTypeScriptLoader(handlerModule) || needsTypeScriptLoader(requestModule)
        ? ['--import', tsxLoaderUrl()]
        : [];
    const child = fork(fileURLToPath(workerEntryUrl('process-worker')), [], {
      execArgv,
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const slot: WorkerSlot = {
      index,
      child,
      ready: false,
      exiting: false,
      connections: new Map(),
      live: NO_LIVE_TRAFFIC,
      drained: null,
      member: new FrameBatch(
        (frames, written) => sendChatBatch(child, frames, written),
        relayQueueLimit(options.limits.maxQueuedOutput),
        () => this.#relayOverflow(slot),
      ),
      liveness: null,
    };
    if (options.heartbeatInterval > 0) {
      slot.liveness = new WorkerLiveness(
        this.#livenessHost(slot),
        options.heartbeatInterval,
        options.unresponsiveTimeout,
        systemClock,
      );
    }
    const existing = this.#slots.findIndex((candidate) => candidate.index === index);
    if (existing === -1) {
      this.#slots.push(slot);
    } else {
      this.#slots[existing] = slot;
    }
    const {
      workers: _workers,
      metrics: _metrics,
      chatRoom: _chatRoom,
      heartbeatInterval: _heartbeatInterval,
      unresponsiveTimeout: _unresponsiveTimeout,
      ...shared
    } = options;
    const config: ProcessWorkerConfig = {
      ...shared,
      workerIndex: index,
      relayDiagnostics: primaryObserves(),
    };
    return new Promise<void>((resolve, reject) => {
      child.on('message', (message: ProcessWorkerMessage) =>
        this.#onMessage(slot, message, resolve, reject),
      );
      child.on('error', () => {
        // 'exit' follows and does the bookkeeping.
      });
      child.on('exit', (code, signal) => {
        this.#onExit(slot, code, signal);
        if (!slot.ready) {
          reject(
            new SwitchboardError(
              'SB_HANDLER_ERROR',
              `worker process exited (${signal ?? code}) before loading the handler`,
            ),
          );
        }
      });
      child.send({ type: 'init', config } satisfies PrimaryMessage);
    });
  }

  #onMessage(
    slot: WorkerSlot,
    message: ProcessWorkerMessage,
    ready: () => void,
    failed: (error: Error) => void,
  ): void {
    const metrics = this.#options.metrics;
    switch (message.type) {
      case 'ready':
        slot.ready = true;
        this.#options.chatRoom.join(slot.member);
        slot.liveness?.start();
        ready();
        this.#flushWaiting();
        return;
      case 'pong':
        slot.liveness?.pong();
        return;
      case 'diagnostic':
        publishRelayed(message.relayed);
        return;
      case 'load-error':
        failed(loadFailureError(message, 'handler failed to load in a worker process'));
        return;
      case 'closed':
        metrics.mergeDelta(message.delta);
        slot.live = message.live; // without the closed connection, now counted in the delta
        if (message.refusedProxyHeader) {
          metrics.recordRefusal('proxy_header');
        }
        this.#settle(slot, message.id);
        return;
      case 'metrics':
        metrics.mergeDelta(message.delta);
        slot.live = message.live;
        return;
      case 'chat':
        this.#options.chatRoom.postRun(slot.member, unpackFrames(message));
        return;
      case 'drained':
        slot.drained?.(message.destroyed);
        slot.drained = null;
        return;
    }
  }

  /**
   * Counts and publishes an error of worker `connectionId`'s connection, or (null) of a
   * worker itself. The primary does not know the remote address of a handed-over socket.
   */
  #reportError(error: SwitchboardError, connectionId: string | null): void {
    const where = { serverId: this.#options.serverId, connectionId, remoteAddress: '' };
    reportConnectionError(this.#options.metrics, where, error);
  }

  /** The worker stopped reading its chat relay: cut it (its clients drop) and fork a replacement. */
  #relayOverflow(slot: WorkerSlot): void {
    const limit = relayQueueLimit(this.#options.limits.maxQueuedOutput);
    const error = new ConnectionError(
      'SB_OUTPUT_QUEUE_FULL',
      `chat relay to worker process ${slot.index}: more than ${limit} bytes queued; the worker is restarted`,
    );
    this.#reportError(error, null);
    slot.child.kill('SIGKILL');
  }

  /** The heartbeat's actions on `slot` (see liveness.ts). */
  #livenessHost(slot: WorkerSlot): LivenessHost {
    return {
      sendPing: () => {
        if (slot.child.connected) {
          // Each ping also says whether the primary now has diagnostics subscribers.
          const ping: PrimaryMessage = { type: 'ping', relayDiagnostics: primaryObserves() };
          slot.child.send(ping, undefined, {}, () => undefined);
        }
      },
      onUnresponsive: () => {
        const grace = this.#options.unresponsiveTimeout;
        const error = new ConnectionError(
          'SB_WORKER_UNRESPONSIVE',
          `worker process ${slot.index} did not answer its heartbeat within ${DEFAULTS.workerHeartbeatMaxMissed * this.#options.heartbeatInterval} ms (${DEFAULTS.workerHeartbeatMaxMissed} pings ${this.#options.heartbeatInterval} ms apart); it gets no new connections${grace > 0 ? ` and is replaced unless it answers within ${grace} ms` : ''}`,
        );
        this.#reportError(error, null);
      },
      onResponsive: () => {
        // It gets connections again (serve() reads liveness.responsive).
      },
      onGraceExpired: () => {
        // SIGKILL works on a stopped process too; 'exit' then drops its connections
        // (SB_WORKER_CRASHED) and forks the replacement, as for a crash.
        slot.child.kill('SIGKILL');
      },
    };
  }

  #onExit(slot: WorkerSlot, code: number | null, signal: NodeJS.Signals | null): void {
    slot.liveness?.stop();
    this.#options.chatRoom.leave(slot.member);
    slot.live = NO_LIVE_TRAFFIC;
    slot.drained?.(slot.connections.size);
    slot.drained = null;
    closeUnacknowledgedHandle(slot.child);
    const orphans = [...slot.connections.keys()];
    for (const id of orphans) {
      // Sockets still queued for a worker that stopped reading its IPC channel (and
      // was killed) are open in the primary; the client would hang on them. Close
      // them (a no-op for a socket already handed over).
      slot.connections.get(id)?.socket.destroy();
      const error = new ConnectionError(
        'SB_WORKER_CRASHED',
        `worker process ${slot.index} exited (${signal ?? code})`,
      );
      this.#reportError(error, id);
      this.#settle(slot, id);
    }
    if (!this.#closing && !slot.exiting && slot.ready) {
      this.crashes += 1;
      this.#fork(slot.index).catch(() => {
        // A replacement that cannot load the handler leaves one worker fewer; the others keep serving.
      });
    } else if (this.#waiting.size > 0 && !this.#starting()) {
      // The last worker that could have taken the waiting connections failed to start.
      this.#flushWaiting();
    }
  }
}

/**
 * Node passes handles to a child one at a time and keeps the one in flight open
 * until the child acknowledges it; it is detached from its net.Socket, so
 * destroying that socket does not close it. A child that never acknowledges (it
 * was stopped, then killed) leaves the client's connection open in the primary
 * forever, because node also postpones its own cleanup until the acknowledgement.
 * So it is closed here, as node itself closes it on an ACK or a disconnect
 * (`closePendingHandle`). test/reliability/stopped-worker.test.ts checks that every
 * connection handed to a stopped worker ends once the worker is replaced.
 */
function closeUnacknowledgedHandle(child: ChildProcess): void {
  const internal = child as unknown as {
    _pendingMessage?: { handle?: { close?: () => void } } | null;
  };
  const pending = internal._pendingMessage;
  if (pending !== null && pending !== undefined) {
    internal._pendingMessage = null;
    pending.handle?.close?.();
  }
}
