/**
 * docs/PROTOCOL.md's "A Python peer in a few lines" is code a reader copies into
 * another language's implementation, so it runs here, as written, against a
 * switchboard sbp server: a REQUEST whose handler throws comes back as an ERROR
 * envelope with the request's id (the block read ERROR's id as body bytes), and DATA
 * is echoed. python3 on PATH; skip/require rule of test/helpers/interop.ts.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { createServer, type Server } from '../../src/server/server.js';
import { requireTool } from '../helpers/interop.js';

const hasPython = requireTool('python3', ['python3', '-c', 'import socket, struct']);
const DOC = readFileSync(new URL('../../docs/PROTOCOL.md', import.meta.url), 'utf8');
const servers: Server[] = [];

afterEach(async () => {
  for (const server of servers.splice(0)) {
    await server.close();
  }
});

/** Runs `code` with python3 (a 10 s deadline); resolves to its stdout lines. */
function runPython(code: string): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const child = spawn('python3', ['-c', code], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code === 0) {
        resolve(stdout.trim().split('\n'));
      } else {
        reject(new Error(`python3 exited ${code}: ${stderr}`));
      }
    });
  });
}

describe.skipIf(!hasPython)("PROTOCOL.md's Python peer", () => {
  it('talks to a switchboard sbp server as written: ERROR keeps its id, DATA echoes', async () => {
    const block = /## A Python peer in a few lines\n\n```python\n([\s\S]*?)```/.exec(DOC)?.[1];
    expect(block, 'the python block of docs/PROTOCOL.md').toBeDefined();
    const server = await createServer({
      listen: '127.0.0.1:0',
      framing: 'sbp',
      handler: 'echo',
      onRequest: () => {
        throw new Error('the handler fails');
      },
    });
    servers.push(server);
    const port = Number(new URL(server.address.replace(/^tcp:/, 'http:')).port);
    const lines = await runPython(
      [
        block,
        `s = socket.create_connection(("127.0.0.1", ${port}))`,
        'send_envelope(s, 1, b"q", 5)',
        'print(recv_envelope(s))',
        'send_envelope(s, 0, b"hi")',
        'print(recv_envelope(s))',
        's.close()',
      ].join('\n'),
    );
    expect(lines).toEqual(["(6, 5, b'SB_HANDLER_ERROR')", "(0, None, b'hi')"]);
  });
});
