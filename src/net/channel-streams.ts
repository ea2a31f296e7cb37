/**
 * Web streams over a Channel (`channel.readable`, `channel.writable`), with
 * backpressure end to end.
 *
 * Theory of operation:
 * - Readable: a pull source with a high-water mark of 0 frames, so it calls
 *   `channel.receive()` only when its reader asks for a message. Until then messages
 *   wait in the channel's own bounded inbound queue; when that is full the channel
 *   stops reading its socket and the peer meets TCP flow control. `null` (a clean end
 *   of input) closes the stream; a channel error errors it with the same coded error.
 *   `cancel()` closes the channel gracefully (queued output is still flushed).
 * - Writable: `write()` is `channel.send()`, whose promise resolves once the socket's
 *   queue is below its high-water mark, so a pipe into it waits for a slow peer; the
 *   stream's own queue holds one message (high-water mark 1). `close()` is
 *   `channel.shutdown()` (half-close; in `sbp` mode a CLOSE envelope): the peer sees the
 *   end of input and can still answer. `abort(reason)` destroys the channel: its
 *   calls then fail with `SB_ABORTED`, `reason` as the error's cause.
 *
 * Use either the streams or `receive()`/`send()` on one side of a channel, not both:
 * they share the one inbound queue.
 */

import { ConnectionError } from '../errors.js';

/**
 * What the streams use of a Channel. An interface rather than an import of the class:
 * channel.ts imports this module, and src/ has no import cycles, type-only ones included.
 */
export interface StreamableChannel {
  receive(): Promise<Uint8Array | null>;
  send(message: Uint8Array | string): Promise<void>;
  shutdown(): Promise<void>;
  close(): Promise<void>;
  destroy(error?: Error): void;
}

/** The `readable` side of a channel: one Uint8Array per message. */
export function channelReadable(channel: StreamableChannel): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const message = await channel.receive();
        if (message === null) {
          controller.close();
        } else {
          controller.enqueue(message);
        }
      },
      cancel() {
        return channel.close();
      },
    },
    { highWaterMark: 0 },
  );
}

/** The `writable` side of a channel: each chunk is one message (a string is UTF-8). */
export function channelWritable(channel: StreamableChannel): WritableStream<Uint8Array | string> {
  return new WritableStream<Uint8Array | string>(
    {
      write(message) {
        return channel.send(message);
      },
      close() {
        return channel.shutdown();
      },
      abort(reason: unknown) {
        // The local caller gave up: every pending and later call fails with SB_ABORTED
        // (the reason as its cause), as an aborted call does. Destroying with the
        // reason itself made it SB_NETWORK_ERROR, as if the wire had failed.
        channel.destroy(
          new ConnectionError('SB_ABORTED', "the channel's writable stream was aborted", {
            cause: reason,
          }),
        );
      },
    },
    { highWaterMark: 1 },
  );
}
