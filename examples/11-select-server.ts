/**
 * HOWTO "Non-blocking Sockets": a select() server with readable / writable / errored lists.
 *
 * Run: npx tsx examples/11-select-server.ts
 *
 * One loop, no threads: the server socket goes in the readers list (readable = a
 * connection waits for accept), client sockets go in the readers list, and sockets
 * with unsent output go in the writers list. `recvNow` and `send` are the
 * non-blocking verbs: they return at once, with what they could do. A client that is
 * still connecting goes in the writers list and shows up there once connected. And
 * the older edition's "very nasty problem" is gone: a socket that died a nasty death
 * lands in `errored`, it does not make select() fail.
 */
import { listen, type Socket, select, startConnect } from 'switchboard';

const text = new TextDecoder();
const server = await listen('127.0.0.1:0');

// --- the server: one select loop -------------------------------------------------
const stats = { accepted: 0, echoedBytes: 0, closedByPeer: 0, rounds: 0 };
const serverLoop = (async () => {
  const clients: Socket[] = [];
  const outbox = new Map<Socket, Uint8Array>();
  while (stats.accepted < 2 || clients.length > 0) {
    stats.rounds += 1;
    const writers = clients.filter((socket) => outbox.has(socket));
    // A nice long timeout, as the HOWTO advises.
    const { readable, writable, errored } = await select([server, ...clients], writers, {
      timeout: 60_000,
    });
    for (const ready of readable) {
      if (ready === server) {
        clients.push(await server.accept()); // will not block: it came out readable
        stats.accepted += 1;
        continue;
      }
      const socket = ready as Socket;
      const data = socket.recvNow(4096);
      if (data === null) {
        continue;
      }
      if (data.length === 0) {
        stats.closedByPeer += 1; // recv returned 0 bytes: the peer is done
        clients.splice(clients.indexOf(socket), 1);
        await socket.close();
        continue;
      }
      // ASCII only here, so upper-casing chunk by chunk is safe.
      const reply = new TextEncoder().encode(text.decode(data).toUpperCase());
      const queued = outbox.get(socket);
      outbox.set(socket, queued === undefined ? reply : Buffer.concat([queued, reply]));
      stats.echoedBytes += data.length;
    }
    for (const socket of writable) {
      const pending = outbox.get(socket);
      if (pending === undefined) {
        continue;
      }
      const sent = socket.send(pending); // maybe not all of it; "something is better than nothing"
      if (sent === pending.length) {
        outbox.delete(socket);
      } else {
        outbox.set(socket, pending.subarray(sent));
      }
    }
    for (const dead of errored) {
      if (dead === server) {
        throw new Error('the server socket failed');
      }
      const socket = dead as Socket;
      clients.splice(clients.indexOf(socket), 1);
      outbox.delete(socket);
      socket.destroy();
    }
  }
})();

// --- the clients: non-blocking connects, then select on the writers list ----------
const refusedPort = await (async () => {
  const closed = await listen('127.0.0.1:0');
  const port = closed.address.kind === 'tcp' ? closed.address.port : 0;
  await closed.close();
  return port;
})();

const alice = startConnect(server.url);
const bob = startConnect(server.url);
const nobody = startConnect(`127.0.0.1:${refusedPort}`); // nothing listens there

let connecting = [alice, bob, nobody];
const names = new Map([
  [alice, 'alice'],
  [bob, 'bob'],
  [nobody, 'nobody'],
]);
const report: string[] = [];
while (connecting.length > 0) {
  const { writable, errored } = await select([], connecting, { timeout: 5_000 });
  for (const socket of writable) {
    report.push(`${names.get(socket)}: connected (came out writable)`);
  }
  for (const socket of errored) {
    report.push(
      `${names.get(socket)}: in the errored list with ${socket.error?.code}; select() itself did not fail`,
    );
  }
  connecting = connecting.filter(
    (socket) => !writable.includes(socket) && !errored.includes(socket),
  );
}
for (const line of report.sort()) {
  console.log(line);
}
nobody.destroy();

for (const [socket, message] of [
  [alice, 'hello from alice'],
  [bob, 'hello from bob'],
] as const) {
  await socket.sendAll(message, { timeout: 5_000 });
  const echo = await socket.recvExactly(message.length, { timeout: 5_000 });
  console.log(`${names.get(socket)}: echo ${JSON.stringify(text.decode(echo))}`);
  await socket.shutdown('write');
}
await Promise.all([alice.close(), bob.close()]);
await serverLoop;
await server.close();
console.log(
  `server: accepted ${stats.accepted}, echoed ${stats.echoedBytes} bytes, saw ${stats.closedByPeer} peers close, ` +
    `all in one loop of select() calls: ${stats.rounds > 1}`,
);
