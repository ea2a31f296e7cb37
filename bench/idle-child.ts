/**
 * Client child of bench/idle-connections.ts (the measured server is bench/idle-server.mjs).
 *
 *   client PORT COUNT MODE      open COUNT connections; MODE `never-used`: they stay idle
 *                               from the start; `used`: each sends one 64 B u32be frame
 *                               and waits for its echo, then stays idle. Print CONNECTED
 *                               <n> <failed> when all are done, stay idle
 */
import net from 'node:net';
import { exitWithParent } from './proc.js';

/** One 64 B u32be frame: what a used connection sends (and gets back) once. */
const MESSAGE = (() => {
  const frame = Buffer.alloc(4 + 64, 0x61);
  frame.writeUInt32BE(64, 0);
  return frame;
})();

/** Sends MESSAGE on `socket` and resolves when as many bytes came back (the echo). */
function exchangeOne(socket: net.Socket): Promise<void> {
  return new Promise((resolve, reject) => {
    let received = 0;
    const onData = (chunk: Buffer): void => {
      received += chunk.length;
      if (received >= MESSAGE.length) {
        socket.off('data', onData);
        resolve();
      }
    };
    socket.on('data', onData);
    socket.once('close', () => reject(new Error('closed before the echo')));
    socket.write(MESSAGE);
  });
}

async function runClient(port: number, count: number, mode: string): Promise<void> {
  if (mode !== 'never-used' && mode !== 'used') {
    throw new Error(`unknown client mode ${mode}`);
  }
  const sockets: net.Socket[] = [];
  const batch = 250;
  let failed = 0;
  for (let opened = 0; opened < count; opened += batch) {
    const wave: Promise<void>[] = [];
    for (let index = opened; index < Math.min(count, opened + batch); index += 1) {
      wave.push(
        new Promise<void>((resolve) => {
          const socket = net.connect({ host: '127.0.0.1', port });
          let settled = false;
          const settle = (ok: boolean): void => {
            if (settled) {
              return;
            }
            settled = true;
            if (ok) {
              sockets.push(socket);
            } else {
              failed += 1;
            }
            resolve();
          };
          socket.once('connect', () => {
            if (mode === 'never-used') {
              settle(true);
            } else {
              exchangeOne(socket).then(
                () => settle(true),
                () => settle(false),
              );
            }
          });
          // Kept for the socket's life: an idle socket's late error must not crash the client.
          socket.on('error', () => settle(false));
        }),
      );
    }
    await Promise.all(wave);
  }
  process.stdout.write(`CONNECTED ${sockets.length} ${failed}\n`);
  // Stay idle until the parent kills us.
  setInterval(() => {}, 60_000);
}

exitWithParent();

const [role, ...rest] = process.argv.slice(2);
try {
  if (role === 'client') {
    await runClient(Number(rest[0]), Number(rest[1]), rest[2] ?? 'never-used');
  } else {
    throw new Error('usage: idle-child.ts client PORT COUNT MODE');
  }
} catch (error) {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
}
