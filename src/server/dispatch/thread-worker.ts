/**
 * Entry of a `threads` dispatch worker: loads the frame handler once, then runs
 * one job per message and posts the replies back with the job's number.
 *
 * Protocol (parent <-> worker, over the worker's message port):
 * - worker -> parent `{ type: 'ready' }` once the handler module is loaded, or
 *   `{ type: 'load-error', message }` (the worker then exits).
 * - parent -> worker `{ type: 'job', job, frame, context }`; `frame` owns its buffer
 *   (transferred, not copied).
 * - worker -> parent `{ type: 'done', job, replies }` or `{ type: 'fail', job, message }`.
 *
 * Jobs may complete out of order (async handlers); the parent restores order per
 * connection.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { BUILTIN_FRAME_HANDLERS, type BuiltinFrameHandlerName } from '../handlers.js';
import type { FrameContext, FrameHandler } from './threads.js';

interface JobMessage {
  type: 'job';
  job: number;
  frame: Uint8Array;
  context: FrameContext;
}

type HandlerSpec = { builtin: BuiltinFrameHandlerName } | { module: string };

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

/** Buffers that can be moved to the parent without copying (whole, unshared). */
function transferable(replies: Uint8Array[]): { replies: Uint8Array[]; transfer: ArrayBuffer[] } {
  const transfer: ArrayBuffer[] = [];
  const out = replies.map((reply) => {
    const whole = reply.byteOffset === 0 && reply.byteLength === reply.buffer.byteLength;
    if (whole && reply.buffer instanceof ArrayBuffer && !transfer.includes(reply.buffer)) {
      transfer.push(reply.buffer);
      return reply;
    }
    return new Uint8Array(reply); // a copy (Buffer#slice would be a view)
  });
  return { replies: out, transfer };
}

async function loadHandler(spec: HandlerSpec): Promise<FrameHandler> {
  if ('builtin' in spec) {
    return BUILTIN_FRAME_HANDLERS[spec.builtin];
  }
  const loaded = (await import(spec.module)) as { default?: unknown };
  if (typeof loaded.default !== 'function') {
    throw new TypeError(`handler module has no default export function: ${spec.module}`);
  }
  return loaded.default as FrameHandler;
}

const spec = (workerData as { handler: HandlerSpec }).handler;
loadHandler(spec).then(
  (handler) => {
    port.on('message', (message: JobMessage) => {
      const { job } = message;
      let pending: ReturnType<FrameHandler>;
      try {
        pending = handler(message.frame, message.context);
      } catch (error) {
        port.postMessage({ type: 'fail', job, message: describe(error) });
        return;
      }
      Promise.resolve(pending).then(
        (result: unknown) => {
          let packed: { replies: Uint8Array[]; transfer: ArrayBuffer[] };
          try {
            packed = transferable(normalize(result));
          } catch (error) {
            port.postMessage({ type: 'fail', job, message: describe(error) });
            return;
          }
          port.postMessage({ type: 'done', job, replies: packed.replies }, packed.transfer);
        },
        (error: unknown) => {
          port.postMessage({ type: 'fail', job, message: describe(error) });
        },
      );
    });
    port.postMessage({ type: 'ready' });
  },
  (error: unknown) => {
    port.postMessage({ type: 'load-error', message: describe(error) });
    process.exitCode = 1;
    port.close();
  },
);

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
