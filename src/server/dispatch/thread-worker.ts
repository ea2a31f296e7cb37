/**
 * Entry of a `threads` dispatch worker: loads the frame handler once, then runs
 * the jobs it is sent and posts the replies back with each job's number.
 *
 * The protocol and its message types are in protocol.ts.
 *
 * Both directions batch: everything produced in one turn of the event loop
 * travels in one message (flushed with setImmediate), because a message-port
 * round trip costs far more than handling a small frame. Jobs may complete out of
 * order (async handlers); the parent restores order per connection.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { afterIo } from '../../net/schedule.js';
import { loadFailure } from '../handler-module.js';
import { loadFrameHandler } from '../handlers.js';
import { loadRequestHandler, type ServerRequestHandler } from '../request-handler.js';
import type {
  FrameJob,
  JobResult,
  JobsMessage,
  ThreadWorkerData,
  ThreadWorkerMessage,
} from './protocol.js';

const port = parentPort;
if (port === null) {
  throw new Error('thread-worker must run inside a worker thread');
}

function normalize(result: unknown): Uint8Array[] {
  if (result === undefined || result === null) {
    return [];
  }
  if (result instanceof Uint8Array) {
    return [result];
  }
  if (Array.isArray(result) && result.every((item) => item instanceof Uint8Array)) {
    return result;
  }
  throw new TypeError('a frame handler must return a Uint8Array, an array of them, or nothing');
}

let outbox: JobResult[] = [];
let outboxTransfer = new Set<ArrayBuffer>();
let flushScheduled = false;

function flush(): void {
  flushScheduled = false;
  const results = outbox;
  const transfer = [...outboxTransfer];
  outbox = [];
  outboxTransfer = new Set();
  port!.postMessage({ type: 'results', results } satisfies ThreadWorkerMessage, transfer);
}

function post(result: JobResult): void {
  outbox.push(result);
  if (!flushScheduled) {
    flushScheduled = true;
    afterIo(flush);
  }
}

/** Moves whole, unshared reply buffers to the parent without copying; copies the rest. */
function transferable(replies: Uint8Array[]): Uint8Array[] {
  return replies.map((reply) => {
    const whole = reply.byteOffset === 0 && reply.byteLength === reply.buffer.byteLength;
    if (whole && reply.buffer instanceof ArrayBuffer && !outboxTransfer.has(reply.buffer)) {
      outboxTransfer.add(reply.buffer);
      return reply;
    }
    return new Uint8Array(reply); // a copy (Buffer#slice would be a view)
  });
}

/** The `onRequest` module's default export, or null (request-handler.ts). */
async function loadRequest(url: string | null): Promise<ServerRequestHandler | null> {
  return url === null ? null : loadRequestHandler(url);
}

/** A request handler's reply as the one-element reply list a job returns. */
function requestReply(reply: unknown): Uint8Array[] {
  if (typeof reply === 'string') {
    return [Buffer.from(reply, 'utf8')];
  }
  if (reply instanceof Uint8Array) {
    return [reply];
  }
  throw new TypeError('an onRequest handler must return a Uint8Array or a string');
}

const data = workerData as ThreadWorkerData;
Promise.all([loadFrameHandler(data.handler), loadRequest(data.request ?? null)]).then(
  ([frameHandler, requestHandler]) => {
    const run = ({ job, frame, context, request }: FrameJob): void => {
      let pending: unknown;
      try {
        pending =
          request === true && requestHandler !== null
            ? requestHandler(frame, context)
            : frameHandler(frame, context);
      } catch (error) {
        post({ job, error: describe(error) });
        return;
      }
      Promise.resolve(pending).then(
        (result: unknown) => {
          try {
            post({
              job,
              replies: transferable(request === true ? requestReply(result) : normalize(result)),
            });
          } catch (error) {
            post({ job, error: describe(error) });
          }
        },
        (error: unknown) => post({ job, error: describe(error) }),
      );
    };
    port.on('message', (message: JobsMessage) => {
      for (const job of message.jobs) {
        run(job);
      }
    });
    port.postMessage({ type: 'ready' } satisfies ThreadWorkerMessage);
  },
  (error: unknown) => {
    port.postMessage({ type: 'load-error', ...loadFailure(error) } satisfies ThreadWorkerMessage);
    process.exitCode = 1;
    port.close();
  },
);

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
