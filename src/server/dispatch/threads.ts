/**
 * `threads` dispatch: socket I/O on the main thread, frame handling in a
 * `worker_threads` pool.
 *
 * Theory of operation
 * -------------------
 * The main thread accepts, reads and decodes frames exactly as in the `loop`
 * model. Each decoded frame becomes a job: the frame is copied once into a buffer
 * of its own and transferred (not cloned) to the least-busy worker, together with
 * a {@link FrameContext}. The worker runs the handler module's default export and
 * transfers the replies back. Jobs of one connection may finish out of order (two
 * workers, async handlers), so each connection numbers its frames and writes the
 * replies strictly in that order ({@link OrderedReplies}).
 *
 * Backpressure: a connection has at most {@link MAX_FRAMES_IN_FLIGHT} jobs
 * outstanding, fewer when many connections are busy (each gets a share of
 * {@link POOL_FRAMES_PER_WORKER} per worker, see ThreadPool.frameLimit); past that it
 * stops reading until a reply is written, so a fast client cannot queue unbounded work
 * in the pool, and a flood of tiny frames from many clients does not put thousands of
 * jobs ahead of a good client's one.
 *
 * Requests (`onRequest` in the workers): the connection's Channel times each one
 * out (`requestTimeout`) and frees its `maxPendingRequests` place, but a handler
 * that never settles keeps its job in the worker, where nothing can cancel it. So
 * the pool bounds the requests it holds unfinished, timed out or not, at
 * `maxRequestJobs` (`DEFAULTS.threadsMaxRequestsPerWorker` per worker); past that a
 * request is answered at once with `SB_TOO_MANY_REQUESTS` instead of queueing
 * behind hung ones without limit. A finished (or crashed) job frees its place.
 *
 * Failure: a handler that throws fails its job, and the server closes that
 * connection with `SB_HANDLER_ERROR`. A worker that dies fails its outstanding
 * jobs with `SB_WORKER_CRASHED` (only those connections close) and is replaced.
 */
import { Worker } from 'node:worker_threads';
import { ConnectionError, SwitchboardError } from '../../errors.js';
import { Fifo } from '../../fifo.js';
import { afterIo } from '../../net/schedule.js';
import { DEFAULTS } from '../../options.js';
import { type ConnectionBody, markInputFirst, type ResumableInfo } from '../connection-handler.js';
import { loadFailureError } from '../handler-module.js';
import type { ServerMetrics } from '../metrics.js';
import type { ServerRequestHandler } from '../request-handler.js';
import { inheritableExecArgv, needsTypeScriptLoader, tsxApiUrl, workerEntryUrl } from './entry.js';
import type {
  FrameContext,
  FrameJob,
  JobsMessage,
  PoolHandler,
  ThreadWorkerData,
  ThreadWorkerMessage,
} from './protocol.js';

/** Frames of one connection being handled in the pool at once before it stops reading. */
export const MAX_FRAMES_IN_FLIGHT = 64;

/**
 * Frames per worker the pool aims to hold at once, shared among the connections that
 * have one in it: past 4 busy connections per worker, each gets fewer than
 * {@link MAX_FRAMES_IN_FLIGHT} (at least 1). Why: a worker takes its jobs in order, so
 * a frame waits behind every frame already given to it; with each of 100 flooding
 * connections holding 64, a good client's one frame waited behind 6,400. Now it waits
 * behind about this many per worker, whatever the number of connections, and a batch
 * to a worker still carries hundreds of frames (the message round trip stays
 * amortized). A connection whose frames never finish holds only its own share.
 */
export const POOL_FRAMES_PER_WORKER = 256;

interface Job {
  resolve(replies: Uint8Array[]): void;
  reject(error: SwitchboardError): void;
}

/** A request job's promise callbacks that give its place in the pool's bound back once. */
function countedJob(job: Job, release: () => void): Job {
  let released = false;
  const once = (): void => {
    if (!released) {
      released = true;
      release();
    }
  };
  return {
    resolve: (replies) => {
      once();
      job.resolve(replies);
    },
    reject: (error) => {
      once();
      job.reject(error);
    },
  };
}

interface PoolWorker {
  worker: Worker;
  jobs: Map<number, Job>;
  /** Jobs assigned this turn, posted together by the next flush. */
  batch: FrameJob[];
  transfer: ArrayBuffer[];
}

/** A fixed-size pool of worker threads running one frame handler. */
export class ThreadPool {
  readonly #handler: PoolHandler;
  /** URL of the `onRequest` module each worker loads too, or null. */
  readonly #requestModule: string | null;
  readonly #workers: PoolWorker[] = [];
  /**
   * Jobs not yet given to a worker (only while no worker is up): a {@link Fifo}, since
   * frames keep arriving while a worker is replaced and `Array.prototype.shift` is O(n)
   * per job on a long array.
   */
  readonly #waiting = new Fifo<{
    frame: Uint8Array;
    context: FrameContext;
    request: boolean;
    job: Job;
  }>();
  #nextJob = 0;
  #flushScheduled = false;
  /** Workers forked and not yet ready (or dead). */
  #starting = 0;
  #closing = false;
  /** Workers that crashed and were replaced. */
  crashes = 0;
  /** Request jobs given to the pool and not yet finished (timed out ones included). */
  #requestJobs = 0;
  /** Connections with at least one frame in the pool (see {@link frameLimit}). */
  #busyConnections = 0;
  readonly #size: number;
  readonly #maxRequestJobs: number;

  private constructor(
    size: number,
    handler: PoolHandler,
    requestModule: string | null,
    maxRequestJobs: number,
  ) {
    this.#size = size;
    this.#handler = handler;
    this.#requestModule = requestModule;
    this.#maxRequestJobs = maxRequestJobs;
  }

  /**
   * Starts `size` workers and resolves once each has loaded the handler (and the
   * `onRequest` module, when `requestModule` is given).
   */
  static async start(
    size: number,
    handler: PoolHandler,
    requestModule: string | null = null,
    maxRequestJobs: number = size * DEFAULTS.threadsMaxRequestsPerWorker,
  ): Promise<ThreadPool> {
    const pool = new ThreadPool(size, handler, requestModule, maxRequestJobs);
    try {
      await Promise.all(Array.from({ length: size }, () => pool.#spawn()));
    } catch (error) {
      await pool.close();
      throw error;
    }
    return pool;
  }

  /** Number of live workers. */
  get size(): number {
    return this.#workers.length;
  }

  /**
   * Frames one connection may have in the pool now: {@link POOL_FRAMES_PER_WORKER} per
   * worker shared among the busy connections, between 1 and {@link MAX_FRAMES_IN_FLIGHT}.
   */
  frameLimit(): number {
    const share = Math.floor((POOL_FRAMES_PER_WORKER * this.#size) / (this.#busyConnections || 1));
    return Math.max(1, Math.min(MAX_FRAMES_IN_FLIGHT, share));
  }

  /** A connection's first frame entered the pool (+1), or its last one left it (-1). */
  connectionBusy(delta: 1 | -1): void {
    this.#busyConnections += delta;
  }

  /** Connections with at least one frame in the pool. */
  get busyConnections(): number {
    return this.#busyConnections;
  }

  /** Jobs given to the pool and not yet answered (waiting for a worker or in one). */
  get pending(): number {
    let jobs = this.#waiting.length;
    for (const entry of this.#workers) {
      jobs += entry.jobs.size;
    }
    return jobs;
  }

  /** Request jobs in the pool, unfinished (a timed-out one counts until its handler settles). */
  get requestJobs(): number {
    return this.#requestJobs;
  }

  /**
   * Runs the handler on `frame` in the least-busy worker. `frame` is copied once.
   * While no worker is up (a crashed one being replaced), jobs wait for the replacement.
   */
  run(frame: Uint8Array, context: FrameContext, request = false): Promise<Uint8Array[]> {
    if (this.#closing) {
      return Promise.reject(new ConnectionError('SB_WORKER_CRASHED', 'the thread pool is closed'));
    }
    if (this.#workers.length === 0 && this.#starting === 0) {
      return Promise.reject(
        new ConnectionError('SB_WORKER_CRASHED', 'no worker thread is running'),
      );
    }
    if (request && this.#requestJobs >= this.#maxRequestJobs) {
      return Promise.reject(
        new SwitchboardError(
          'SB_TOO_MANY_REQUESTS',
          `the thread pool holds ${this.#requestJobs} unfinished requests (its limit)`,
        ),
      );
    }
    // A copy with a buffer of its own (Buffer#slice would be a view), so transferring it detaches nothing else.
    const own = new Uint8Array(frame);
    return new Promise<Uint8Array[]>((resolve, reject) => {
      let job: Job = { resolve, reject };
      if (request) {
        this.#requestJobs += 1;
        job = countedJob(job, () => {
          this.#requestJobs -= 1;
        });
      }
      this.#waiting.push({ frame: own, context, request, job });
      this.#dispatchWaiting();
    });
  }

  #dispatchWaiting(): void {
    while (this.#waiting.length > 0 && this.#workers.length > 0) {
      let target = this.#workers[0]!;
      for (const candidate of this.#workers) {
        if (candidate.jobs.size < target.jobs.size) {
          target = candidate;
        }
      }
      const { frame, context, request, job } = this.#waiting.shift()!;
      const id = this.#nextJob++;
      target.jobs.set(id, job);
      target.batch.push(
        request ? { job: id, frame, context, request } : { job: id, frame, context },
      );
      target.transfer.push(frame.buffer as ArrayBuffer);
      if (!this.#flushScheduled) {
        this.#flushScheduled = true;
        afterIo(this.#flush);
      }
    }
  }

  /** Posts each worker's batch as one message (a port round trip per frame costs too much). */
  readonly #flush = (): void => {
    this.#flushScheduled = false;
    for (const entry of this.#workers) {
      if (entry.batch.length > 0) {
        entry.worker.postMessage(
          { type: 'jobs', jobs: entry.batch } satisfies JobsMessage,
          entry.transfer,
        );
        entry.batch = [];
        entry.transfer = [];
      }
    }
  };

  /** Terminates every worker; outstanding jobs fail with `SB_WORKER_CRASHED`. */
  async close(): Promise<void> {
    this.#closing = true;
    for (const { job } of this.#waiting.takeAll()) {
      job.reject(new ConnectionError('SB_WORKER_CRASHED', 'the thread pool is closed'));
    }
    const workers = this.#workers.splice(0);
    await Promise.all(workers.map((entry) => entry.worker.terminate()));
  }

  #spawn(): Promise<void> {
    this.#starting += 1;
    let counted = true;
    const started = (): void => {
      if (counted) {
        counted = false;
        this.#starting -= 1;
      }
    };
    const needsTs =
      needsTypeScriptLoader('module' in this.#handler ? this.#handler.module : null) ||
      needsTypeScriptLoader(this.#requestModule);
    const entry = workerEntryUrl('thread-worker');
    const workerData: ThreadWorkerData = { handler: this.#handler, request: this.#requestModule };
    const execArgv = inheritableExecArgv();
    const worker = needsTs
      ? new Worker(
          `import(${JSON.stringify(tsxApiUrl())}).then((api) => { api.register(); return import(${JSON.stringify(entry.href)}); })`,
          { eval: true, workerData, execArgv },
        )
      : new Worker(entry, { workerData, execArgv });
    const entryRecord: PoolWorker = { worker, jobs: new Map(), batch: [], transfer: [] };
    return new Promise<void>((resolve, reject) => {
      let ready = false;
      worker.on('message', (message: ThreadWorkerMessage) => {
        switch (message.type) {
          case 'ready':
            ready = true;
            started();
            this.#workers.push(entryRecord);
            resolve();
            this.#dispatchWaiting();
            return;
          case 'load-error':
            reject(loadFailureError(message, 'handler module failed to load'));
            return;
          case 'results':
            for (const result of message.results) {
              const job = entryRecord.jobs.get(result.job);
              entryRecord.jobs.delete(result.job);
              if ('replies' in result) {
                job?.resolve(result.replies);
              } else {
                // The handler's error goes in `cause`, as in the loop model: its message
                // may quote the frame (V8's JSON.parse error does), and ours never echo peer bytes.
                job?.reject(
                  new SwitchboardError('SB_HANDLER_ERROR', 'the frame handler threw', {
                    cause: new Error(result.error),
                  }),
                );
              }
            }
            return;
        }
      });
      let crash: Error | undefined;
      worker.on('error', (error) => {
        // An uncaught exception or unhandled rejection in the worker (its default is to
        // exit): kept, so that the jobs it fails say why rather than only an exit code.
        crash = error;
        if (!ready) {
          reject(
            new SwitchboardError('SB_HANDLER_ERROR', `worker failed to start: ${error.message}`, {
              cause: error,
            }),
          );
        }
      });
      worker.on('exit', (exitCode) => {
        started();
        const index = this.#workers.indexOf(entryRecord);
        if (index !== -1) {
          this.#workers.splice(index, 1);
        }
        for (const job of entryRecord.jobs.values()) {
          job.reject(
            new ConnectionError(
              'SB_WORKER_CRASHED',
              crash === undefined
                ? `worker thread exited with code ${exitCode}`
                : `worker thread exited with code ${exitCode} after an uncaught ${crash.name}`,
              crash === undefined ? {} : { cause: crash },
            ),
          );
        }
        entryRecord.jobs.clear();
        if (!ready) {
          reject(
            new SwitchboardError(
              'SB_HANDLER_ERROR',
              `worker exited with code ${exitCode} before loading the handler`,
            ),
          );
          return;
        }
        if (!this.#closing) {
          this.crashes += 1;
          this.#spawn().catch((error: unknown) => {
            // No replacement: if no worker is left, frames waiting for one would wait forever.
            if (this.#workers.length === 0) {
              const reason = new ConnectionError(
                'SB_WORKER_CRASHED',
                'no worker thread could be restarted',
                {
                  cause: error,
                },
              );
              for (const { job } of this.#waiting.takeAll()) {
                job.reject(reason);
              }
            }
          });
        }
      });
    });
  }
}

/**
 * The `onRequest` of a `threads` server: each REQUEST body runs in the pool (the
 * workers' `onRequest` module) and its one reply is the RESPONSE. The Channel on the
 * main thread bounds and times the request (net/sbp-session.ts); a late reply is dropped.
 */
export function poolRequestHandler(pool: ThreadPool): ServerRequestHandler {
  return (body, context) =>
    pool.run(body, { ...context, sequence: -1 }, true).then((replies) => replies[0] ?? EMPTY);
}

const EMPTY = new Uint8Array(0);

/**
 * Writes per-connection replies in frame order even when jobs finish out of
 * order: results are parked by sequence number until every earlier one is out.
 */
export class OrderedReplies {
  readonly #parked = new Map<number, Uint8Array[]>();
  #next: number;
  readonly #write: (replies: Uint8Array[]) => void;

  /** `first`: the sequence number of the first frame to come (frames before it are done). */
  constructor(write: (replies: Uint8Array[]) => void, first = 0) {
    this.#write = write;
    this.#next = first;
  }

  /** Frames whose replies are parked, waiting for an earlier one. */
  get parked(): number {
    return this.#parked.size;
  }

  /** Records the replies of frame `sequence` and writes every reply now in order. */
  complete(sequence: number, replies: Uint8Array[]): void {
    this.#parked.set(sequence, replies);
    for (;;) {
      const ready = this.#parked.get(this.#next);
      if (ready === undefined) {
        return;
      }
      this.#parked.delete(this.#next);
      this.#next += 1;
      this.#write(ready);
    }
  }
}

/**
 * The connection body of the `threads` model: reads frames on the main thread,
 * runs each in the pool, writes replies in frame order. At most
 * {@link ThreadPool.frameLimit} frames per connection are in the pool at once, and
 * reading also waits while the socket's output is above its high-water mark.
 */
export function poolBody(pool: ThreadPool, metrics: ServerMetrics): ConnectionBody {
  // Input-first: nothing happens before the first frame, so idle connections stay dormant (#8).
  return markInputFirst(async (channel, info) => {
    // Frame numbers go on across the runs an idle connection's sleeps cause (markInputFirst).
    const resumable = info as ResumableInfo;
    let sequence = resumable.resumeState;
    let inFlight = 0;
    let failure: unknown = null;
    let wake: (() => void) | null = null;
    let lastSend: Promise<void> = Promise.resolve();
    let fulfilled: Promise<void> | undefined;
    const fail = (error: unknown): void => {
      if (failure === null) {
        failure = error;
        channel.destroy(error instanceof Error ? error : new Error(String(error)));
      }
    };
    const ordered = new OrderedReplies((replies) => {
      for (const reply of replies) {
        if (failure !== null) {
          return;
        }
        lastSend = channel.send(reply);
        lastSend.catch(fail);
      }
    }, sequence);
    const settle = (): void => {
      inFlight -= 1;
      if (inFlight === 0) {
        pool.connectionBusy(-1);
      }
      const waiter = wake;
      wake = null;
      waiter?.();
    };
    const context = {
      connectionId: info.id,
      remoteAddress: info.remoteAddress,
      localAddress: info.localAddress,
      proxied: info.proxied,
    };
    for (;;) {
      // The limit is the pool's share for each busy connection (frameLimit), at most
      // MAX_FRAMES_IN_FLIGHT; it may fall while this one waits, and its own next reply
      // wakes it (it waits only with a frame in the pool).
      while (inFlight >= pool.frameLimit() && failure === null) {
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
      }
      if (failure !== null) {
        throw failure;
      }
      // Awaits only what may be pending: a send whose promise is not already known to be
      // fulfilled (send() returns one shared settled promise below the high-water mark;
      // see echoBody), and receive() only when no frame is queued (tryReceive()).
      if (lastSend !== fulfilled) {
        await lastSend;
        fulfilled = lastSend;
      }
      let frame = channel.tryReceive();
      if (frame === undefined) {
        frame = await channel.receive();
      }
      if (frame === null) {
        break;
      }
      const frameSequence = sequence;
      sequence += 1;
      resumable.resumeState = sequence;
      inFlight += 1;
      if (inFlight === 1) {
        pool.connectionBusy(1);
      }
      const started = performance.now();
      // The pool's copy of the frame counts in the server's input budget until answered.
      const held = frame.length;
      channel.holdInput(held);
      pool
        .run(frame, { ...context, sequence: frameSequence })
        .then((replies) => {
          metrics.handlerLatency.frame.observe(performance.now() - started);
          ordered.complete(frameSequence, replies);
        }, fail)
        // Not .finally(): it would pass a throw from the reaction above on, to a
        // promise nobody handles (#14). The reply may come after the connection died.
        .then(
          () => {
            channel.holdInput(-held);
            settle();
          },
          (error: unknown) => {
            channel.holdInput(-held);
            fail(error);
            settle();
          },
        );
    }
    while (inFlight > 0) {
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
    }
    // The last reply may still wait for the socket to drain (a large echo): returning
    // now would start the graceful close under it, and that send would then fail with
    // SB_CONNECTION_CLOSED although every byte was delivered (#14).
    await lastSend.catch(() => undefined);
    if (failure !== null) {
      throw failure;
    }
  });
}
