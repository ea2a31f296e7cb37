/**
 * Interop with Twisted's basic protocols, both directions:
 *
 * | Twisted protocol                 | switchboard framing |
 * | -------------------------------- | ------------------- |
 * | LineReceiver, delimiter b"\n"    | `line`              |
 * | LineReceiver, delimiter b"\r\n"  | `line:crlf`         |
 * | Int32StringReceiver              | `length:u32be`      |
 * | NetstringReceiver                | `netstring`         |
 *
 * The peer is test/interop/peers/twisted_peer.py, run with Debian's /usr/bin/python3
 * (python3-twisted), which may differ from a pyenv python3 on PATH.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { requireTool } from '../helpers/interop.js';
import { BINARY_MESSAGES, hexArgs, TEXT_MESSAGES } from './peers/cases.js';
import { killPeers, runPeerClient, startPeerServer, TWISTED_PYTHON } from './peers/spawn-peer.js';
import { type EchoServer, exchange, startEchoServer, toHexList } from './peers/switchboard-side.js';

const hasTwisted = requireTool('twisted', [
  TWISTED_PYTHON,
  '-c',
  'import twisted.protocols.basic, twisted.internet.reactor',
]);

const CASES: Array<{ framing: string; protocol: string; messages: readonly Uint8Array[] }> = [
  { framing: 'line', protocol: 'LineReceiver (LF)', messages: TEXT_MESSAGES },
  { framing: 'line:crlf', protocol: 'LineReceiver (CRLF)', messages: TEXT_MESSAGES },
  { framing: 'length:u32be', protocol: 'Int32StringReceiver', messages: BINARY_MESSAGES },
  { framing: 'netstring', protocol: 'NetstringReceiver', messages: BINARY_MESSAGES },
];

const servers: EchoServer[] = [];
afterEach(async () => {
  killPeers();
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

describe.skipIf(!hasTwisted)('interop: Twisted', () => {
  describe.each(CASES)('$protocol <-> $framing', ({ framing, messages }) => {
    it('Twisted client -> switchboard echo server (createServer, handler echo)', async () => {
      const server = await startEchoServer(framing);
      servers.push(server);
      const run = await runPeerClient(TWISTED_PYTHON, [
        'twisted_peer.py',
        'client',
        '--port',
        String(server.port),
        '--framing',
        framing,
        '--hex',
        ...hexArgs(messages),
      ]);
      expect(run.code, run.stderr).toBe(0);
      expect(run.replies.map((reply) => reply.hex)).toEqual(hexArgs(messages));
      expect(server.errors).toEqual([]);
      expect(server.errorCodes()).toEqual({});
      expect(server.connections()).toBe(1);
    });

    it('switchboard client -> Twisted echo server', async () => {
      const peer = await startPeerServer(TWISTED_PYTHON, [
        'twisted_peer.py',
        'server',
        '--framing',
        framing,
      ]);
      const replies = await exchange(peer.port, framing, messages);
      expect(toHexList(replies)).toEqual(hexArgs(messages));
    });
  });
});
