/**
 * Interop with Python's `socket` + `struct`, written the HOWTO's way
 * (test/interop/peers/socket_peer.py: MySocket, mysend/myreceive loops, one thread per
 * client). Both directions: a switchboard Channel talking to a Python server, and a
 * Python client talking to a switchboard listener. Framings: `digits:5` (the HOWTO's
 * "5 numeric characters") and `length:u32be` (`struct.pack('!I', n)`), plus the
 * HOWTO's shutdown-delimited exchange.
 *
 * Skip/require rule: without python3 the tests are skipped with a printed reason,
 * unless SWITCHBOARD_REQUIRE_INTEROP=1 (CI), which makes absence a failure.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { Channel, openChannel } from '../../src/net/channel.js';
import { connect } from '../../src/net/connect.js';
import { type Listener, listen } from '../../src/net/listener.js';
import { requireTool } from '../helpers/interop.js';

const PEER = fileURLToPath(new URL('./peers/socket_peer.py', import.meta.url));
const hasPython = requireTool('python3', ['python3', '-c', 'import socket, struct, threading']);

const children: ChildProcessWithoutNullStreams[] = [];
const closers: Array<() => Promise<void> | void> = [];

afterEach(async () => {
  for (const close of closers.splice(0).reverse()) {
    await close();
  }
  for (const child of children.splice(0)) {
    child.kill('SIGKILL');
  }
});

function python(args: string[]): ChildProcessWithoutNullStreams {
  const child = spawn('python3', [PEER, ...args], { stdio: 'pipe' });
  children.push(child);
  return child;
}

/** Starts a Python server and resolves with its port (from its "listening PORT" line). */
function pythonServer(framing: string): Promise<number> {
  const child = python(['server', '--framing', framing]);
  return new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(
      () => reject(new Error(`python server did not start: ${output}`)),
      10_000,
    );
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const match = /listening (\d+)/.exec(output);
      if (match !== null) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`python server exited with ${code}`));
    });
  });
}

/** Runs the Python client to completion; resolves with the replies it printed. */
function pythonClient(
  port: number,
  framing: string,
  messages: string[],
  hex = false,
): Promise<Array<{ hex: string; text: string }>> {
  const child = python([
    'client',
    '--port',
    String(port),
    '--framing',
    framing,
    ...(hex ? ['--hex'] : []),
    ...messages,
  ]);
  return new Promise((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on('exit', (code) => {
      if (code !== 0) {
        reject(new Error(`python client exited with ${code}: ${stderr}`));
        return;
      }
      resolve(
        stdout
          .split('\n')
          .filter((line) => line.trim() !== '')
          .map((line) => JSON.parse(line) as { hex: string; text: string }),
      );
    });
  });
}

/** A switchboard echo server over `framing`; resolves with its listener. */
async function switchboardEchoServer(framing: string): Promise<Listener> {
  const listener = await listen('127.0.0.1:0', { trackLeaks: false });
  closers.push(() => listener.close());
  void (async () => {
    for await (const socket of listener) {
      const channel = new Channel(socket, { framing, maxFrame: 2 * 1024 * 1024 });
      closers.push(() => channel.destroy());
      void (async () => {
        try {
          for await (const message of channel) {
            await channel.send(message);
          }
          await channel.close();
        } catch {
          channel.destroy();
        }
      })();
    }
  })();
  return listener;
}

const text = (bytes: Uint8Array | null): string | null =>
  bytes === null ? null : Buffer.from(bytes).toString('utf8');

describe.skipIf(!hasPython)('switchboard Channel -> Python socket server', () => {
  it('digits:5 (the HOWTO 5-numeric-characters prefix), incl. empty and 99999-byte messages', async () => {
    const port = await pythonServer('digits:5');
    const channel = await openChannel(`127.0.0.1:${port}`, {
      framing: 'digits:5',
      trackLeaks: false,
    });
    closers.push(() => channel.destroy());
    const big = 'x'.repeat(99_999);
    for (const message of ['hello', '', 'ünïcode ✓', big]) {
      await channel.send(message);
    }
    expect(text(await channel.receive({ timeout: 10_000 }))).toBe('hello');
    expect(text(await channel.receive({ timeout: 10_000 }))).toBe('');
    expect(text(await channel.receive({ timeout: 10_000 }))).toBe('ünïcode ✓');
    expect(text(await channel.receive({ timeout: 10_000 }))).toBe(big);
    await channel.shutdown();
    expect(await channel.receive({ timeout: 10_000 })).toBeNull();
  });

  it("length:u32be (struct '!I'), binary payloads up to 1 MiB", async () => {
    const port = await pythonServer('length:u32be');
    const channel = await openChannel(`127.0.0.1:${port}`, {
      framing: 'length:u32be',
      trackLeaks: false,
    });
    closers.push(() => channel.destroy());
    const binary = Uint8Array.from({ length: 256 }, (_, index) => index);
    const large = new Uint8Array(1024 * 1024).fill(0xa5);
    await channel.send(binary);
    await channel.send(large);
    expect(
      Buffer.from((await channel.receive({ timeout: 10_000 }))!).equals(Buffer.from(binary)),
    ).toBe(true);
    const echoed = await channel.receive({ timeout: 10_000 });
    expect(echoed?.length).toBe(large.length);
    expect(echoed?.every((byte) => byte === 0xa5)).toBe(true);
  });

  it("the HOWTO's HTTP-like exchange: send, shutdown(SHUT_WR), read the reply to EOF", async () => {
    const port = await pythonServer('eof');
    const socket = await connect(`127.0.0.1:${port}`, { trackLeaks: false });
    closers.push(() => socket.destroy());
    await socket.sendAll('the whole request');
    await socket.shutdown('write');
    const reply: Uint8Array[] = [];
    for (
      let chunk = await socket.recv();
      chunk.length > 0;
      chunk = await socket.recv(65536, { timeout: 10_000 })
    ) {
      reply.push(chunk);
    }
    expect(Buffer.concat(reply).toString()).toBe('the whole request');
  });
});

describe.skipIf(!hasPython)('Python socket client -> switchboard listener', () => {
  it('digits:5', async () => {
    const listener = await switchboardEchoServer('digits:5');
    const replies = await pythonClient(
      listener.address.kind === 'tcp' ? listener.address.port : 0,
      'digits:5',
      ['one', 'two', '', 'three and more'],
    );
    expect(replies.map((reply) => reply.text)).toEqual(['one', 'two', '', 'three and more']);
  });

  it('length:u32be with binary (hex) payloads', async () => {
    const listener = await switchboardEchoServer('length:u32be');
    const port = listener.address.kind === 'tcp' ? listener.address.port : 0;
    const payloads = ['00', 'ff00ff', '0a0d00', 'ab'.repeat(30_000)];
    const replies = await pythonClient(port, 'length:u32be', payloads, true);
    expect(replies.map((reply) => reply.hex)).toEqual(payloads);
  });

  it("the HOWTO's shutdown-delimited exchange against a switchboard socket", async () => {
    const listener = await listen('127.0.0.1:0', { trackLeaks: false });
    closers.push(() => listener.close());
    const serving = (async () => {
      const socket = await listener.accept({ timeout: 10_000 });
      const chunks: Uint8Array[] = [];
      for (let chunk = await socket.recv(); chunk.length > 0; chunk = await socket.recv()) {
        chunks.push(chunk);
      }
      await socket.sendAll(`got ${Buffer.concat(chunks).length} bytes`);
      await socket.close();
    })();
    const port = listener.address.kind === 'tcp' ? listener.address.port : 0;
    const replies = await pythonClient(port, 'eof', ['abc', 'defg']);
    await serving;
    expect(replies.map((reply) => reply.text)).toEqual(['got 7 bytes']);
  });
});
