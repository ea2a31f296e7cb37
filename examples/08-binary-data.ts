/**
 * HOWTO "Binary Data": byte order, hton/ntoh, struct packing, and the size of a zero.
 *
 * Run: npx tsx examples/08-binary-data.ts
 *
 * Network byte order is big-endian: a 16-bit 1 is `00 01`, while x86/ARM/RISC-V hold it
 * as `01 00`. switchboard's `pack`/`unpack`/`Struct` follow CPython's `struct` exactly
 * (`!` and `>` = network order, `<` = little-endian, `=`/`@` = this machine), so a
 * Python peer using `struct.pack('!HIq?5s', ...)` reads what this program writes.
 * Then the HOWTO's aside: the text "0" is smaller than a 64-bit zero (8 bytes), which
 * is why varints exist, and why text "doesn't fit well with fixed-length messages",
 * whereas a struct record has one size whatever its values, so it pairs with `fixed:N`.
 */
import {
  calcsize,
  connect,
  encodeVarint,
  HOST_ENDIANNESS,
  htons,
  listen,
  NEED_DATA,
  pack,
  parseFraming,
  Struct,
  unpack,
} from 'switchboard';

const DEADLINE = { timeout: 5_000 };
const hex = (bytes: Uint8Array): string =>
  Buffer.from(bytes)
    .toString('hex')
    .replace(/(..)(?!$)/g, '$1 ');

// 1. Byte order.
console.log(`pack('!H', 1) = ${hex(pack('!H', 1))}   (network order, big-endian)`);
console.log(`pack('<H', 1) = ${hex(pack('<H', 1))}   (little-endian, as x86/ARM store it)`);
console.log(
  `htons(1) = ${htons(1)} on this ${HOST_ENDIANNESS === 'le' ? 'little' : 'big'}-endian machine`,
);
console.log(
  `unpack('!I', 00 00 01 00) = ${unpack('!I', Uint8Array.of(0, 0, 1, 0))[0]}, unpack('<I', ...) = ${unpack('<I', Uint8Array.of(0, 0, 1, 0))[0]}`,
);

// 2. "The string '0' would be two bytes, while a full 64-bit integer would be 8."
const zeroAsText = new TextEncoder().encode('0\n');
console.log(
  `0 as a text line "0\\n": ${zeroAsText.length} bytes; as '!q': ${calcsize('!q')} bytes (${hex(pack('!q', 0n))}); as a varint: ${encodeVarint(0).length} byte`,
);
const big = 1_234_567_890_123n;
console.log(
  `${big} as text: ${String(big).length} bytes; as '!q': ${calcsize('!q')} bytes; as a varint: ${encodeVarint(big).length} bytes`,
);

// 3. A fixed-size binary record over a socket: calcsize gives the fixed:N framing.
const record = new Struct('!HIq?5s'); // sensor id, sequence, microseconds, ok flag, 5-byte tag
const framing = parseFraming(`fixed:${record.size}`);
console.log(
  `record '!HIq?5s' is ${record.size} bytes whatever its values -> framing ${framing.spec}`,
);

const server = await listen('127.0.0.1:0');
const served = (async () => {
  const conn = await server.accept(DEADLINE);
  const decoder = framing.createDecoder();
  for (
    let chunk = await conn.recv(4096, DEADLINE);
    chunk.length > 0;
    chunk = await conn.recv(4096, DEADLINE)
  ) {
    decoder.push(chunk);
    for (let frame = decoder.next(); frame !== NEED_DATA; frame = decoder.next()) {
      const [sensor, sequence, micros, ok, tag] = record.unpack(frame);
      const label = new TextDecoder().decode(tag as Uint8Array).replace(/\0+$/, '');
      console.log(`server: sensor=${sensor} seq=${sequence} t=${micros}us ok=${ok} tag=${label}`);
    }
  }
  decoder.end();
  await conn.close();
})();
const client = await connect(server.url, DEADLINE);
const records = [
  record.pack(7, 1, 1_700_000_000_000_000n, true, new TextEncoder().encode('temp')),
  record.pack(7, 2, 1_700_000_000_250_000n, false, new TextEncoder().encode('humid')),
];
console.log(`client: first record on the wire: ${hex(records[0] ?? new Uint8Array())}`);
for (const bytes of records) {
  await client.sendAll(bytes, DEADLINE);
}
await client.shutdown('write');
await served;
await client.close();
await server.close();
