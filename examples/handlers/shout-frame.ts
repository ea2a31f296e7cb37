/**
 * A frame handler module for examples/02-dispatch-models.ts (`dispatch: 'threads'`):
 * its default export is called once per frame in a worker thread (the connection's
 * I/O stays on the main thread). It returns the reply, saying which thread made it.
 */
import { threadId } from 'node:worker_threads';
import type { FrameHandler } from 'switchboard';

const shout: FrameHandler = (frame) => {
  const reply = `${new TextDecoder().decode(frame).toUpperCase()} from thread ${threadId}`;
  return new TextEncoder().encode(reply);
};
export default shout;
