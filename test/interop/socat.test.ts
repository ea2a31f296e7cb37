/**
 * Interop with socat, a byte pipe that knows nothing about framing, so every byte
 * boundary is decided by the kernel and socat's buffer sizes:
 *
 * - `socat - TCP:127.0.0.1:PORT` pipes stdin to a switchboard echo server and the
 *   replies to stdout: text lines, frames of every binary framing (encoded by
 *   switchboard, checked byte for byte and decoded back), and the `eof` framing's
 *   HTTP-like half-close (socat shuts down its write side at stdin EOF).
 * - a switchboard client talks to `socat TCP-LISTEN:PORT,fork PIPE`, an echo server,
 *   in every framing. socat cannot listen on port 0 and say which port it got, so
 *   the test picks a free port first and retries once with another port if socat
 *   loses the race for it (EADDRINUSE).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createServer, NEED_DATA, parseFraming } from '../../src/index.js';
import { requireTool } from '../helpers/interop.js';
import { BINARY_MESSAGES, fixedMessages, hexArgs, TEXT_MESSAGES } from './peers/cases.js';
import {
  freePort,
  killPeers,
  type PeerServer,
  runPeerClient,
  SOCAT,
  startPeerServer,
} from './peers/spawn-peer.js';
import {
  type EchoKind,
  type EchoServer,
  exchange,
  startEchoServer,
  toHexList,
} from './peers/switchboard-side.js';

const hasSocat = requireTool('socat', [SOCAT, '-V']);

/** Both switchboard echo servers: the real server, and a hand-written Listener + Channel loop. */
const ECHO_KINDS: EchoKind[] = ['createServer', 'channel-loop'];

/** Framings carried through socat as opaque bytes, with payloads each can express. */
const FRAMINGS: Array<{ framing: string; messages: readonly Uint8Array[] }> = [
  { framing: 'line', messages: TEXT_MESSAGES },
  { framing: 'line:crlf', messages: TEXT_MESSAGES },
  { framing: 'delim:00', messages: TEXT_MESSAGES },
  { framing: 'fixed:8', messages: fixedMessages(8) },
  { framing: 'length:u32be', messages: BINARY_MESSAGES },
  { framing: 'length:u16le', messages: BINARY_MESSAGES },
  { framing: 'digits:5', messages: BINARY_MESSAGES },
  { framing: 'varint', messages: BINARY_MESSAGES },
  { framing: 'netstring', messages: BINARY_MESSAGES },
  { framing: 'mllp', messages: TEXT_MESSAGES },
  { framing: 'content-length', messages: BINARY_MESSAGES },
  {
    framing: 'tagged:01=4,02=length:u16be',
    messages: [Uint8Array.of(1, 0, 0, 0, 42), Uint8Array.of(2), Uint8Array.of(2, 0xff, 0x00, 0x0a)],
  },
];

/** The wire bytes of `messages` in `framing`. */
function encodeAll(framing: string, messages: readonly Uint8Array[]): Uint8Array {
  const encoder = parseFraming(framing).createEncoder();
  return Buffer.concat(messages.flatMap((message) => encoder.encode(message)));
}

/** Every frame in `bytes` (the input must end on a frame boundary). */
function decodeAll(framing: string, bytes: Uint8Array): Uint8Array[] {
  const decoder = parseFraming(framing).createDecoder();
  decoder.push(bytes);
  decoder.end();
  const frames: Uint8Array[] = [];
  for (let frame = decoder.next(); frame !== NEED_DATA; frame = decoder.next()) {
    frames.push(frame);
  }
  return frames;
}

/** `socat - TCP:127.0.0.1:port` with `input` on stdin; -t: wait up to 5 s for the replies after stdin EOF. */
function socatClient(port: number, input: Uint8Array) {
  return runPeerClient(SOCAT, ['-t', '5', '-', `TCP:127.0.0.1:${port}`], 15_000, input);
}

/** `socat TCP-LISTEN:PORT,fork PIPE` (an echo server) on a free port; one retry on EADDRINUSE. */
async function startSocatEcho(): Promise<PeerServer> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    try {
      return await startPeerServer(
        SOCAT,
        ['-d', '-d', `TCP-LISTEN:${port},bind=127.0.0.1,reuseaddr,fork`, 'PIPE'],
        { ready: /listening on/, readyOn: 'stderr', port },
      );
    } catch (error) {
      if (attempt >= 2 || !/Address already in use/i.test(String(error))) {
        throw error;
      }
    }
  }
}

const servers: EchoServer[] = [];
const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  killPeers();
  await Promise.all(servers.splice(0).map((server) => server.close()));
  for (const cleanup of cleanups.splice(0).reverse()) {
    await cleanup();
  }
});

describe.skipIf(!hasSocat)('interop: socat', () => {
  it('socat pipes text lines to a switchboard line echo server and prints the replies', async () => {
    const server = await startEchoServer('line');
    servers.push(server);
    const input = 'alpha\nbeta\n\ngamma with spaces\r\n';
    const run = await socatClient(server.port, new TextEncoder().encode(input));
    expect(run.code, run.stderr).toBe(0);
    // line strips a trailing CR; the encoder writes LF.
    expect(run.stdout).toBe('alpha\nbeta\n\ngamma with spaces\n');
    expect(server.errors).toEqual([]);
  });

  it('eof framing: socat sends a request, shuts down at stdin EOF, and gets the whole reply', async () => {
    const server = await startEchoServer('eof');
    servers.push(server);
    const request = BINARY_MESSAGES.at(-1)!;
    const run = await socatClient(server.port, request);
    expect(run.code, run.stderr).toBe(0);
    expect(Buffer.from(run.stdoutBytes).equals(Buffer.from(request))).toBe(true);
    expect(server.errors).toEqual([]);
  });

  it.each([
    ['a Unix socket file', 'file'],
    ['a Linux abstract socket', 'abstract'],
  ])('IPC: socat talks to a switchboard echo server on %s', async (_label, kind) => {
    if (kind === 'abstract' && process.platform !== 'linux') {
      return;
    }
    const directory = mkdtempSync(join(tmpdir(), 'switchboard-socat-'));
    cleanups.push(() => rmSync(directory, { recursive: true, force: true }));
    const name = `switchboard-socat-${process.pid}-${Date.now()}`;
    const path = join(directory, 'echo.sock');
    const server = await createServer({
      listen: kind === 'file' ? `unix:${path}` : `unix:@${name}`,
      framing: 'line',
      handler: 'echo',
    });
    cleanups.push(() => server.close({ timeout: 5_000 }));
    // Node 20 (libuv) binds an abstract name NUL-padded to the full 108-byte sun_path, so
    // socat must send the full-length address too (unix-tightsocklen=0); with its default
    // tight length the kernel sees a different name and refuses.
    const target =
      kind === 'file' ? `UNIX-CONNECT:${path}` : `ABSTRACT-CONNECT:${name},unix-tightsocklen=0`;
    const run = await runPeerClient(
      SOCAT,
      ['-t', '5', '-', target],
      15_000,
      'over IPC\nno ports\n',
    );
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toBe('over IPC\nno ports\n');
    expect(server.metrics.framesIn).toBe(2);
  });

  it('a peer that breaks the framing is cut off with a stable code; the next client is served', async () => {
    const server = await startEchoServer('length:u32be');
    servers.push(server);
    // A length prefix of 0xffffffff (4 GiB) is refused at the header, not after buffering.
    const bad = await socatClient(server.port, Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0x61, 0x62));
    expect(bad.code, bad.stderr).toBe(0);
    expect(bad.stdoutBytes.length).toBe(0);
    const good = await socatClient(
      server.port,
      encodeAll('length:u32be', [Uint8Array.of(1, 2, 3)]),
    );
    expect(Buffer.from(good.stdoutBytes).toString('hex')).toBe('00000003010203');
    expect(server.errorCodes()).toEqual({ SB_FRAME_TOO_LARGE: 1 });
    expect(server.connections()).toBe(2);
  });

  describe.each(FRAMINGS)('$framing', ({ framing, messages }) => {
    it.each(ECHO_KINDS)(
      'socat client -> switchboard echo server (%s): bytes identical, frames decode',
      async (kind) => {
        const server = await startEchoServer(framing, kind);
        servers.push(server);
        const wire = encodeAll(framing, messages);
        const run = await socatClient(server.port, wire);
        expect(run.code, run.stderr).toBe(0);
        expect(Buffer.from(run.stdoutBytes).toString('hex')).toBe(
          Buffer.from(wire).toString('hex'),
        );
        expect(toHexList(decodeAll(framing, run.stdoutBytes))).toEqual(hexArgs(messages));
        expect(server.errors).toEqual([]);
        expect(server.errorCodes()).toEqual({});
      },
    );

    it('switchboard client -> socat echo server', async () => {
      const peer = await startSocatEcho();
      const replies = await exchange(peer.port, framing, messages);
      expect(toHexList(replies)).toEqual(hexArgs(messages));
    });
  });

  it('eof framing: switchboard client -> socat echo server (half-close passes through)', async () => {
    const peer = await startSocatEcho();
    const request = BINARY_MESSAGES.at(-1)!;
    const replies = await exchange(peer.port, 'eof', [request]);
    expect(toHexList(replies)).toEqual(hexArgs([request]));
  });
});
