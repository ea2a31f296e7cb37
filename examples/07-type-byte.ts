/**
 * HOWTO "Using a Socket": the first character of the message indicates its type, and
 * the type determines the length.
 *
 * Run: npx tsx examples/07-type-byte.ts
 *
 * "Now you have two recvs - the first to get (at least) that first character so you
 * can look up the length, and the second in a loop to get the rest." The `tagged`
 * framing is that table as a spec string: `tagged:01=4,02=length:u16be,03=0` means type
 * 0x01 has a 4-byte body, 0x02 a body preceded by a big-endian u16 length, 0x03 no body.
 * A frame is the type byte plus the body. An undefined type byte is a FrameError
 * (`SB_UNKNOWN_TYPE_BYTE`) as soon as that one byte arrives.
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
const text = new TextDecoder();
const TEMPERATURE = 0x01; // body: i32be, hundredths of a degree
const CHAT = 0x02; // body: u16be length + UTF-8 text
const PING = 0x03; // no body
const framing = parseFraming('tagged:01=4,02=length:u16be,03=0');

function temperature(hundredths: number): Uint8Array {
  const frame = new Uint8Array(5);
  frame[0] = TEMPERATURE;
  new DataView(frame.buffer).setInt32(1, hundredths); // DataView is big-endian by default
  return frame;
}
function chat(message: string): Uint8Array {
  return Buffer.concat([Uint8Array.of(CHAT), new TextEncoder().encode(message)]);
}

function describe(frame: Uint8Array): string {
  const body = frame.subarray(1);
  switch (frame[0]) {
    case TEMPERATURE:
      return `temperature ${(new DataView(body.buffer, body.byteOffset, 4).getInt32(0) / 100).toFixed(2)} C`;
    case CHAT:
      return `chat ${JSON.stringify(text.decode(body))}`;
    default:
      return 'ping';
  }
}

const server = await listen('127.0.0.1:0');
const served = (async () => {
  const conn = await server.accept(DEADLINE);
  const decoder: Decoder = framing.createDecoder();
  for (
    let chunk = await conn.recv(4096, DEADLINE);
    chunk.length > 0;
    chunk = await conn.recv(4096, DEADLINE)
  ) {
    decoder.push(chunk);
    try {
      for (let frame = decoder.next(); frame !== NEED_DATA; frame = decoder.next()) {
        const type = (frame[0] ?? 0).toString(16).padStart(2, '0');
        console.log(`server: type 0x${type}, ${frame.length}-byte frame: ${describe(frame)}`);
      }
    } catch (error) {
      if (!isSwitchboardError(error, 'SB_UNKNOWN_TYPE_BYTE')) {
        throw error;
      }
      console.log(`server: ${error.code} at offset ${error.offset}; closing this connection`);
      break;
    }
  }
  await conn.close();
})();

const client = await connect(server.url, DEADLINE);
const encoder = framing.createEncoder();
const frames = [temperature(2150), chat('type byte first'), Uint8Array.of(PING), temperature(-375)];
const wire = Buffer.concat(frames.flatMap((frame) => encoder.encode(frame)));
console.log(`client: 4 messages, ${wire.length} bytes on the wire: ${wire.toString('hex')}`);
await client.sendAll(wire, DEADLINE);
await client.sendAll(Uint8Array.of(0x7f, 1, 2, 3), DEADLINE); // a type nobody defined
const hangup = await client.recv(4096, DEADLINE);
console.log(`client: the server hung up (recv returned ${hangup.length} bytes)`);
await client.close();
await served;
await server.close();
