/**
 * HOWTO "Creating a Socket": client sockets and the server socket.
 *
 * Run: npx tsx examples/01-creating-sockets.ts
 *
 * A "server" socket (a {@link Listener}) is a switchboard operator: it never sends or
 * receives, it only produces client sockets, one per `connect()`. A browser-like client
 * connects, sends one request, reads the reply until the server closes, and is done:
 * client sockets are normally used for one exchange. Everything stays on 127.0.0.1
 * (the default listen host: visible only on this machine); port 0 lets the OS pick a
 * free high port instead of a well-known one.
 */
import { connect, listen, type Socket } from 'switchboard';

const DEADLINE = { timeout: 5_000 };
const text = new TextDecoder();

// bind + listen. The backlog (the HOWTO's `listen(5)`) defaults to DEFAULTS.backlog.
const serversocket = await listen('127.0.0.1:0');
console.log(
  `server socket listening on 127.0.0.1, OS-chosen port: ${serversocket.address.kind === 'tcp'}`,
);

/** What the server does with each client socket (in a real server: a thread, a process, or select). */
async function handle(clientsocket: Socket, number: number): Promise<void> {
  const request = await clientsocket.recvUntil('\r\n\r\n', DEADLINE);
  const requestLine = text.decode(request ?? new Uint8Array()).split('\r\n')[0];
  console.log(`server: client socket ${number} asked "${requestLine}"`);
  await clientsocket.sendAll(`HTTP/1.0 200 OK\r\n\r\npage ${number}\n`, DEADLINE);
  await clientsocket.close();
}

// The mainloop: accept, hand the client socket off, go straight back to accepting.
const mainloop = (async () => {
  const handlers: Promise<void>[] = [];
  for (let number = 1; number <= 2; number++) {
    const clientsocket = await serversocket.accept(DEADLINE);
    handlers.push(handle(clientsocket, number));
  }
  await Promise.all(handlers);
})();

// The "browser": one client socket per exchange.
for (const path of ['/index.html', '/about.html']) {
  const s = await connect(serversocket.url, DEADLINE);
  await s.sendAll(`GET ${path} HTTP/1.0\r\nHost: localhost\r\n\r\n`, DEADLINE);
  // HTTP/1.0: the reply ends when the server closes, i.e. when recv returns 0 bytes.
  let reply = '';
  for (
    let chunk = await s.recv(4096, DEADLINE);
    chunk.length > 0;
    chunk = await s.recv(4096, DEADLINE)
  ) {
    reply += text.decode(chunk, { stream: true });
  }
  console.log(`client: ${path} -> ${JSON.stringify(reply)}`);
  await s.close(); // "That's right, destroyed."
}

await mainloop;
await serversocket.close();
console.log('done: 2 client sockets served, server socket closed');
