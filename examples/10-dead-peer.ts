/**
 * HOWTO "When Sockets Die": detecting a peer that went away without closing.
 *
 * Run: npx tsx examples/10-dead-peer.ts
 *
 * "Probably the worst thing about using blocking sockets is what happens when the other
 * side comes down hard (without doing a close). Your socket is likely to hang." Nothing
 * arrives, not even an EOF, so a read without a deadline waits forever. switchboard's
 * answers, from smallest to largest:
 *   1. a deadline on the call: `{ timeout }` -> `SB_TIMEOUT`, nothing consumed, the
 *      socket still usable (the peer may just be slow);
 *   2. a Channel `idleTimeout`: no bytes for N ms -> `SB_IDLE_TIMEOUT`, connection closed;
 *   3. heartbeats (`sbp` framing): ping every `interval` ms; a healthy peer answers
 *      automatically, even while its application is busy; `maxOutstanding` unanswered
 *      pings -> `SB_PEER_UNRESPONSIVE`. This tells "dead" from "quiet", which select()
 *      cannot.
 * The hard crash is simulated with switchboard/testing's FaultProxy: a `blackhole` fault
 * keeps the TCP connection open but silently drops everything, like a pulled cable.
 * (TCP keepalive is also on by default, but its first probe comes after 60 s.)
 */
import { Channel, connect, isSwitchboardError, listen, openChannel } from 'switchboard';
import { FaultProxy } from 'switchboard/testing';

const text = new TextDecoder();

// A "hung" peer: it accepts connections and then never sends, reads or closes.
const hung = await listen('127.0.0.1:0');

// 1. A deadline on one call.
const socket = await connect(hung.url, { timeout: 5_000 });
try {
  await socket.recv(4096, { timeout: 200 });
} catch (error) {
  if (!isSwitchboardError(error, 'SB_TIMEOUT')) {
    throw error;
  }
  console.log(
    `1. recv() with a 200 ms deadline: ${error.code}; socket still open: ${!socket.isClosed}`,
  );
}
socket.destroy();

// 2. A channel that closes itself after 300 ms of silence.
const quiet = await openChannel(hung.url, { framing: 'line', idleTimeout: 300, timeout: 5_000 });
const idleStarted = Date.now();
try {
  await quiet.receive();
} catch (error) {
  if (!isSwitchboardError(error, 'SB_IDLE_TIMEOUT')) {
    throw error;
  }
  const waited = Date.now() - idleStarted;
  console.log(
    `2. channel with idleTimeout 300 ms: ${error.code} after >= 300 ms: ${waited >= 250 && waited < 5_000}`,
  );
}
quiet.destroy();
await hung.close();

// 3. Heartbeats through a proxy that later blackholes the connection.
const server = await listen('127.0.0.1:0');
const served = (async () => {
  const peer = new Channel(await server.accept({ timeout: 5_000 }), { framing: 'sbp' });
  for (
    let message = await peer.receive().catch(() => null);
    message !== null;
    message = await peer.receive().catch(() => null)
  ) {
    await peer.send(`echo: ${text.decode(message)}`).catch(() => undefined);
  }
  peer.destroy();
})();
const proxy = await FaultProxy.start({ target: server.url.replace('tcp://', '') });
const channel = await openChannel(`127.0.0.1:${proxy.port}`, {
  framing: 'sbp',
  heartbeat: { interval: 100, maxOutstanding: 3 },
  timeout: 5_000,
});
await channel.send('are you there?');
console.log(
  `3. healthy peer: ${text.decode((await channel.receive({ timeout: 5_000 })) ?? new Uint8Array())}`,
);
await new Promise((resolve) => setTimeout(resolve, 500)); // quiet, but pings are answered
console.log(
  `   after 500 ms of application silence the channel is still up: ${channel.error === undefined}`,
);

proxy.addFault('both', { type: 'blackhole' }); // the peer "comes down hard"
const crashedAt = Date.now();
try {
  await channel.receive({ timeout: 10_000 });
} catch (error) {
  if (!isSwitchboardError(error, 'SB_PEER_UNRESPONSIVE')) {
    throw error;
  }
  const waited = Date.now() - crashedAt;
  // Bounds are loose on purpose: a busy machine delays timers, and the point is seconds, not TCP's minutes.
  console.log(
    `   peer blackholed: ${error.code} after 3 unanswered pings, within seconds: ${waited < 5_000}`,
  );
}
channel.destroy();
await proxy.close();
await server.close();
await served; // closing the proxy ended the server side's connection too
