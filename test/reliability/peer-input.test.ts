/**
 * Peer input never produces a caller-fault code, and no frame is dropped without
 * an error (#14 item 6). A `line` payload ending in CR (`ab\r\r\n` decodes to
 * `ab\r`) used to be refused by the line encoder: echo closed the connection with
 * SB_INVALID_ARGUMENT and chat dropped the line for everyone, silently. Now the
 * encoder writes it back (`ab\r` + CRLF), in every model; and a handler that
 * misuses the API (sends what its framing cannot carry) is reported as
 * SB_HANDLER_ERROR, never as a caller-fault code. Loopback, port 0, bounded.
 */
import type * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { type ConnectionCloseMessage, diagnosticChannels } from '../../src/diagnostics.js';
import { hostPort, Tracker, until } from '../server/helpers.js';

const tracker = new Tracker();
afterEach(() => tracker.cleanup());

const MODELS = ['loop', 'threads', 'processes'] as const;

/**
 * Collects what `socket` receives; `waitFor(tail)` resolves once the text ends with
 * `tail` or the socket has closed (bounded).
 */
function collector(socket: net.Socket) {
  const chunks: Buffer[] = [];
  let closed = false;
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  socket.on('close', () => {
    closed = true;
  });
  const text = (): string => Buffer.concat(chunks).toString('latin1');
  return {
    text,
    waitFor: (tail: string) => until(() => closed || text().endsWith(tail), 10_000),
  };
}

describe('a line ending in CR is served, not refused (#14)', () => {
  for (const dispatch of MODELS) {
    it(`echo (${dispatch}): "ab\\r\\r\\n" comes back as "ab\\r\\r\\n"; no error counted`, async () => {
      const server = await tracker.server({
        handler: 'echo',
        framing: 'line',
        dispatch,
        workers: 1,
        listen: '127.0.0.1:0',
      });
      const socket = await tracker.socket(server.address);
      const received = collector(socket);
      socket.write('ab\r\r\nnext\n');
      await received.waitFor('next\n');
      expect(received.text()).toBe('ab\r\r\nnext\n');
      expect(socket.destroyed).toBe(false);
      socket.end();
      await until(() => server.metrics.connectionsOpen === 0, 10_000);
      expect(server.metrics.errors).toEqual({});
    });

    it(`chat (${dispatch}): the line reaches the other member intact`, async () => {
      const server = await tracker.server({
        handler: 'chat',
        framing: 'line',
        dispatch,
        workers: 1,
        listen: '127.0.0.1:0',
      });
      const sender = await tracker.socket(server.address);
      const reader = await tracker.socket(server.address);
      const received = collector(reader);
      // Both are members once each has seen a frame: the reader says hello first.
      const senderSeen = collector(sender);
      reader.write('hello\n');
      await senderSeen.waitFor('hello\n');
      sender.write('ab\r\r\nafter\n');
      await received.waitFor('after\n');
      expect(received.text()).toBe('ab\r\r\nafter\n');
      expect(server.metrics.errors).toEqual({});
    });
  }
});

describe("sbp: a DATA body within the room for an id is the peer's fault (#14)", () => {
  it('echo closes with SB_FRAME_TOO_LARGE, not a handler or caller-fault code', async () => {
    const closes: ConnectionCloseMessage[] = [];
    const unsubscribe = diagnosticChannels.connectionClose.subscribe((message) =>
      closes.push(message),
    );
    try {
      const server = await tracker.server({
        handler: 'echo',
        framing: 'sbp',
        maxFrame: 16,
        listen: '127.0.0.1:0',
      });
      const socket = await tracker.socket(server.address);
      // DATA (type 0, no id) with a 18-byte body: length 19 <= 16 + 1 + 4.
      socket.write(Uint8Array.from([0, 0, 0, 19, 0, ...new Uint8Array(18)]));
      await until(() => closes.length === 1, 10_000);
      expect(closes[0]!.code).toBe('SB_FRAME_TOO_LARGE');
    } finally {
      unsubscribe();
    }
  });
});

describe('a handler that misuses the API is a handler error, not a caller-fault code', () => {
  it('sending a payload the framing cannot carry closes with SB_HANDLER_ERROR', async () => {
    const closes: ConnectionCloseMessage[] = [];
    const unsubscribe = diagnosticChannels.connectionClose.subscribe((message) =>
      closes.push(message),
    );
    try {
      const server = await tracker.server({
        handler: async (channel) => {
          await channel.receive();
          await channel.send('two\nlines'); // `line` cannot carry an LF
        },
        framing: 'line',
        listen: '127.0.0.1:0',
      });
      const { port } = hostPort(server.address);
      expect(port).toBeGreaterThan(0);
      const socket = await tracker.socket(server.address);
      socket.write('go\n');
      await until(() => closes.length === 1, 10_000);
      expect(closes[0]!.code).toBe('SB_HANDLER_ERROR');
      expect((closes[0]!.error?.cause as { code?: string } | undefined)?.code).toBe(
        'SB_INVALID_ARGUMENT',
      );
      expect(server.metrics.errors).toEqual({ SB_HANDLER_ERROR: 1 });
    } finally {
      unsubscribe();
    }
  });
});
