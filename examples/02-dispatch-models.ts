/**
 * HOWTO "Creating a Socket": "There's actually 3 general ways in which this loop could
 * work - dispatching a thread to handle clientsocket, create a new process to handle
 * clientsocket, or restructure this app to use non-blocking sockets, and multiplex
 * between our server socket and any active clientsockets using select."
 *
 * Run: npx tsx examples/02-dispatch-models.ts
 *
 * `createServer` runs that mainloop for you, with the model as one option:
 * - `dispatch: 'loop'` (default): one event loop multiplexes every connection (the
 *   select way); the handler is a function `(channel, info)`.
 * - `dispatch: 'threads'`: I/O stays on the main event loop, a worker_threads pool runs
 *   a frame handler module (examples/handlers/shout-frame.ts) once per frame.
 * - `dispatch: 'processes'`: N worker processes each serve whole connections, handed
 *   over as socket handles, with a connection handler module
 *   (examples/handlers/shout-connection.ts).
 * Limits (maxConnections, idleTimeout, frameTimeout, ...) are the same in all three.
 */
import { threadId } from 'node:worker_threads';
import { type Channel, createServer, openChannel } from 'switchboard';

const here = (name: string): string => new URL(`./handlers/${name}`, import.meta.url).pathname;

async function ask(address: string, message: string): Promise<string> {
  await using channel = await openChannel(address, { framing: 'line', timeout: 5_000 });
  await channel.send(message);
  return new TextDecoder().decode((await channel.receive({ timeout: 5_000 })) ?? new Uint8Array());
}

// 1. loop: the handler runs on this very thread and process.
{
  await using server = await createServer({
    framing: 'line',
    handler: async (channel: Channel) => {
      for await (const message of channel) {
        await channel.send(
          `${new TextDecoder().decode(message).toUpperCase()} from thread ${threadId} pid ${process.pid}`,
        );
      }
    },
  });
  const reply = await ask(server.address, 'select way');
  console.log(
    `loop: ${reply.split(' from ')[0]}, served by this thread and process: ${reply.endsWith(`thread ${threadId} pid ${process.pid}`)}`,
  );
}

// 2. threads: each frame is handled in a worker thread (thread ids start at 1; this is 0).
{
  await using server = await createServer({
    framing: 'line',
    dispatch: 'threads',
    workers: 2,
    handler: here('shout-frame.ts'),
  });
  const reply = await ask(server.address, 'thread way');
  const worker = Number(/from thread (\d+)$/.exec(reply)?.[1]);
  console.log(
    `threads: ${reply.split(' from ')[0]}, served by a worker thread: ${worker !== threadId && worker > 0}`,
  );
}

// 3. processes: the connection itself is handed to a worker process.
{
  await using server = await createServer({
    framing: 'line',
    dispatch: 'processes',
    workers: 2,
    handler: here('shout-connection.ts'),
  });
  const reply = await ask(server.address, 'process way');
  const pid = Number(/from pid (\d+)$/.exec(reply)?.[1]);
  console.log(
    `processes: ${reply.split(' from ')[0]}, served by one of the ${server.workerPids.length} worker processes: ${server.workerPids.includes(pid) && pid !== process.pid}`,
  );
}
console.log('all three servers closed gracefully');
