/**
 * A plain node:net echo server that records every chunk it receives, for the fault
 * proxy and Toxiproxy tests: what reached the target is compared byte for byte with
 * what the client sent. Half-close is echoed (allowHalfOpen). Each test file passes
 * its cleanup list; the server and every accepted socket close there.
 */
import net from 'node:net';

/** The echo server and what it has received. */
export interface RecordingEcho {
  server: net.Server;
  port: number;
  chunks: Buffer[];
  sockets: Set<net.Socket>;
  received(): Buffer;
}

/** Starts a recording echo server on 127.0.0.1:0 (or a Unix path); `cleanups` closes it. */
export async function startRecordingEcho(
  cleanups: (() => Promise<void> | void)[],
  listen: { port: number } | { path: string } = { port: 0 },
): Promise<RecordingEcho> {
  const chunks: Buffer[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      socket.write(chunk);
    });
    socket.on('end', () => socket.end());
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => {
    if ('path' in listen) {
      server.listen(listen.path, resolve);
    } else {
      server.listen(0, '127.0.0.1', resolve);
    }
  });
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) {
          socket.destroy();
        }
        server.close(() => resolve());
      }),
  );
  const address = server.address();
  return {
    server,
    port: typeof address === 'object' && address !== null ? address.port : 0,
    chunks,
    sockets,
    received: () => Buffer.concat(chunks),
  };
}
