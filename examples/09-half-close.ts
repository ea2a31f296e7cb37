/**
 * HOWTO "Disconnecting": the HTTP-like exchange that ends a request with `shutdown`.
 *
 * Run: npx tsx examples/09-half-close.ts
 *
 * The client sends its request and calls `shutdown('write')` (the HOWTO's `shutdown(1)`):
 * "I'm done sending, but can still receive." The server reads until `recv` returns 0
 * bytes, so it knows it has the complete request without any framing, then replies
 * and closes. The client reads the reply until its own EOF. switchboard sockets are
 * always opened half-open capable, so a FIN from the peer never closes your write side.
 * The `eof` framing and `switchboard send` use exactly this exchange.
 *
 * Then the HOWTO's warning: "If your socket just disappears without doing a close, the
 * socket at the other end may hang indefinitely ... Please close your sockets." A
 * switchboard Socket that is garbage-collected while open emits a `SB_SOCKET_LEAK`
 * process warning naming the line that created it (you will see it on stderr), and is
 * destroyed, so the peer sees the connection end instead of waiting forever. Use
 * `close()` or `await using` and you never see the warning.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { connect, listen } from 'switchboard';

const DEADLINE = { timeout: 5_000 };
const text = new TextDecoder();

const server = await listen('127.0.0.1:0');
const served = (async () => {
  const conn = await server.accept(DEADLINE);
  const chunks: Uint8Array[] = [];
  // No EOT on a socket, except this one: recv() returning 0 bytes.
  for (
    let chunk = await conn.recv(4096, DEADLINE);
    chunk.length > 0;
    chunk = await conn.recv(4096, DEADLINE)
  ) {
    chunks.push(chunk);
  }
  const request = text.decode(Buffer.concat(chunks));
  console.log(
    `server: recv() returned 0 bytes, so the request is complete: ${JSON.stringify(request)}`,
  );
  const words = request.trim().split(/\s+/).length;
  await conn.sendAll(`${words} words received\n`, DEADLINE);
  console.log('server: reply sent; the client was still receiving');
  await conn.close();
})();

const client = await connect(server.url, DEADLINE);
await client.sendAll('count the words in this request please\n', DEADLINE);
await client.shutdown('write');
console.log("client: request sent, then shutdown('write')");
let reply = '';
for (
  let chunk = await client.recv(4096, DEADLINE);
  chunk.length > 0;
  chunk = await client.recv(4096, DEADLINE)
) {
  reply += text.decode(chunk);
}
console.log(`client: reply ${JSON.stringify(reply)}, then EOF`);
await client.close();
await served;

// "Please close your sockets": a socket dropped without close().
setFlagsFromString('--expose-gc'); // only to force a garbage collection for this demo
const collectGarbage = runInNewContext('gc') as () => void;
let leakWarning = '';
process.on('warning', (warning) => {
  leakWarning = (warning as Error & { code?: string }).code ?? '';
});
const forget = async (): Promise<void> => {
  await connect(server.url, DEADLINE); // opened, never closed, reference dropped
};
await forget();
const other = await server.accept(DEADLINE);
for (let attempt = 0; attempt < 50 && leakWarning === ''; attempt++) {
  collectGarbage();
  await new Promise((resolve) => setTimeout(resolve, 20));
}
const last = await other.recv(4096, DEADLINE); // 0 bytes: ended, not hanging
console.log(
  `forgotten socket: warning ${leakWarning}; the peer saw the connection end: ${last.length === 0}`,
);
await other.close();
await server.close();
