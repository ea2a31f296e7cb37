/**
 * HOWTO "IPC": two processes on one machine talking over a Unix-domain socket.
 *
 * Run: npx tsx examples/03-ipc-unix.ts
 *
 * The HOWTO suggests pipes or shared memory for fast local IPC, and `localhost` if you
 * use INET sockets. A Unix-domain socket is the local-only socket: same API as TCP
 * (`listen('unix:/path')`, `connect('unix:/path')`), no network stack, no port, and file
 * permissions decide who may connect. On Linux, `unix:@name` is an abstract socket that
 * leaves no file behind. This program is both ends: it listens, then starts a copy of
 * itself as a child process that connects and asks for work.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect, listen, type Socket } from 'switchboard';

const DEADLINE = { timeout: 5_000 };
const text = new TextDecoder();

async function readLine(socket: Socket): Promise<string | null> {
  const line = await socket.recvUntil('\n', DEADLINE);
  return line === null ? null : text.decode(line);
}

if (process.argv[2] === 'child') {
  // The child process: connect to the parent's socket, square some numbers, report.
  const parent = await connect(process.argv[3] ?? '', DEADLINE);
  await parent.sendAll('ready\n', DEADLINE);
  for (
    let job = await readLine(parent);
    job !== null && job !== 'done';
    job = await readLine(parent)
  ) {
    const n = Number(job);
    await parent.sendAll(`${n}*${n}=${n * n}\n`, DEADLINE);
  }
  await parent.close();
} else {
  const directory = mkdtempSync(join(tmpdir(), 'switchboard-ipc-'));
  const address = `unix:${join(directory, 'ipc.sock')}`;
  try {
    const listener = await listen(address);
    console.log(`parent: listening on a Unix socket file: ${listener.address.kind === 'unix'}`);
    const child = spawn(
      process.execPath,
      [...process.execArgv, fileURLToPath(import.meta.url), 'child', address],
      {
        stdio: 'inherit',
      },
    );
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    const conn = await listener.accept(DEADLINE);
    console.log(`parent: child process connected and says ${JSON.stringify(await readLine(conn))}`);
    for (const n of [3, 4, 5]) {
      await conn.sendAll(`${n}\n`, DEADLINE);
      console.log(`parent: child computed ${await readLine(conn)}`);
    }
    await conn.sendAll('done\n', DEADLINE);
    await conn.close();
    console.log(`parent: child exited with code ${await exited}`);
    await listener.close();

    if (process.platform === 'linux') {
      // An abstract socket: a name in the kernel, no file on disk.
      const name = `unix:@switchboard-example-${process.pid}`;
      const abstract = await listen(name);
      const client = await connect(name, DEADLINE);
      const server = await abstract.accept(DEADLINE);
      await client.sendAll('ping\n', DEADLINE);
      console.log(`abstract socket: server got ${JSON.stringify(await readLine(server))}`);
      await Promise.all([client.close(), server.close()]);
      await abstract.close();
    } else {
      console.log('abstract socket: skipped (Linux only)');
    }
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}
