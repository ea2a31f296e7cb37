/**
 * Interop with Python asyncio streams (StreamReader.readuntil / readexactly), both
 * directions, for every framing the peer speaks: asyncio client -> switchboard echo
 * server, and switchboard client -> asyncio echo server. The peer is
 * test/interop/peers/asyncio_peer.py, run with the python3 on PATH.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { requireTool } from '../helpers/interop.js';
import { BINARY_MESSAGES, fixedMessages, hexArgs, TEXT_MESSAGES } from './peers/cases.js';
import { killPeers, PYTHON, runPeerClient, startPeerServer } from './peers/spawn-peer.js';
import { type EchoServer, exchange, startEchoServer, toHexList } from './peers/switchboard-side.js';

const hasAsyncio = requireTool('python3 asyncio', [PYTHON, '-c', 'import asyncio, struct']);

const CASES: Array<{ framing: string; messages: readonly Uint8Array[] }> = [
  { framing: 'line', messages: TEXT_MESSAGES },
  { framing: 'length:u32be', messages: BINARY_MESSAGES },
  { framing: 'digits:5', messages: BINARY_MESSAGES },
  { framing: 'fixed:8', messages: fixedMessages(8) },
  { framing: 'netstring', messages: BINARY_MESSAGES },
  { framing: 'eof', messages: [BINARY_MESSAGES.at(-1)!] },
];

const servers: EchoServer[] = [];
afterEach(async () => {
  killPeers();
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

describe.skipIf(!hasAsyncio)('interop: Python asyncio streams', () => {
  it.each(['threads', 'processes'] as const)(
    'asyncio client -> switchboard echo server with dispatch %s',
    async (dispatch) => {
      const server = await startEchoServer('length:u32be', 'createServer', dispatch);
      servers.push(server);
      const run = await runPeerClient(PYTHON, [
        'asyncio_peer.py',
        'client',
        '--port',
        String(server.port),
        '--framing',
        'length:u32be',
        '--hex',
        ...hexArgs(BINARY_MESSAGES),
      ]);
      expect(run.code, run.stderr).toBe(0);
      expect(run.replies.map((reply) => reply.hex)).toEqual(hexArgs(BINARY_MESSAGES));
      expect(server.errorCodes()).toEqual({});
    },
  );

  describe.each(CASES)('$framing', ({ framing, messages }) => {
    it('asyncio client -> switchboard echo server (createServer, handler echo)', async () => {
      const server = await startEchoServer(framing);
      servers.push(server);
      const run = await runPeerClient(PYTHON, [
        'asyncio_peer.py',
        'client',
        '--port',
        String(server.port),
        '--framing',
        framing,
        '--hex',
        ...hexArgs(messages),
      ]);
      expect(run.code, run.stderr).toBe(0);
      expect(run.replies.map((reply) => reply.hex)).toEqual(
        framing === 'eof' ? [Buffer.concat(messages).toString('hex')] : hexArgs(messages),
      );
      expect(server.errors).toEqual([]);
      expect(server.errorCodes()).toEqual({});
      expect(server.connections()).toBe(1);
    });

    it('switchboard client -> asyncio echo server', async () => {
      const peer = await startPeerServer(PYTHON, [
        'asyncio_peer.py',
        'server',
        '--framing',
        framing,
      ]);
      const replies = await exchange(peer.port, framing, messages);
      expect(toHexList(replies)).toEqual(hexArgs(messages));
      expect(peer.stderr()).toBe('');
    });
  });
});
