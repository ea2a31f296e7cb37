/**
 * HOWTO "Using a Socket": the `MySocket` class with fixed-length messages, and why
 * `send` is not `sendAll`.
 *
 * Run: npx tsx examples/04-mysocket-fixed-length.ts
 *
 * `Socket.send(bytes)` has the HOWTO's semantics on purpose: it takes what fits in the
 * network buffers right now and returns that count, which may be less than you handed
 * it. `mysend` is the loop the HOWTO writes around it; `Socket.sendAll` is that loop
 * done right (it waits for buffer space instead of spinning). On the receiving side,
 * `myreceive` is `Socket.recvExactly(MSGLEN)`: however the bytes are sliced on the way,
 * it returns exactly one message, and a peer that disconnects mid-message is an
 * `UnexpectedEofError` (`SB_UNEXPECTED_EOF`), the HOWTO's "socket connection broken".
 */
import { connect, isSwitchboardError, listen, type Socket } from 'switchboard';

const MSGLEN = 16;
const DEADLINE = { timeout: 5_000 };
const text = new TextDecoder();

/** The HOWTO's demonstration class, on a switchboard Socket. */
class MySocket {
  constructor(readonly sock: Socket) {}

  static async connect(address: string): Promise<MySocket> {
    return new MySocket(await connect(address, DEADLINE));
  }

  /** The HOWTO's loop, written out: call send() until every byte is out. Returns the send() calls made. */
  async mysend(msg: Uint8Array): Promise<number> {
    let totalsent = 0;
    let calls = 0;
    while (totalsent < msg.length) {
      const sent = this.sock.send(msg.subarray(totalsent));
      calls += 1;
      if (sent === 0) {
        // No room in the buffers right now: wait instead of spinning (the HOWTO's loop would spin).
        await this.sock.waitWritable(DEADLINE);
      }
      totalsent += sent;
    }
    return calls;
  }

  /** The HOWTO's `myreceive`: exactly MSGLEN bytes, however they arrive. */
  myreceive(): Promise<Uint8Array> {
    return this.sock.recvExactly(MSGLEN, DEADLINE);
  }
}

const server = await listen('127.0.0.1:0');
const served = (async () => {
  // Connection 1: echo fixed-length messages back in upper case until the client shuts down.
  const peer = new MySocket(await server.accept(DEADLINE));
  let bulk = 0;
  while (bulk < 1024 * 1024) {
    // recv() returns whatever has arrived (never more than asked): loop until the message is in.
    bulk += (await peer.sock.recv(Math.min(1024 * 1024 - bulk, 65_536), DEADLINE)).length;
  }
  console.log(`server: received the whole ${bulk}-byte bulk message`);
  for (let i = 0; i < 3; i++) {
    const msg = await peer.myreceive();
    await peer.sock.sendAll(text.decode(msg).toUpperCase());
  }
  await peer.sock.close();

  // Connection 2: the peer disconnects in the middle of a message.
  const broken = new MySocket(await server.accept(DEADLINE));
  try {
    await broken.myreceive();
  } catch (error) {
    if (!isSwitchboardError(error, 'SB_UNEXPECTED_EOF')) {
      throw error;
    }
    console.log(`server: socket connection broken mid-message: ${error.code}`);
  }
  await broken.sock.close();
})();

const client = await MySocket.connect(server.url);

// 1. send() handles only part of a large message: it returns how many bytes it took.
const bulk = new Uint8Array(1024 * 1024);
const first = client.sock.send(bulk);
console.log(`send() of 1 MiB took only part of it: ${first > 0 && first < bulk.length}`);
const calls = await client.mysend(bulk.subarray(first));
console.log(`mysend() needed more send() calls to finish: ${calls > 1}`);

// 2. Fixed-length messages, written in deliberately odd slices: the receiver still
//    gets exactly MSGLEN bytes per myreceive().
const messages = ['fixed length msg', 'yuck, but simple', 'sixteen bytes ok'];
const wire = new TextEncoder().encode(messages.join(''));
for (const [start, end] of [
  [0, 5],
  [5, 25],
  [25, 48],
] as const) {
  await client.sock.sendAll(wire.subarray(start, end), DEADLINE); // sendAll = mysend done right
}
for (let i = 0; i < messages.length; i++) {
  console.log(`client: ${JSON.stringify(text.decode(await client.myreceive()))}`);
}
await client.sock.close();

// 3. A peer that disconnects after 10 of 16 bytes.
const quitter = await MySocket.connect(server.url);
await quitter.sock.sendAll('only 10 b.', DEADLINE);
await quitter.sock.close();

await served;
await server.close();
