import { afterEach, describe, expect, it } from 'vitest';
import { diagnosticChannels, type FrameErrorMessage } from '../../src/diagnostics.js';
import { createServer } from '../../src/server/server.js';
import { echoClient, makePayloads, readAll, seededRandom, Tracker, until } from './helpers.js';

const tracker = new Tracker();
afterEach(() => tracker.cleanup());

const FRAME_HANDLER = new URL('./fixtures/frame-handler.ts', import.meta.url).pathname;
const text = (bytes: Uint8Array | null): string =>
  new TextDecoder().decode(bytes ?? new Uint8Array());

describe('threads dispatch', () => {
  // The full size: about 2 s on an idle 2-core machine (frames travel to the
  // workers in batches, one port message per event-loop turn).
  it('500 clients x 100 messages through echo in 2 worker threads: every reply once, in order; close in flight', async () => {
    const clients = 500;
    const messages = 100;
    const server = await tracker.server({
      handler: 'echo',
      framing: 'length:u32be',
      dispatch: 'threads',
      workers: 2,
    });
    expect(server.dispatch).toBe('threads');
    const random = seededRandom(7);
    const channels = await Promise.all(
      Array.from({ length: clients }, () => tracker.channel(server.address, 'length:u32be')),
    );
    let ready = 0;
    let closing: Promise<void> | null = null;
    const results = await Promise.all(
      channels.map(async (channel, client) => {
        const verified = await echoClient(
          channel,
          makePayloads(random, client, messages, 2048),
          () => {
            ready += 1;
            if (ready === clients) {
              closing = server.close({ timeout: 20_000 });
            }
          },
        );
        await channel.close();
        return verified;
      }),
    );
    expect(results.every((count) => count === messages)).toBe(true);
    await closing;
    await server.closed;
    expect(server.metrics.framesOut).toBe(clients * messages);
    expect(server.metrics.handlerLatency.frame.count).toBe(clients * messages);
  });

  it('a handler module: replies stay in frame order although jobs finish out of order', async () => {
    const server = await tracker.server({
      handler: FRAME_HANDLER,
      framing: 'line',
      dispatch: 'threads',
      workers: 2,
    });
    const channel = await tracker.channel(server.address, 'line');
    const words = Array.from({ length: 50 }, (_, index) => `word${index}`);
    for (const word of words) {
      await channel.send(word);
    }
    for (const word of words) {
      expect(text(await channel.receive())).toBe(word.toUpperCase());
    }
    await channel.send('twice:ab');
    await channel.send('none');
    await channel.send('ctx');
    expect(text(await channel.receive())).toBe('ab');
    expect(text(await channel.receive())).toBe('ab');
    const context = JSON.parse(text(await channel.receive()));
    expect(context).toMatchObject({
      connectionId: '1',
      sequence: 52,
      proxied: false,
      localAddress: server.address,
    });
  });

  it('a frame handler that throws closes only its connection (SB_HANDLER_ERROR)', async () => {
    const errors: FrameErrorMessage[] = [];
    const unsubscribe = diagnosticChannels.frameError.subscribe((message) => errors.push(message));
    try {
      const server = await tracker.server({
        handler: FRAME_HANDLER,
        framing: 'line',
        dispatch: 'threads',
        workers: 1,
      });
      const other = await tracker.channel(server.address, 'line');
      const victim = await tracker.socket(server.address);
      const ended = readAll(victim);
      victim.write('boom\n');
      await ended;
      await other.send('fine');
      expect(text(await other.receive())).toBe('FINE');
      await until(() => errors.length === 1);
      expect(errors[0]!.code).toBe('SB_HANDLER_ERROR');
      // The handler's own error is the cause, as with loop (its message may quote the frame).
      expect(errors[0]!.error.message).not.toMatch(/frame handler bug/);
      expect((errors[0]!.error.cause as Error).message).toMatch(/frame handler bug/);

      // A handler that parses the frame as JSON: V8's SyntaxError quotes the peer's bytes,
      // which the SB_HANDLER_ERROR message repeated (and `serve --verbose` printed raw).
      const parsing = await tracker.socket(server.address);
      const parsed = readAll(parsing);
      parsing.write('json:\x1b]2;PEERBYTES\x07\n');
      await parsed;
      await until(() => errors.length === 2);
      expect(errors[1]!.code).toBe('SB_HANDLER_ERROR');
      expect(errors[1]!.error.message).not.toContain('PEERBYTES');
      expect((errors[1]!.error.cause as Error).message).toContain('PEERBYTES');
    } finally {
      unsubscribe();
    }
  });

  it('a worker thread that dies: its jobs fail with SB_WORKER_CRASHED, a replacement serves', async () => {
    const server = await tracker.server({
      handler: FRAME_HANDLER,
      framing: 'line',
      dispatch: 'threads',
      workers: 1,
    });
    const victim = await tracker.socket(server.address);
    const ended = readAll(victim);
    victim.write('exit\n');
    await ended;
    await until(() => server.metrics.errors.SB_WORKER_CRASHED === 1);
    const next = await tracker.channel(server.address, 'line');
    await next.send('after');
    expect(text(await next.receive())).toBe('AFTER');
  });

  it('chat under threads relays on the main thread', async () => {
    const server = await tracker.server({
      handler: 'chat',
      framing: 'line',
      dispatch: 'threads',
      workers: 1,
    });
    const [alice, bob] = await Promise.all(
      [1, 2].map(() => tracker.channel(server.address, 'line')),
    );
    await until(() => server.connections === 2);
    await alice!.send('hi bob');
    expect(text(await bob!.receive())).toBe('hi bob');
  });

  it('a module without a default export fails createServer with an option error', async () => {
    // SB_BAD_OPTION as under loop: the option names the wrong thing; the code crosses the thread.
    await expect(
      createServer({
        handler: new URL('./fixtures/broken-module.ts', import.meta.url).pathname,
        dispatch: 'threads',
        workers: 1,
      }),
    ).rejects.toMatchObject({
      code: 'SB_BAD_OPTION',
      message: expect.stringMatching(/has no default export \(it exports notAHandler\)/),
    });
  });
});
