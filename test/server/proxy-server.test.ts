import { afterEach, describe, expect, it } from 'vitest';
import { diagnosticChannels, type FrameErrorMessage } from '../../src/diagnostics.js';
import { encodeProxyHeader, PROXY_TLV } from '../../src/server/proxy-protocol.js';
import { ManualClock, readAll, Tracker, until } from './helpers.js';

const tracker = new Tracker();
afterEach(() => tracker.cleanup());

const WHOAMI = new URL('./fixtures/whoami-connection-handler.ts', import.meta.url).pathname;
const FRAME_HANDLER = new URL('./fixtures/frame-handler.ts', import.meta.url).pathname;
const v1 = (
  source: string,
  sourcePort: number,
  destination: string,
  destinationPort: number,
): Uint8Array =>
  encodeProxyHeader({
    version: 1,
    source: { address: source, port: sourcePort },
    destination: { address: destination, port: destinationPort },
  });

/** Sends `bytes` on a fresh raw connection and returns the first reply line (or '' if closed). */
async function exchange(
  address: string,
  bytes: Uint8Array,
  localAddress?: string,
): Promise<string> {
  const socket = await tracker.socket(address, localAddress);
  const reply = new Promise<string>((resolve) => {
    let buffered = '';
    socket.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const newline = buffered.indexOf('\n');
      if (newline !== -1) {
        resolve(buffered.slice(0, newline));
      }
    });
    socket.on('close', () => resolve(''));
  });
  socket.write(bytes);
  return reply;
}

describe('proxyProtocol: on', () => {
  it('v1: the handler sees the client and destination from the header (header and data in one segment)', async () => {
    const server = await tracker.server({ handler: WHOAMI, framing: 'line', proxyProtocol: true });
    const header = v1('192.0.2.1', 5000, '198.51.100.1', 443);
    const reply = await exchange(server.address, Buffer.concat([header, Buffer.from('hello\n')]));
    expect(reply).toBe('tcp://192.0.2.1:5000 tcp://198.51.100.1:443 true -');
  });

  it('v2 with TLVs and IPv6: the parsed header reaches the handler', async () => {
    const seen: unknown[] = [];
    const server = await tracker.server({
      framing: 'line',
      proxyProtocol: true,
      handler: async (channel, info) => {
        seen.push(info.proxyHeader);
        await channel.receive();
        await channel.send(info.remoteAddress);
      },
    });
    const header = encodeProxyHeader({
      version: 2,
      source: { address: '2001:db8::7', port: 40000 },
      destination: { address: '2001:db8::1', port: 7070 },
      tlvs: [{ type: PROXY_TLV.AUTHORITY, value: new TextEncoder().encode('chat.example') }],
    });
    expect(await exchange(server.address, Buffer.concat([header, Buffer.from('x\n')]))).toBe(
      'tcp://[2001:db8::7]:40000',
    );
    expect(seen[0]).toMatchObject({ version: 2, tlvs: [{ type: PROXY_TLV.AUTHORITY }] });
  });

  it('LOCAL (proxy health check): the real socket addresses are used', async () => {
    const server = await tracker.server({ handler: WHOAMI, framing: 'line', proxyProtocol: true });
    const reply = await exchange(
      server.address,
      Buffer.concat([encodeProxyHeader({ version: 2, command: 'local' }), Buffer.from('x\n')]),
    );
    expect(reply).toMatch(/^tcp:\/\/127\.0\.0\.1:\d+ tcp:\/\/127\.0\.0\.1:\d+ false -$/);
  });

  it('a connection without a valid header is rejected (SB_PROXY_HEADER_INVALID); others keep working', async () => {
    const errors: FrameErrorMessage[] = [];
    const unsubscribe = diagnosticChannels.frameError.subscribe((message) => errors.push(message));
    try {
      const server = await tracker.server({
        handler: 'echo',
        framing: 'line',
        proxyProtocol: true,
      });
      expect(await exchange(server.address, Buffer.from('hello without header\n'))).toBe('');
      expect(
        await exchange(server.address, Buffer.from('PROXY TCP4 1.2.3.4 5.6.7.8 1\r\nhi\n')),
      ).toBe('');
      expect(errors.map((message) => message.code)).toEqual([
        'SB_PROXY_HEADER_INVALID',
        'SB_PROXY_HEADER_INVALID',
      ]);
      expect(server.metrics.connectionsRefused.proxy_header).toBe(2);
      expect(
        await exchange(
          server.address,
          Buffer.concat([v1('10.0.0.1', 1, '10.0.0.2', 2), Buffer.from('ok\n')]),
        ),
      ).toBe('ok');
    } finally {
      unsubscribe();
    }
  });

  it('a header that never completes is cut by frameTimeout', async () => {
    const clock = new ManualClock();
    const server = await tracker.server({
      handler: 'echo',
      framing: 'line',
      proxyProtocol: true,
      frameTimeout: 1000,
      clock,
    });
    const socket = await tracker.socket(server.address);
    const ended = readAll(socket);
    socket.write('PROXY TCP4 1.2.');
    await until(() => clock.pending === 1);
    clock.advance(1000);
    await ended;
    expect(server.metrics.errors.SB_FRAME_TIMEOUT).toBe(1);
  });

  it('maxConnectionsPerIp counts the PROXY client, not the proxy', async () => {
    const server = await tracker.server({
      handler: 'echo',
      framing: 'line',
      proxyProtocol: true,
      maxConnectionsPerIp: 1,
    });
    // Two clients behind the same proxy address: both served.
    const first = await tracker.socket(server.address);
    first.write(Buffer.concat([v1('203.0.113.1', 1, '10.0.0.1', 7070), Buffer.from('a\n')]));
    await until(() => server.connections === 1);
    expect(
      await exchange(
        server.address,
        Buffer.concat([v1('203.0.113.2', 1, '10.0.0.1', 7070), Buffer.from('b\n')]),
      ),
    ).toBe('b');
    // The same client again: refused with one line.
    expect(
      await exchange(
        server.address,
        Buffer.concat([v1('203.0.113.1', 2, '10.0.0.1', 7070), Buffer.from('c\n')]),
      ),
    ).toMatch(/^SB_TOO_MANY_CONNECTIONS/);
  });

  it('threads: the frame context carries the PROXY addresses', async () => {
    const server = await tracker.server({
      handler: FRAME_HANDLER,
      framing: 'line',
      proxyProtocol: true,
      dispatch: 'threads',
      workers: 1,
    });
    const reply = await exchange(
      server.address,
      Buffer.concat([v1('192.0.2.9', 9, '192.0.2.10', 10), Buffer.from('ctx\n')]),
    );
    expect(JSON.parse(reply)).toMatchObject({ remoteAddress: 'tcp://192.0.2.9:9', proxied: true });
  });

  it('processes: the worker reads the header', async () => {
    const server = await tracker.server({
      handler: WHOAMI,
      framing: 'line',
      proxyProtocol: true,
      dispatch: 'processes',
      workers: 1,
    });
    const reply = await exchange(
      server.address,
      Buffer.concat([v1('192.0.2.3', 33, '192.0.2.4', 44), Buffer.from('x\n')]),
    );
    expect(reply).toBe('tcp://192.0.2.3:33 tcp://192.0.2.4:44 true -');
    expect(await exchange(server.address, Buffer.from('no header\n'))).toBe('');
    await until(() => server.metrics.connectionsRefused.proxy_header === 1);
  });
});

describe('proxyProtocol: off', () => {
  it('a PROXY header is just data', async () => {
    const server = await tracker.server({ handler: 'echo', framing: 'line' });
    const header = 'PROXY TCP4 192.0.2.1 198.51.100.1 5000 443';
    expect(await exchange(server.address, Buffer.from(`${header}\n`))).toBe(header);
  });
});

describe('proxyProtocol and close()', () => {
  it('a connection still sending its header is destroyed by close() at once', async () => {
    const clock = new ManualClock();
    const server = await tracker.server({
      handler: 'echo',
      framing: 'line',
      proxyProtocol: true,
      clock,
    });
    const socket = await tracker.socket(server.address);
    const ended = readAll(socket);
    socket.write('PROXY TCP4 ');
    await until(() => clock.pending === 1); // admitted: the header deadline is armed
    await server.close({ timeout: 10_000 });
    await ended;
    expect(server.metrics.connectionsRefused).toMatchObject({ closing: 1, proxy_header: 0 });
  });
});
