/**
 * Message-aware faults on a framed proxy: proxies created over the Toxiproxy API with a
 * `framing` (plain HTTP), toxics added with the real toxiproxy-node-client, effects
 * checked on real loopback traffic.
 */
import net from 'node:net';
import { Toxiproxy } from 'toxiproxy-node-client';
import { afterEach, describe, expect, it } from 'vitest';
import { Channel, connect, listen } from '../../src/index.js';
import { FaultProxy, ToxiproxyServer } from '../../src/testing/index.js';
import { startRecordingEcho } from '../helpers/recording-echo.js';
import { until } from '../helpers/until.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) {
    await cleanup();
  }
});

const startEcho = (listen?: { port: number } | { path: string }) =>
  startRecordingEcho(cleanups, listen);

/** A framed proxy created with a plain HTTP request, handed to toxiproxy-node-client. */
async function framedProxy(framing: string, upstreamPort: number) {
  const api = await ToxiproxyServer.start({ listen: '127.0.0.1:0', seed: 3 });
  cleanups.push(() => api.close());
  const response = await fetch(`${api.url}/proxies`, {
    method: 'POST',
    body: JSON.stringify({
      name: 'framed',
      listen: '127.0.0.1:0',
      upstream: `127.0.0.1:${upstreamPort}`,
      framing,
    }),
  });
  expect(response.status).toBe(201);
  expect(await response.json()).toMatchObject({ framing });
  const client = new Toxiproxy(api.url);
  return { api, proxy: await client.get('framed') };
}

const toxic = (type: string, stream: string, attributes: object) =>
  ({ name: type, type, stream, toxicity: 1, attributes }) as never;

/** Sends lines one round trip at a time and collects each reply line (or null on a timeout). */
async function lineRoundTrips(address: string, lines: string[]): Promise<(string | null)[]> {
  const socket = await connect(address);
  const channel = new Channel(socket, { framing: 'line' });
  cleanups.push(() => channel.destroy());
  const replies: (string | null)[] = [];
  for (const line of lines) {
    await channel.send(line);
    try {
      const reply = await channel.receive({ timeout: 300 });
      replies.push(reply === null ? null : Buffer.from(reply).toString());
    } catch (error) {
      if ((error as { code?: string }).code !== 'SB_TIMEOUT') {
        throw error;
      }
      replies.push(null);
    }
  }
  return replies;
}

describe('message toxics', () => {
  it('message_drop nth 3 drops the 3rd reply of a line echo, and only it', async () => {
    const echo = await startEcho();
    const { proxy } = await framedProxy('line', echo.port);
    await proxy.addToxic(toxic('message_drop', 'downstream', { nth: 3 }));
    const replies = await lineRoundTrips(proxy.listen, ['one', 'two', 'three', 'four', 'five']);
    expect(replies).toEqual(['one', 'two', null, 'four', 'five']);
    expect(echo.received().toString()).toBe('one\ntwo\nthree\nfour\nfive\n');
  });

  it('match selects the messages: a text match drops only lines starting with PUBLISH', async () => {
    const echo = await startEcho();
    const { proxy } = await framedProxy('line', echo.port);
    await proxy.addToxic(toxic('message_drop', 'upstream', { match: { text: '^PUBLISH' } }));
    const socket = await connect(proxy.listen);
    const channel = new Channel(socket, { framing: 'line' });
    cleanups.push(() => channel.destroy());
    for (const line of ['SUB a', 'PUBLISH a 1', 'PING', 'PUBLISH a 2', 'xPUBLISH']) {
      await channel.send(line);
    }
    await channel.shutdown();
    const replies: string[] = [];
    for (let count = 0; count < 10; count += 1) {
      const reply = await channel.receive({ timeout: 5_000 });
      if (reply === null) {
        break;
      }
      replies.push(Buffer.from(reply).toString());
    }
    expect(replies).toEqual(['SUB a', 'PING', 'xPUBLISH']);
  });

  it('a text match of (a+)+$ on 16 KiB of "a" and a "!" returns (linear time) and selects right', async () => {
    const echo = await startEcho();
    const { proxy } = await framedProxy('line', echo.port);
    await proxy.addToxic(toxic('message_drop', 'upstream', { match: { text: '(a+)+$' } }));
    const hostile = `${'a'.repeat(16 * 1024 - 1)}!`; // 16 KiB: all of it is read
    const socket = await connect(proxy.listen);
    const channel = new Channel(socket, { framing: 'line' });
    cleanups.push(() => channel.destroy());
    for (const line of [hostile, 'aaaa', 'b']) {
      await channel.send(line);
    }
    await channel.shutdown();
    const replies: string[] = [];
    for (let count = 0; count < 10; count += 1) {
      const reply = await channel.receive({ timeout: 5_000 });
      if (reply === null) {
        break;
      }
      replies.push(Buffer.from(reply).toString());
    }
    expect(replies).toEqual([hostile, 'b']);
  });

  it('a hex_prefix match on tagged framing counts only type 0x02 messages towards nth', async () => {
    const echo = await startEcho();
    const { proxy } = await framedProxy('tagged:01=4,02=length:u8', echo.port);
    await proxy.addToxic(
      toxic('message_drop', 'upstream', { nth: 2, match: { hex_prefix: '02' } }),
    );
    const raw = net.connect({ host: '127.0.0.1', port: Number(proxy.listen.split(':')[1]) });
    cleanups.push(() => {
      raw.destroy();
    });
    const messages = [
      Buffer.from([0x02, 1, 0xaa]), // type 2 #1
      Buffer.from([0x01, 1, 2, 3, 4]),
      Buffer.from([0x02, 1, 0xbb]), // type 2 #2: dropped
      Buffer.from([0x01, 5, 6, 7, 8]),
      Buffer.from([0x02, 1, 0xcc]),
    ];
    const expected = Buffer.concat([messages[0]!, messages[1]!, messages[3]!, messages[4]!]);
    raw.write(Buffer.concat(messages));
    await until(() => echo.received().length >= expected.length);
    expect(echo.received()).toEqual(expected);
  });

  it('message_corrupt keeps the frame count and changes exactly one bit', async () => {
    const echo = await startEcho();
    const { proxy } = await framedProxy('length:u16be', echo.port);
    await proxy.addToxic(toxic('message_corrupt', 'upstream', { nth: 2 }));
    const socket = await connect(proxy.listen);
    const channel = new Channel(socket, { framing: 'length:u16be' });
    cleanups.push(() => channel.destroy());
    const sent = ['first message', 'second message', 'third message'].map((text) =>
      Buffer.from(text),
    );
    const received: Buffer[] = [];
    for (const message of sent) {
      await channel.send(message);
      const reply = await channel.receive({ timeout: 5_000 });
      received.push(Buffer.from(reply!));
    }
    expect(received.length).toBe(3);
    expect(received[0]).toEqual(sent[0]);
    expect(received[2]).toEqual(sent[2]);
    expect(received[1]!.length).toBe(sent[1]!.length);
    let differingBits = 0;
    for (let index = 0; index < sent[1]!.length; index += 1) {
      let diff = received[1]![index]! ^ sent[1]![index]!;
      while (diff !== 0) {
        differingBits += diff & 1;
        diff >>= 1;
      }
    }
    expect(differingBits).toBe(1);
  });

  it('message_truncate cuts mid-message: the client gets SB_UNEXPECTED_EOF', async () => {
    const echo = await startEcho();
    const { proxy } = await framedProxy('line', echo.port);
    await proxy.addToxic(toxic('message_truncate', 'downstream', { nth: 2 }));
    const socket = await connect(proxy.listen);
    const channel = new Channel(socket, { framing: 'line' });
    cleanups.push(() => channel.destroy());
    await channel.send('complete line');
    expect(Buffer.from((await channel.receive({ timeout: 5_000 }))!).toString()).toBe(
      'complete line',
    );
    await channel.send('cut in the middle');
    await expect(channel.receive({ timeout: 5_000 })).rejects.toMatchObject({
      code: 'SB_UNEXPECTED_EOF',
    });
  });

  it('message_delay and message_duplicate act on the selected message, order kept', async () => {
    const echo = await startEcho();
    const { proxy } = await framedProxy('line', echo.port);
    await proxy.addToxic(toxic('message_delay', 'downstream', { nth: 1, delay: 120 }));
    await proxy.addToxic(toxic('message_duplicate', 'upstream', { nth: 2 }));
    const socket = await connect(proxy.listen);
    const channel = new Channel(socket, { framing: 'line' });
    cleanups.push(() => channel.destroy());
    const started = performance.now();
    await channel.send('a');
    await channel.send('b');
    await channel.send('c');
    const replies: string[] = [];
    for (let count = 0; count < 4; count += 1) {
      replies.push(Buffer.from((await channel.receive({ timeout: 5_000 }))!).toString());
    }
    expect(performance.now() - started).toBeGreaterThanOrEqual(115);
    expect(replies).toEqual(['a', 'b', 'b', 'c']);
  });

  it('a Channel.request() client sees SB_TIMEOUT when its 2nd response is dropped', async () => {
    const listener = await listen('127.0.0.1:0');
    cleanups.push(() => listener.close());
    const served: Channel[] = [];
    void (async () => {
      for (;;) {
        const accepted = await listener.accept().catch(() => undefined);
        if (accepted === undefined) {
          return;
        }
        served.push(
          new Channel(accepted, {
            framing: 'sbp',
            onRequest: async (body) => `re:${Buffer.from(body).toString()}`,
          }),
        );
      }
    })();
    cleanups.push(() => {
      for (const channel of served) {
        channel.destroy();
      }
    });
    const port = Number(listener.url.split(':').pop());
    const { proxy } = await framedProxy('sbp', port);
    await proxy.addToxic(toxic('message_drop', 'downstream', { nth: 2 }));
    const socket = await connect(proxy.listen);
    const channel = new Channel(socket, { framing: 'sbp' });
    cleanups.push(() => channel.destroy());
    expect(Buffer.from(await channel.request('one', { timeout: 5_000 })).toString()).toBe('re:one');
    await expect(channel.request('two', { timeout: 300 })).rejects.toMatchObject({
      code: 'SB_TIMEOUT',
    });
    expect(Buffer.from(await channel.request('three', { timeout: 5_000 })).toString()).toBe(
      're:three',
    );
  });

  it('a lying header makes that direction plain bytes: counted, and the bytes arrive unchanged', async () => {
    const echo = await startEcho();
    const events: string[] = [];
    const proxy = await FaultProxy.start({
      target: `127.0.0.1:${echo.port}`,
      framing: 'length:u32be',
      onEvent: (event) => {
        if (event.type === 'framingError') {
          events.push(`${event.direction} ${event.code}`);
        }
      },
    });
    cleanups.push(() => proxy.close());
    proxy.addFault('upstream', { type: 'message', action: 'drop' });
    const raw = net.connect({ host: '127.0.0.1', port: proxy.port });
    cleanups.push(() => {
      raw.destroy();
    });
    const lying = Buffer.concat([
      Buffer.from([0xff, 0xff, 0xff, 0xf0]),
      Buffer.from('not that long'),
    ]);
    raw.write(lying);
    await until(() => echo.received().length >= lying.length);
    expect(echo.received()).toEqual(lying);
    // The echo sends the same lie back: each direction falls back on its own.
    await until(() => events.length >= 2);
    expect(events.sort()).toEqual(['downstream SB_FRAME_TOO_LARGE', 'upstream SB_FRAME_TOO_LARGE']);
    expect(proxy.stats.framingErrors).toBe(2);
    raw.write('more');
    await until(() => echo.received().length >= lying.length + 4);
    expect(echo.received().subarray(lying.length).toString()).toBe('more');
  });

  it('a partial frame held for a message fault is released when the fault is removed', async () => {
    const echo = await startEcho();
    const proxy = await FaultProxy.start({ target: `127.0.0.1:${echo.port}`, framing: 'line' });
    cleanups.push(() => proxy.close());
    const id = proxy.addFault('upstream', { type: 'message', action: 'drop', nth: 5 });
    const raw = net.connect({ host: '127.0.0.1', port: proxy.port });
    cleanups.push(() => {
      raw.destroy();
    });
    raw.write('whole\npart');
    await until(() => echo.received().length >= 6);
    expect(echo.received().toString()).toBe('whole\n');
    proxy.removeFault(id);
    await until(() => echo.received().length >= 10);
    expect(echo.received().toString()).toBe('whole\npart');
  });

  it('FaultProxy refuses a message fault without a framing', async () => {
    const echo = await startEcho();
    const proxy = await FaultProxy.start({ target: `127.0.0.1:${echo.port}` });
    cleanups.push(() => proxy.close());
    expect(() => proxy.addFault('upstream', { type: 'message', action: 'drop', nth: 1 })).toThrow(
      /framing/,
    );
  });
});
