/**
 * HOWTO "Using a Socket": prefixing each message with its length as 5 numeric characters.
 *
 * Run: npx tsx examples/06-digits-length-prefix.ts
 *
 * "You may not get all 5 characters in one recv ... your code will very quickly break
 * unless you use two recv loops - the first to determine the length, the second to get
 * the data part of the message. Nasty." Here are both ways: the two loops written with
 * `Socket.recvExactly` (each call is one loop), and the `digits:5` framing, whose
 * decoder accepts the header split anywhere, rejects a non-digit at once, and checks the
 * declared length against its limit before it buffers a single body byte. The binary
 * cousin, `length:u32be` (struct `!I`), is "much better" for machines, `digits:5` is
 * easier to read in a packet dump.
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
const digits = parseFraming('digits:5');
const wire = (payload: string): string =>
  text.decode(Buffer.concat(digits.createEncoder().encode(bytes(payload))));

console.log(`digits:5 wire form of "hello, world": ${JSON.stringify(wire('hello, world'))}`);
console.log(
  `length:u32be wire form: ${Buffer.concat(parseFraming('length:u32be').createEncoder().encode(bytes('hello, world'))).toString('hex')}`,
);

// 1. The worst case for the header: it arrives one byte per recv.
const decoder = digits.createDecoder();
const input = bytes(wire('hello, world'));
let pushes = 0;
let frame: ReturnType<Decoder['next']> = NEED_DATA;
while (frame === NEED_DATA && pushes < input.length) {
  decoder.push(input.subarray(pushes, pushes + 1));
  pushes += 1;
  frame = decoder.next();
}
console.log(
  `one byte at a time: NEED_DATA ${pushes - 1} times, then ${JSON.stringify(frame === NEED_DATA ? null : text.decode(frame))}`,
);

// 2. The HOWTO's two recv loops over a real socket: header first, then the body.
const server = await listen('127.0.0.1:0');
const served = (async () => {
  const conn = await server.accept(DEADLINE);
  for (;;) {
    const header = await conn.recvExactly(5, DEADLINE).catch((error: unknown) => {
      if (isSwitchboardError(error, 'SB_UNEXPECTED_EOF') && conn.bufferedAmount === 0) {
        return null; // the peer shut down between messages: a clean end
      }
      throw error;
    });
    if (header === null) {
      break;
    }
    const body = await conn.recvExactly(Number(text.decode(header)), DEADLINE);
    console.log(
      `server: header ${JSON.stringify(text.decode(header))}, body ${JSON.stringify(text.decode(body))}`,
    );
  }
  await conn.close();
})();
const client = await connect(server.url, DEADLINE);
const messages = Buffer.concat(
  ['first', '', 'third, after an empty one'].map((message) => bytes(wire(message))),
);
// Send in 3-byte pieces so that headers and bodies are cut at awkward places.
for (let offset = 0; offset < messages.length; offset += 3) {
  await client.sendAll(messages.subarray(offset, offset + 3), DEADLINE);
}
await client.shutdown('write');
await served;
await client.close();
await server.close();

// 3. Bad input fails fast, with a code and the offset of the bad frame.
for (const [label, bad, options] of [
  ['a non-digit in the header', '00x12hello', {}],
  ['a length over maxFrame (1000)', '99999', { maxFrame: 1000 }],
] as const) {
  const strict = parseFraming('digits:5', options).createDecoder();
  strict.push(bytes(bad));
  try {
    strict.next();
  } catch (error) {
    if (!isSwitchboardError(error)) {
      throw error;
    }
    console.log(`${label}: ${error.code} at offset ${error.offset}`);
  }
}
try {
  digits.createEncoder().encode(new Uint8Array(100_000));
} catch (error) {
  if (!isSwitchboardError(error)) {
    throw error;
  }
  console.log(`a 100000-byte message does not fit in 5 digits: ${error.code}`);
}
