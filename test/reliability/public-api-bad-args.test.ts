/**
 * Every public entry point called the way plain JavaScript can call it: null,
 * undefined, numbers, strings, symbols, bigints, NaN, negative and huge values where
 * bytes, addresses, options or counts belong. Each call either works or fails with the
 * library's error class (a stable `code`), never with a TypeError from deep inside.
 *
 * The table is keyed by export name, and a test checks that every function or class
 * that src/index.ts and src/testing/index.ts export has a row (or is named as taking
 * no argument a caller could get wrong), so a new export cannot skip the sweep.
 * Loopback only; each async call is bounded (never a wait forever).
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as api from '../../src/index.js';
import * as testingApi from '../../src/testing/index.js';

/** Fresh each time: a call may write into an object or array it was wrongly given. */
const badValues = (): unknown[] => [
  null,
  undefined,
  0,
  -1,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  2 ** 53,
  1.5,
  'str',
  '',
  {},
  [],
  [null],
  Symbol('bad'),
  () => 1,
  10n,
  true,
];
const BAD_COUNT = badValues().length;

type Call = (bad: unknown) => unknown;

const cleanups: Array<() => unknown> = [];
let openSocket: api.Socket;
let channel: api.Channel;
let echo: net.Server;
let echoAddress = '';

beforeAll(async () => {
  echo = net.createServer((socket) => {
    socket.on('error', () => undefined);
    socket.pipe(socket);
  });
  await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
  echoAddress = `127.0.0.1:${(echo.address() as net.AddressInfo).port}`;
  openSocket = await api.connect(echoAddress);
  channel = await api.openChannel(echoAddress, { framing: 'line' });
});

afterAll(async () => {
  for (const cleanup of cleanups.splice(0)) {
    await cleanup();
  }
  openSocket.destroy();
  channel.destroy();
  await sharedListener?.close();
  await new Promise<void>((resolve) => echo.close(() => resolve()));
});

/** Closes whatever a call returned that holds a resource. */
function release(value: unknown): void {
  const holder = value as { close?: () => unknown; destroy?: () => unknown } | null;
  if (typeof holder !== 'object' || holder === null) {
    return;
  }
  if (typeof holder.destroy === 'function') {
    holder.destroy();
  } else if (typeof holder.close === 'function') {
    cleanups.push(() => holder.close!());
  }
}

/** Drains a returned iterable (bounded: the sources here are tiny). */
async function settle(value: unknown): Promise<void> {
  const resolved = await value;
  const generator = resolved as AsyncGenerator | null;
  if (
    generator !== null &&
    typeof generator === 'object' &&
    typeof generator.next === 'function' &&
    typeof generator.throw === 'function' &&
    Symbol.asyncIterator in generator
  ) {
    let count = 0;
    for await (const _ of resolved as AsyncIterable<unknown>) {
      if (++count > 100) {
        break;
      }
    }
    return;
  }
  release(resolved);
}

const bytes = Uint8Array.of(1, 2, 3, 4);
let sharedListener: api.Listener | undefined;
async function listening(): Promise<api.Listener> {
  sharedListener ??= await api.listen('127.0.0.1:0');
  return sharedListener;
}
const lineDecoder = (): api.Decoder => api.lineFraming().createDecoder();
const framings = [
  'line',
  'length:u32be',
  'varint',
  'netstring',
  'mllp',
  'content-length',
  'sbp',
  'tagged:01=2',
  'fixed:4',
  'digits:4',
  'delim:00',
  'eof',
];

const CASES: Record<string, Call[]> = {
  htonl: [(b) => api.htonl(b as number)],
  htons: [(b) => api.htons(b as number)],
  ntohl: [(b) => api.ntohl(b as number)],
  ntohs: [(b) => api.ntohs(b as number)],
  readUint: [
    (b) => api.readUint(b as Uint8Array, 0, 32, 'be'),
    (b) => api.readUint(bytes, b as number, 32, 'be'),
    (b) => api.readUint(bytes, 0, b as 32, 'be'),
    (b) => api.readUint(bytes, 0, 32, b as 'be'),
  ],
  readBigUint: [
    (b) => api.readBigUint(b as Uint8Array, 0, 64, 'be'),
    (b) => api.readBigUint(bytes, b as number, 64, 'be'),
  ],
  writeUint: [
    (b) => api.writeUint(b as Uint8Array, 0, 1, 32, 'be'),
    (b) => api.writeUint(new Uint8Array(4), b as number, 1, 32, 'be'),
    (b) => api.writeUint(new Uint8Array(4), 0, b as number, 32, 'be'),
  ],
  writeBigUint: [
    (b) => api.writeBigUint(b as Uint8Array, 0, 1n, 64, 'be'),
    (b) => api.writeBigUint(new Uint8Array(8), 0, b as bigint, 64, 'be'),
  ],
  calcsize: [(b) => api.calcsize(b as string)],
  iterUnpack: [
    (b) => [...api.iterUnpack(b as string, bytes)],
    (b) => [...api.iterUnpack('<H', b as Uint8Array)],
  ],
  pack: [(b) => api.pack(b as string, 1), (b) => api.pack('<I', b as number)],
  packInto: [
    (b) => api.packInto('<I', b as Uint8Array, 0, 1),
    (b) => api.packInto('<I', new Uint8Array(4), b as number, 1),
  ],
  unpack: [(b) => api.unpack(b as string, bytes), (b) => api.unpack('<I', b as Uint8Array)],
  unpackFrom: [
    (b) => api.unpackFrom('<I', b as Uint8Array),
    (b) => api.unpackFrom('<H', bytes, b as number),
  ],
  Struct: [
    (b) => new api.Struct(b as string),
    (b) => new api.Struct('<I').pack(b as number),
    (b) => new api.Struct('<I').unpack(b as Uint8Array),
    (b) => new api.Struct('<H').unpackFrom(bytes, b as number),
    (b) => new api.Struct('<I').packInto(b as Uint8Array, 0, 1),
    (b) => [...new api.Struct('<H').iterUnpack(b as Uint8Array)],
  ],
  decodeVarint: [
    (b) => api.decodeVarint(b as Uint8Array),
    (b) => api.decodeVarint(bytes, b as number),
  ],
  decodeBigVarint: [
    (b) => api.decodeBigVarint(b as Uint8Array),
    (b) => api.decodeBigVarint(bytes, b as number),
  ],
  encodeVarint: [(b) => api.encodeVarint(b as number)],
  encodeVarintInto: [
    (b) => api.encodeVarintInto(b as number, new Uint8Array(10)),
    (b) => api.encodeVarintInto(1, b as Uint8Array),
    (b) => api.encodeVarintInto(1, new Uint8Array(10), b as number),
  ],
  varintLength: [(b) => api.varintLength(b as number)],
  contentLengthFraming: [(b) => api.contentLengthFraming(b as never)],
  delimFraming: [
    (b) => api.delimFraming(b as never),
    (b) => api.delimFraming(Uint8Array.of(10), b as never),
  ],
  digitsFraming: [(b) => api.digitsFraming(b as number), (b) => api.digitsFraming(4, b as never)],
  eofFraming: [(b) => api.eofFraming(b as never)],
  fixedFraming: [(b) => api.fixedFraming(b as number), (b) => api.fixedFraming(4, b as never)],
  lengthFraming: [
    (b) => api.lengthFraming(b as never),
    (b) => api.lengthFraming({ lengthFieldLength: b as 4 }),
    (b) => api.lengthFraming({ lengthFieldLength: 2, lengthAdjustment: b as number }),
    (b) => api.lengthFraming({ lengthFieldLength: 2, maxFrame: b as number }),
  ],
  lineFraming: [
    (b) => api.lineFraming(b as never),
    (b) => api.lineFraming({ maxFrame: b as number }),
  ],
  mllpFraming: [(b) => api.mllpFraming(b as never)],
  netstringFraming: [(b) => api.netstringFraming(b as never)],
  varintFraming: [(b) => api.varintFraming(b as never)],
  sbpFraming: [(b) => api.sbpFraming(b as never)],
  taggedFraming: [
    (b) => api.taggedFraming(b as never),
    (b) => api.taggedFraming({ 1: b as number }),
    (b) => api.taggedFraming(new Map([[b as number, 2]])),
    (b) => api.taggedFraming({ 1: { lengthFieldLength: b as 1 } }),
  ],
  parseFraming: [(b) => api.parseFraming(b as string), (b) => api.parseFraming('line', b as never)],
  encodeEnvelope: [
    (b) => api.encodeEnvelope(b as 0, 0),
    (b) => api.encodeEnvelope(api.SbpType.REQUEST, b as number),
    (b) => api.encodeEnvelope(api.SbpType.DATA, 0, b as Uint8Array),
    (b) => api.encodeEnvelope(api.SbpType.DATA, 0, bytes, b as number),
  ],
  parseEnvelope: [
    (b) => api.parseEnvelope(b as Uint8Array),
    (b) => api.parseEnvelope(Uint8Array.of(0, 1), b as number),
  ],
  decode: [
    (b) => api.decode(b as Uint8Array[], 'line'),
    (b) => api.decode([b as Uint8Array], 'line'),
    (b) => api.decode([bytes], b as string),
    (b) => api.decode([bytes], 'line', b as never),
  ],
  encode: [
    (b) => api.encode(b as Uint8Array[], 'line'),
    (b) => api.encode([b as Uint8Array], 'line'),
    (b) => api.encode([bytes], b as string),
    (b) => api.encode([bytes], 'line', b as never),
  ],
  decodeStream: [(b) => api.decodeStream(b as string), (b) => api.decodeStream('line', b as never)],
  encodeStream: [(b) => api.encodeStream(b as string), (b) => api.encodeStream('line', b as never)],
  decodeTransform: [
    (b) => api.decodeTransform(b as string),
    (b) => api.decodeTransform('line', b as never),
    (b) => api.decodeTransform('line', { frameHighWaterMark: b as number }),
  ],
  encodeTransform: [
    (b) => api.encodeTransform(b as string),
    (b) => api.encodeTransform('line', b as never),
    (b) => api.encodeTransform('line', { frameHighWaterMark: b as number }),
  ],
  formatAddress: [
    (b) => api.formatAddress(b as api.Address),
    (b) => api.formatAddress({ kind: 'tcp', host: b as string, port: 1, tls: false }),
    (b) => api.formatAddress({ kind: 'unix', path: b as string, abstract: false }),
  ],
  parseAddress: [(b) => api.parseAddress(b as string)],
  connect: [
    (b) => api.connect(b as string),
    (b) => api.connect({ kind: 'tcp', host: '127.0.0.1', port: b as number, tls: false }),
    (b) => api.connect('unix:/nonexistent/sb-bad-args', b as never),
    (b) => api.connect('unix:/nonexistent/sb-bad-args', { timeout: b as number }),
    (b) => api.connect('unix:/nonexistent/sb-bad-args', { signal: b as AbortSignal }),
  ],
  startConnect: [
    (b) => api.startConnect(b as string),
    (b) => api.startConnect('unix:/nonexistent/sb-bad-args', b as never),
  ],
  listen: [
    (b) => api.listen(b as string),
    (b) => api.listen('127.0.0.1:0', b as never),
    (b) => api.listen('127.0.0.1:0', { backlog: b as number }),
    // A taken port: the listen failure is a ConnectionError too.
    () => api.listen(echoAddress),
  ],
  openChannel: [
    (b) => api.openChannel(b as string, { framing: 'line' }),
    (b) => api.openChannel('unix:/nonexistent/sb-bad-args', b as never),
    (b) => api.openChannel('unix:/nonexistent/sb-bad-args', { framing: b as string }),
  ],
  Channel: [
    (b) => new api.Channel(b as api.Socket, { framing: 'line' }),
    (b) => channel.send(b as Uint8Array),
    (b) => channel.send('x', b as never),
    (b) => channel.send('x', { timeout: b as number }),
    (b) => channel.receive({ timeout: b as number, signal: AbortSignal.abort() }),
    (b) => channel.receive({ signal: b as AbortSignal, timeout: 1 }),
  ],
  Socket: [
    (b) => new api.Socket(b as net.Socket),
    (b) => api.Socket.from(b as net.Socket),
    (b) => api.Socket.from(new net.Socket(), b as never),
    (b) => openSocket.send(b as Uint8Array),
    (b) => openSocket.sendAll(b as Uint8Array),
    (b) => openSocket.recv(b as number, { signal: AbortSignal.abort() }),
    (b) => openSocket.recvExactly(b as number, { signal: AbortSignal.abort() }),
    (b) => openSocket.recvUntil(b as Uint8Array, { signal: AbortSignal.abort() }),
    (b) => openSocket.recv(1, { timeout: b as number, signal: AbortSignal.abort() }),
    (b) => openSocket.recv(1, { signal: b as AbortSignal, timeout: 1 }),
    (b) => openSocket.setKeepAlive(true, b as number),
  ],
  Listener: [
    // An object (or undefined, null) is a valid options bag that waits forever here.
    (b) =>
      listening().then((listener) =>
        listener.accept(
          b === undefined || b === null || (typeof b === 'object' && !Array.isArray(b))
            ? { signal: AbortSignal.abort() }
            : (b as never),
        ),
      ),
    (b) =>
      listening().then((listener) =>
        listener.accept({ timeout: b as number, signal: AbortSignal.abort() }),
      ),
    (b) =>
      listening().then((listener) => listener.accept({ signal: b as AbortSignal, timeout: 1 })),
  ],
  select: [
    (b) => api.select(b as api.Socket[], [], { timeout: 0 }),
    (b) => api.select([], b as api.Socket[], { timeout: 0 }),
    // An object (or undefined) is a valid options bag that waits forever here: poll instead.
    (b) =>
      api.select(
        [openSocket],
        [],
        b === undefined || (typeof b === 'object' && b !== null && !Array.isArray(b))
          ? { timeout: 0 }
          : (b as never),
      ),
    (b) => api.select([openSocket], [], { timeout: b as number, signal: AbortSignal.abort() }),
  ],
  Heartbeat: [
    (b) => new api.Heartbeat(b as never),
    (b) => new api.Heartbeat(channel as never, b as never),
  ],
  encodeProxyHeader: [
    (b) => api.encodeProxyHeader(b as never),
    (b) => api.encodeProxyHeader({ version: b as 1 }),
    (b) => api.encodeProxyHeader({ version: 2, family: b as 'IPv4' }),
    (b) => api.encodeProxyHeader({ version: 1, source: b as never, destination: b as never }),
    (b) =>
      api.encodeProxyHeader({
        version: 2,
        source: { address: '1.2.3.4', port: b as number },
        destination: { address: '1.2.3.4', port: 1 },
      }),
    (b) => api.encodeProxyHeader({ version: 2, command: 'local', tlvs: b as never }),
    (b) => api.encodeProxyHeader({ version: 2, command: 'local', tlvs: [b as never] }),
  ],
  parseProxyHeader: [(b) => api.parseProxyHeader(b as Uint8Array)],
  ProxyHeaderDecoder: [(b) => new api.ProxyHeaderDecoder().push(b as Uint8Array)],
  createServer: [
    (b) => api.createServer(b as never),
    (b) => api.createServer({ framing: b as string, handler: 'echo' } as never),
    (b) => api.createServer({ framing: 'line', handler: 'echo', maxConnections: b } as never),
    (b) => api.createServer({ framing: 'line', handler: 'echo', listen: b } as never),
  ],
  connectNatsBus: [
    (b) => api.connectNatsBus(b as never),
    (b) => api.connectNatsBus({ servers: b as string }),
    (b) => api.connectNatsBus({ servers: [b as string] }),
    (b) => api.connectNatsBus({ servers: 'nats://127.0.0.1:1', subjectPrefix: b as string }),
  ],
  FaultProxy: [
    (b) => testingApi.FaultProxy.start(b as never),
    (b) => testingApi.FaultProxy.start({ target: b as string }),
    (b) =>
      testingApi.FaultProxy.start({
        target: echoAddress,
        listen: b === undefined ? echoAddress : (b as string),
      }),
    (b) => testingApi.FaultProxy.start({ target: echoAddress, seed: b as number }),
    (b) => testingApi.FaultProxy.start({ target: echoAddress, framing: b as string }),
  ],
  ToxiproxyServer: [
    (b) =>
      testingApi.ToxiproxyServer.start(b === undefined ? { listen: echoAddress } : (b as never)),
    (b) =>
      testingApi.ToxiproxyServer.start({ listen: b === undefined ? echoAddress : (b as string) }),
    (b) => testingApi.ToxiproxyServer.start({ listen: '127.0.0.1:0', seed: b as number }),
  ],
};

/** Decoder.push / Encoder.encode of every framing, the per-call paths of the codecs. */
for (const spec of framings) {
  CASES[`framing ${spec}`] = [
    (b) =>
      api
        .parseFraming(spec)
        .createDecoder()
        .push(b as Uint8Array),
    (b) =>
      api
        .parseFraming(spec)
        .createEncoder()
        .encode(b as Uint8Array),
  ];
}
CASES['Decoder.push after a frame'] = [
  (b) => {
    const decoder = lineDecoder();
    decoder.push(Uint8Array.of(0x61, 0x0a));
    decoder.next();
    decoder.push(b as Uint8Array);
  },
];

/** Exports that take no argument a caller could get wrong, or any value by design. */
const NO_BAD_ARGUMENT = new Set([
  'isSwitchboardError',
  'SwitchboardError',
  'FrameError',
  'UnexpectedEofError',
  'TimeoutError',
  'ConnectionError',
  'StructError',
  'InvalidArgumentError',
]);

/** Bounded: a call that neither settles nor fails within this many ms is a finding. */
const SETTLE_MS = 2_000;

async function outcome(call: Call, bad: unknown): Promise<unknown> {
  try {
    const result = call(bad);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const hung = new Promise<'hung'>((resolve) => {
      timer = setTimeout(() => resolve('hung'), SETTLE_MS);
    });
    const settled = await Promise.race([settle(result).then(() => 'ok'), hung]);
    clearTimeout(timer);
    return settled;
  } catch (error) {
    return error;
  }
}

function describeValue(value: unknown): string {
  if (typeof value === 'symbol' || typeof value === 'function') {
    return typeof value;
  }
  if (typeof value === 'bigint') {
    return `${value}n`;
  }
  return JSON.stringify(value) ?? String(value);
}

describe('public API with wrong-typed arguments', () => {
  it('every exported function and class has a row', () => {
    const exported = [...Object.entries(api), ...Object.entries(testingApi)]
      .filter(([, value]) => typeof value === 'function')
      .map(([name]) => name);
    const missing = exported.filter((name) => !(name in CASES) && !NO_BAD_ARGUMENT.has(name));
    expect(missing).toEqual([]);
  });

  for (const [name, calls] of Object.entries(CASES)) {
    it(`${name}: works or throws a SwitchboardError, never a TypeError`, async () => {
      const uncoded: string[] = [];
      for (const [index, call] of calls.entries()) {
        for (let which = 0; which < BAD_COUNT; which++) {
          const bad = badValues()[which];
          const result = await outcome(call, bad);
          if (result === 'hung') {
            uncoded.push(`call ${index} with ${describeValue(bad)}: did not settle`);
          } else if (result instanceof Error && !(result instanceof api.SwitchboardError)) {
            uncoded.push(
              `call ${index} with ${describeValue(bad)}: ${result.constructor.name}: ${result.message}`,
            );
          }
        }
      }
      expect(uncoded).toEqual([]);
    }, 60_000);
  }
});
