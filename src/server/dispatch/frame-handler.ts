/**
 * The frame-handler contract of the `threads` model, and the messages between the
 * pool (threads.ts, main thread) and its workers (thread-worker.ts).
 *
 * Types only. Why a module of its own: the pool, the worker entry and the built-in
 * handlers (handlers.ts) all need these types, and when each took them from another
 * they imported each other in a circle (threads.ts <-> thread-worker.ts <->
 * handlers.ts). Every one of them now imports this module, which imports nothing.
 *
 * Protocol (parent <-> worker, over the worker's message port):
 * - parent -> worker, once: `workerData = { handler: PoolHandler, request: string | null }`
 *   (`request`: the URL of the `onRequest` module, request-handler.ts).
 * - worker -> parent `{ type: 'ready' }` once the handler module is loaded, or
 *   `{ type: 'load-error', message }` (the worker then exits).
 * - parent -> worker `{ type: 'jobs', jobs: FrameJob[] }`; each `frame` owns its buffer
 *   (transferred, not copied).
 * - worker -> parent `{ type: 'results', results: JobResult[] }`.
 */

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

/** A message from a worker to the pool. */
export type WorkerMessage =
  | { type: 'ready' }
  | { type: 'load-error'; message: string }
  | { type: 'results'; results: JobResult[] };
