import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type ConnectionCloseMessage,
  diagnosticChannels,
  type FrameErrorMessage,
} from '../../src/diagnostics.js';
import { isSwitchboardError } from '../../src/errors.js';
import type { ConnectionInfo } from '../../src/server/connection-handler.js';
import { createServer } from '../../src/server/server.js';
import { hasIpv6Loopback } from '../helpers/loopback.js';
import { echoClient, makePayloads, readAll, seededRandom, Tracker, until } from './helpers.js';

const tracker = new Tracker();
afterEach(() => tracker.cleanup());

describe('loop dispatch: echo under load', () => {
  it('500 clients x 100 messages of random sizes: every reply once, in order; close with messages in flight', async () => {
    const clients = 500;
    const messages = 100;
    const server = await tracker.server({
      handler: 'echo',
      framing: 'length:u32be',
      backlog: 1024,
    });
    expect(server.address).toMatch(/^tcp:\/\/127\.0\.0\.1:\d+$/);
    const random = seededRandom(42);
    const channels = await Promise.all(
      Array.from({ length: clients }, () => tracker.channel(server.address, 'length:u32be')),
    );
    let ready = 0;
    let closing: Promise<void> | null = null;
    const onReady = (): void => {
      ready += 1;
      if (ready === clients) {
        // Every client is being served and has 99 messages still to go through.
        closing = server.close({ timeout: 20_000 });
      }
    };
    const results = await Promise.all(
      channels.map(async (channel, client) => {
        const verified = await echoClient(
          channel,
          makePayloads(random, client, messages, 2048),
          onReady,
        );
        await channel.close();
        return verified;
      }),
    );
    expect(results.every((count) => count === messages)).toBe(true);
    expect(closing).not.toBeNull();
    await closing;
    await server.closed;
    const metrics = server.metrics;
    expect(metrics.connectionsAccepted).toBe(clients);
    expect(metrics.connectionsOpen).toBe(0);
    expect(metrics.framesIn).toBe(clients * messages);
    expect(metrics.framesOut).toBe(clients * messages);
    expect(metrics.errors).toEqual({});
  });
});

describe('loop dispatch: handlers', () => {
  it('a handler function gets the channel and connection info', async () => {
    const seen: ConnectionInfo[] = [];
    const server = await tracker.server({
      framing: 'line',
      handler: async (channel, info) => {
        seen.push(info);
        const message = await channel.receive();
        await channel.send(`${info.id} ${new TextDecoder().decode(message ?? new Uint8Array())}`);
      },
    });
    const channel = await tracker.channel(server.address, 'line');
    await channel.send('hi');
    expect(new TextDecoder().decode((await channel.receive())!)).toBe('1 hi');
    expect(await channel.receive()).toBeNull(); // the handler returned: the server closed gracefully
    expect(seen[0]).toMatchObject({
      id: '1',
      remoteAddress: channel.socket.localAddress,
      localAddress: server.address,
      proxied: false,
      proxyHeader: null,
      peerCertificate: undefined,
    });
  });

  it('a handler that throws: SB_HANDLER_ERROR on that connection, the server keeps serving', async () => {
    const errors: FrameErrorMessage[] = [];
    const unsubscribe = diagnosticChannels.frameError.subscribe((message) => errors.push(message));
    try {
      const server = await tracker.server({
        framing: 'line',
        handler: async (channel) => {
          for await (const message of channel) {
            if (new TextDecoder().decode(message) === 'boom') {
              throw new Error('handler bug');
            }
            await channel.send(message);
          }
        },
      });
      const victim = await tracker.socket(server.address);
      const ended = readAll(victim);
      victim.write('boom\n');
      await ended;
      const survivor = await tracker.channel(server.address, 'line');
      await survivor.send('still here');
      expect(new TextDecoder().decode((await survivor.receive())!)).toBe('still here');
      const mine = errors.filter(
        (message) => message.serverId !== undefined && message.code === 'SB_HANDLER_ERROR',
      );
      expect(mine).toHaveLength(1);
      expect((mine[0]!.error.cause as Error).message).toBe('handler bug');
      expect(server.metrics.errors.SB_HANDLER_ERROR).toBe(1);
    } finally {
      unsubscribe();
    }
  });

  it('chat: each frame goes to every other client', async () => {
    const server = await tracker.server({ handler: 'chat', framing: 'line' });
    const [alice, bob, carol] = await Promise.all(
      [1, 2, 3].map(() => tracker.channel(server.address, 'line')),
    );
    await until(() => server.connections === 3);
    await alice!.send('hello from alice');
    const decode = (bytes: Uint8Array | null): string => new TextDecoder().decode(bytes!);
    expect(decode(await bob!.receive())).toBe('hello from alice');
    expect(decode(await carol!.receive())).toBe('hello from alice');
    await bob!.send('hi, bob here');
    expect(decode(await alice!.receive())).toBe('hi, bob here');
    expect(decode(await carol!.receive())).toBe('hi, bob here');
    // Alice got nothing of her own: the next thing she sees is Carol's.
    await carol!.send('carol');
    expect(decode(await alice!.receive())).toBe('carol');
  });

  it('discard reads and drops', async () => {
    const server = await tracker.server({ handler: 'discard', framing: 'line' });
    const socket = await tracker.socket(server.address);
    const ended = readAll(socket);
    socket.end('a\nb\nc\n');
    const { data } = await ended;
    expect(data.byteLength).toBe(0);
    await until(() => server.metrics.framesIn === 3);
  });

  it('a handler module path is loaded (loop model)', async () => {
    const server = await tracker.server({
      framing: 'line',
      handler: new URL('./fixtures/reverse-connection-handler.ts', import.meta.url).pathname,
    });
    const channel = await tracker.channel(server.address, 'line');
    await channel.send('abc');
    expect(new TextDecoder().decode((await channel.receive())!)).toBe('cba');
  });

  it('connection:open and connection:close are published with traffic counts', async () => {
    const closes: ConnectionCloseMessage[] = [];
    const unsubscribe = diagnosticChannels.connectionClose.subscribe((message) =>
      closes.push(message),
    );
    try {
      const server = await tracker.server({ handler: 'echo', framing: 'line' });
      const channel = await tracker.channel(server.address, 'line');
      await channel.send('12345');
      await channel.receive();
      await channel.close();
      await until(() =>
        closes.some((message) => message.remoteAddress === channel.socket.localAddress),
      );
      const mine = closes.find((message) => message.remoteAddress === channel.socket.localAddress)!;
      expect(mine).toMatchObject({
        code: null,
        framesIn: 1,
        framesOut: 1,
        bytesIn: 5,
        bytesOut: 5,
      });
    } finally {
      unsubscribe();
    }
  });
});

describe('close()', () => {
  it('is idempotent: concurrent and repeated calls share one completion; closed resolves', async () => {
    const server = await createServer({ handler: 'echo', framing: 'line' });
    const first = server.close();
    const second = server.close();
    expect(second).toBe(first);
    await first;
    await server.closed;
    expect(server.close()).toBe(first);
  });

  it('stops accepting, lets a busy handler finish and flushes its reply', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const server = await tracker.server({
      framing: 'line',
      handler: async (channel, info) => {
        const message = await channel.receive();
        await gate;
        await channel.send(
          `done ${new TextDecoder().decode(message!)} aborted=${info.signal.aborted}`,
        );
      },
    });
    const channel = await tracker.channel(server.address, 'line');
    await channel.send('work');
    await until(() => server.connections === 1);
    const closing = server.close({ timeout: 10_000 });
    await expect(tracker.socket(server.address)).rejects.toThrow(/ECONNREFUSED/);
    release();
    expect(new TextDecoder().decode((await channel.receive())!)).toBe('done work aborted=true');
    expect(await channel.receive()).toBeNull(); // the server's FIN after the flushed reply
    await channel.close();
    await closing;
    expect(server.connections).toBe(0);
  });

  it('destroys busy connections that outlive the timeout', async () => {
    const server = await createServer({
      framing: 'line',
      handler: async (channel) => {
        await channel.receive(); // waits forever: the client never finishes its line
      },
    });
    const socket = await tracker.socket(server.address);
    const ended = readAll(socket);
    await until(() => server.connections === 1);
    // A frame in progress makes the connection busy: close() waits for it (an idle
    // one would be closed at once, see test/reliability/close-idle.test.ts).
    socket.write('half a line');
    const closes: number[] = [];
    const unsubscribe = diagnosticChannels.serverClose.subscribe((message) =>
      closes.push(message.destroyed),
    );
    try {
      await server.close({ timeout: 50 });
      await ended;
      expect(closes).toEqual([1]);
    } finally {
      unsubscribe();
    }
  });
});

describe('options', () => {
  it('are validated loudly, naming the option', async () => {
    await expect(createServer({ handler: 'echo', maxConnections: -1 })).rejects.toThrow(
      /maxConnections/,
    );
    await expect(createServer({ handler: 'echo', idleTimeout: 1.5 })).rejects.toThrow(
      /idleTimeout/,
    );
    await expect(createServer({ handler: 'echo', dispatch: 'fibers' as 'loop' })).rejects.toThrow(
      /dispatch/,
    );
    await expect(createServer({ handler: 'echo', mode: 'echo' } as never)).rejects.toThrow(
      /use "handler"/,
    );
    await expect(
      createServer({ handler: 'echo', framing: 'nope' as string }),
    ).rejects.toMatchObject({
      code: 'SB_BAD_FRAMING_SPEC',
    });
    await expect(createServer({ handler: './does-not-exist.ts' })).rejects.toThrow(
      /does not exist/,
    );
    // A typo of a built-in (a computed string escapes the HandlerSpec type) gets a guess.
    const typo: string = 'ecoh';
    await expect(createServer({ handler: typo })).rejects.toMatchObject({
      code: 'SB_BAD_OPTION',
      message: expect.stringContaining(`did you mean 'echo'?`),
    });
    await expect(createServer({ handler: 'echo', maxConections: 5 } as never)).rejects.toThrow(
      /unknown option "maxConections" \(did you mean "maxConnections"\?\)/,
    );
    await expect(
      createServer({ handler: async () => undefined, dispatch: 'threads' }),
    ).rejects.toThrow(/module path/);
    const error = await createServer({ handler: 'echo', listen: 'nowhere' }).catch(
      (failure: unknown) => failure,
    );
    expect(isSwitchboardError(error, 'SB_BAD_ADDRESS')).toBe(true);
  });

  it('a port in use is a ConnectionError', async () => {
    const server = await tracker.server({ handler: 'echo' });
    const port = server.address.split(':').at(-1);
    await expect(
      createServer({ handler: 'echo', listen: `127.0.0.1:${port}` }),
    ).rejects.toMatchObject({
      name: 'ConnectionError',
    });
  });
});

describe('listen addresses', () => {
  it('a Unix socket (also under processes)', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'switchboard-server-'));
    try {
      for (const dispatch of ['loop', 'processes'] as const) {
        const path = join(directory, `${dispatch}.sock`);
        const server = await tracker.server({
          handler: new URL('./fixtures/whoami-connection-handler.ts', import.meta.url).pathname,
          framing: 'line',
          listen: `unix:${path}`,
          dispatch,
          workers: 1,
        });
        expect(server.address).toBe(`unix:${path}`);
        const channel = await tracker.channel(server.address, 'line');
        await channel.send('who');
        expect(new TextDecoder().decode((await channel.receive())!)).toBe(
          `unix:${path} unix:${path} false -`,
        );
        await channel.close();
        await server.close();
      }
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });

  it('IPv6 loopback, when available', async () => {
    if (!(await hasIpv6Loopback())) {
      console.warn('skipping IPv6 listen test: no ::1 on this machine');
      return;
    }
    const server = await tracker.server({ handler: 'echo', framing: 'line', listen: '[::1]:0' });
    expect(server.address).toMatch(/^tcp:\/\/\[::1\]:\d+$/);
    const channel = await tracker.channel(server.address, 'line');
    await channel.send('v6');
    expect(new TextDecoder().decode((await channel.receive())!)).toBe('v6');
  });
});
