/**
 * HOWTO "Using a Socket": delimited messages.
 *
 * Run: npx tsx examples/05-delimited.ts
 *
 * "If you decide to go the delimited route, you'll be receiving in some arbitrary chunk
 * size, and scanning what you've received for a delimiter." And when messages come back
 * to back, a chunk may hold the start of the next message, which you must "put aside
 * and hold onto". A switchboard decoder does both: push it whatever `recv` returned,
 * pull whole messages out, and it keeps the rest. It also bounds the search (64 KiB by
 * default for `line`), so a peer that never sends the delimiter cannot make you buffer
 * forever, and its encoder refuses a message that contains the delimiter.
 */
import {
  connect,
  type Decoder,
  isSwitchboardError,
  listen,
  NEED_DATA,
  parseFraming,
} from 'switchboard';

const DEADLINE = { timeout: 5_000 };
const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
const text = new TextDecoder();
const line = parseFraming('line'); // LF-terminated; a trailing CR is stripped; the encoder writes LF

/** Every whole message the decoder holds now. */
function drain(decoder: Decoder): string[] {
  const messages: string[] = [];
  for (let frame = decoder.next(); frame !== NEED_DATA; frame = decoder.next()) {
    messages.push(text.decode(frame));
  }
  return messages;
}

// 1. Sans-IO: two "recv" results, with messages back to back and one split across them.
const decoder = line.createDecoder();
for (const chunk of ['alpha\nbeta\ngam', 'ma\r\n']) {
  decoder.push(bytes(chunk));
  const messages = drain(decoder);
  console.log(
    `chunk ${JSON.stringify(chunk)} -> ${JSON.stringify(messages)}, ${decoder.buffered} bytes put aside`,
  );
}

// 2. Over a socket: the receiving loop is recv(4096) + decoder; replies are encoded lines.
const server = await listen('127.0.0.1:0');
const served = (async () => {
  const conn = await server.accept(DEADLINE);
  const incoming = line.createDecoder();
  const encoder = line.createEncoder();
  for (;;) {
    const chunk = await conn.recv(4096, DEADLINE);
    if (chunk.length === 0) {
      incoming.end(); // throws SB_UNEXPECTED_EOF if the peer stopped mid-line
      break;
    }
    incoming.push(chunk);
    for (const message of drain(incoming)) {
      for (const part of encoder.encode(bytes(`${message.length} chars: ${message}`))) {
        await conn.sendAll(part, DEADLINE);
      }
    }
  }
  await conn.close();
})();
const client = await connect(server.url, DEADLINE);
await client.sendAll('shrug\nthe delimited route\n', DEADLINE); // two messages in one send
await client.sendAll('scan for the ', DEADLINE); // and one split over two sends
await client.sendAll('delimiter\n', DEADLINE);
await client.shutdown('write');
for (
  let reply = await client.recvUntil('\n', DEADLINE);
  reply !== null;
  reply = await client.recvUntil('\n', DEADLINE)
) {
  console.log(`reply: ${text.decode(reply)}`);
}
await client.close();
await served;
await server.close();

// 3. A peer that never sends the delimiter is cut off at the limit, not after buffering it all.
const flood = line.createDecoder();
flood.push(new Uint8Array(100_000).fill(0x78));
try {
  flood.next();
} catch (error) {
  if (!isSwitchboardError(error, 'SB_FRAME_TOO_LARGE')) {
    throw error;
  }
  console.log(`100000 bytes without LF: ${error.code} (limit ${line.maxFrame} bytes)`);
}

// 4. C-style NUL-delimited strings can't carry a NUL: the encoder refuses instead of splitting.
try {
  parseFraming('delim:00').createEncoder().encode(bytes('embedded\0nul'));
} catch (error) {
  if (!isSwitchboardError(error, 'SB_INVALID_ARGUMENT')) {
    throw error;
  }
  console.log(`delim:00 and a payload containing 00: ${error.code}`);
}
