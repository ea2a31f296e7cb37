/**
 * What crosses a worker boundary: the frame-handler contract of the `threads` model,
 * the messages between the thread pool (threads.ts) and its workers
 * (thread-worker.ts), and those between the `processes` primary (processes.ts) and its
 * worker processes (process-worker.ts).
 *
 * Types only. Why one module of its own: each side of each boundary needs the same
 * types, and when each took them from the other they imported each other in a circle
 * (threads.ts <-> thread-worker.ts <-> handlers.ts, processes.ts <-> process-worker.ts).
 * Every one of them now imports this module, which imports only types of leaf modules.
 *
 * Threads (parent <-> worker, over the worker's message port):
 * - parent -> worker, once: `workerData` ({@link ThreadWorkerData}).
 * - worker -> parent `{ type: 'ready' }` once the handler module is loaded, or
 *   `{ type: 'load-error', message, code }` (the worker then exits).
 * - parent -> worker {@link JobsMessage}; each `frame` owns its buffer
 *   (transferred, not copied).
 * - worker -> parent `{ type: 'results', results: JobResult[] }`.
 *
 * Processes (primary <-> worker, over the IPC channel): {@link PrimaryMessage} and
 * {@link ProcessWorkerMessage}; the sequence is described in processes.ts.
 */
import type { UnixAddress } from '../../net/address.js';
import type { TlsServerOptions } from '../../net/tls.js';
import type { LoadFailure } from '../handler-module.js';
import type { HandlerChoice } from '../handler-spec.js';
import type { ConnectionLimits } from '../limits.js';
import type { LiveTraffic, MetricsDelta } from '../metrics.js';
import type { RequestSettings } from '../request-handler.js';
import type { RelayedDiagnostic } from './diagnostics-relay.js';

/** What a frame handler learns about the frame's connection (plain data, cloneable). */
export interface FrameContext {
  /** The connection id. */
  readonly connectionId: string;
  /** Client address (PROXY-aware), e.g. `tcp://203.0.113.7:51000`. */
  readonly remoteAddress: string;
  /** Server address the client reached (PROXY-aware). */
  readonly localAddress: string;
  /** True when the addresses came from a PROXY header. */
  readonly proxied: boolean;
  /** 0-based number of this frame on its connection. */
  readonly sequence: number;
}

/** What a frame handler may return: replies to write in order, or nothing. */
export type FrameHandlerResult = Uint8Array | readonly Uint8Array[] | undefined | null;

/**
 * The contract of a `threads` handler module: its default export is called once
 * per frame in a worker thread and returns (or resolves to) the replies for that
 * frame. It must not keep state that other frames of the same connection rely on
 * (consecutive frames may run on different workers).
 */
export type FrameHandler = (
  frame: Uint8Array,
  context: FrameContext,
) => FrameHandlerResult | Promise<FrameHandlerResult> | void | Promise<void>;

/** Built-ins that exist as frame handlers (for `threads`). */
export type BuiltinFrameHandlerName = 'echo' | 'discard';

/** Which handler the workers run. */
export type PoolHandler = { builtin: BuiltinFrameHandlerName } | { module: string };

/** The `workerData` of a pool worker. */
export interface ThreadWorkerData {
  handler: PoolHandler;
  /** The URL of the `onRequest` module (request-handler.ts), or null. */
  request: string | null;
}

/** One frame to handle, as posted to a worker. */
export interface FrameJob {
  job: number;
  frame: Uint8Array;
  context: FrameContext;
  /** True: an sbp REQUEST body for the `onRequest` module (its one reply is the RESPONSE). */
  request?: boolean;
}

/** One job's outcome: its replies, or the handler's error text. */
export type JobResult = { job: number; replies: Uint8Array[] } | { job: number; error: string };

/** The pool's message to a worker: frames to handle. */
export interface JobsMessage {
  type: 'jobs';
  jobs: FrameJob[];
}

/** A message from a worker thread to the pool. */
export type ThreadWorkerMessage =
  | { type: 'ready' }
  | ({ type: 'load-error' } & LoadFailure)
  | { type: 'results'; results: JobResult[] };

/** Traffic of connections still open: declared beside the metrics that report it. */
export type { LiveTraffic };

/** Everything a worker process needs to serve connections (sent in its `init` message). */
export interface ProcessWorkerConfig {
  workerIndex: number;
  serverId: number;
  handler: HandlerChoice;
  framing: string;
  maxFrame: number;
  /** The server's connection limits; `maxBufferedInputTotal` and `maxBufferedOutputTotal` are this worker's shares (total / workers). */
  limits: ConnectionLimits;
  proxyProtocol: boolean;
  /** The listen address when it is a Unix socket (node reports no Unix peer address). */
  unixAddress: UnixAddress | null;
  tls: TlsServerOptions | null;
  /** Relay this worker's diagnostics to the primary from the start (diagnostics-relay.ts). */
  relayDiagnostics: boolean;
  /**
   * sbp requests and heartbeats (request-handler.ts), with `onRequest` as the module
   * URL the worker imports (a function cannot cross to a process); null = off.
   */
  requests: (Omit<RequestSettings, 'onRequest'> & { onRequest: string | null }) | null;
}

/** Chat frames as they cross IPC: their bytes in one buffer and their lengths. */
export interface ChatPacket {
  bytes: Uint8Array;
  lengths: Uint32Array;
}

/** A batch of chat frames, from the primary to a worker or back (processes.ts sendChatBatch). */
export type ChatMessage = { type: 'chat' } & ChatPacket;

/** Messages from the primary to a worker process. */
export type PrimaryMessage =
  | { type: 'init'; config: ProcessWorkerConfig }
  | { type: 'connection'; id: string }
  | ChatMessage
  | { type: 'drain'; timeout: number }
  | { type: 'ping'; relayDiagnostics: boolean }
  | { type: 'exit' };

/** Messages from a worker process to the primary. */
export type ProcessWorkerMessage =
  | { type: 'ready' }
  | ({ type: 'load-error' } & LoadFailure)
  | {
      type: 'closed';
      id: string;
      delta: MetricsDelta;
      live: LiveTraffic;
      refusedProxyHeader: boolean;
    }
  | { type: 'metrics'; delta: MetricsDelta; live: LiveTraffic }
  | ChatMessage
  | { type: 'drained'; destroyed: number }
  | { type: 'pong' }
  | { type: 'diagnostic'; relayed: RelayedDiagnostic };
