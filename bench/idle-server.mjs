/**
 * The measured server of bench/idle-connections.ts (the clients are bench/idle-child.ts).
 *
 *   node --expose-gc bench/idle-server.mjs SUBJECT
 *
 * Starts the subject, samples memory (the baseline), prints READY <port>; on SIGUSR1 from
 * the parent (every client connection is open and, when used, has had its echo) waits a
 * second, samples again and prints RESULT with bytes per connection.
 *
 * Subjects: `raw` (a node:net server that tracks its sockets and echoes), `server`
 * (createServer, loop dispatch, the echo handler), `channel` (listen() + one Channel per
 * connection awaiting its next message). switchboard is loaded as built (dist/).
 *
 * Why plain JavaScript, run by plain node: every .ts child runs under tsx, whose loader
 * hooks run on a thread of their own with a V8 heap of their own. That heap is in the
 * process's RSS but not in `process.memoryUsage().heapUsed`, and it gives memory back on
 * its own schedule. Under tsx the raw server measured 1,158–1,269 RSS bytes per
 * connection where the same code under plain node measured 2,402–2,481 (10,000 used
 * connections, three and four runs): the loader thread had handed back about 12 MB
 * during the measurement, more or less of it by chance, for each subject.
 */
import { existsSync } from 'node:fs';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import v8 from 'node:v8';

/** Settling (see `sample`): one full GC per step, at most SETTLE_MAX_MS in all. */
const SETTLE_STEP_MS = 250;
const SETTLE_MAX_MS = 30_000;
/** Settled: this many steps in a row with no new low of RSS, young generation back. */
const SETTLE_QUIET_STEPS = 8;
/** A drop of RSS smaller than this is not a new low (page-sized jitter). */
const SETTLE_RSS_SLACK = 256 * 1024;
/** The framing of the u32be subjects (bench/switchboard-adapter.ts uses the same). */
const FRAMING = { framing: 'length:u32be', maxFrame: 64 * 1024 * 1024 };

/** Bytes V8 has reserved for the young generation (new space), live or not. */
function youngGenerationSize() {
  const space = v8.getHeapSpaceStatistics().find((entry) => entry.space_name === 'new_space');
  return space === undefined ? 0 : space.space_size;
}

/** The young generation's size when this process started (V8's initial semi-spaces). */
const YOUNG_AT_START = youngGenerationSize();

/**
 * Memory once the process has settled, the same way for every subject and for both
 * samples: a full collection every SETTLE_STEP_MS until V8 has shrunk the young
 * generation back to its starting size and RSS has stopped falling for
 * SETTLE_QUIET_STEPS steps (or SETTLE_MAX_MS passed). Why: a burst of connections grows
 * the young generation (a nursery of up to 2 x 16 MiB, sized by the recent allocation
 * rate, not by what is alive); V8 shrinks it only once allocation has been low for
 * about 5 s, and the pages collections emptied go back to the system later still
 * (later again on a loaded machine). Read after four collections 50 ms apart, as
 * before, the RSS of 10,000 connections carried up to 3 KiB per connection of memory a
 * full GC had already emptied, more or less of it by timing. An idle server reaches
 * the settled state by itself.
 */
async function sample() {
  const gc = globalThis.gc;
  if (typeof gc !== 'function') {
    throw new Error('run with --expose-gc');
  }
  const started = performance.now();
  let lowest = Number.POSITIVE_INFINITY;
  let quietSteps = 0;
  while (quietSteps < SETTLE_QUIET_STEPS && performance.now() - started < SETTLE_MAX_MS) {
    gc();
    await sleep(SETTLE_STEP_MS);
    const rss = process.memoryUsage.rss();
    if (rss < lowest - SETTLE_RSS_SLACK || youngGenerationSize() > YOUNG_AT_START) {
      quietSteps = 0;
    } else {
      quietSteps += 1;
    }
    lowest = Math.min(lowest, rss);
  }
  const usage = process.memoryUsage();
  return {
    heap: usage.heapUsed,
    rss: usage.rss,
    external: usage.external,
    settleMs: Math.round(performance.now() - started),
    settled: quietSteps >= SETTLE_QUIET_STEPS,
  };
}

/** A minimal but real server: tracks its sockets and listens for data, errors and close. */
async function startRaw() {
  const sockets = new Set();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('data', (chunk) => socket.write(chunk));
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
  });
  server.maxConnections = 100_000;
  await new Promise((resolve) =>
    server.listen({ host: '127.0.0.1', port: 0, backlog: 4096 }, resolve),
  );
  return { port: server.address().port, connections: () => sockets.size };
}

/** switchboard as built; a missing build fails the subject (the parent notes it). */
async function loadLibrary() {
  const index = new URL('../dist/index.js', import.meta.url);
  if (!existsSync(index)) {
    throw new Error('dist/ is missing: run `npm run build` (bench/run.ts builds first)');
  }
  return import(index.href);
}

/** listen() + accept() + one Channel per connection, each echoing what it receives. */
async function startChannel() {
  const { Channel, listen } = await loadLibrary();
  const listener = await listen('127.0.0.1:0', { backlog: 4096, acceptQueueLimit: 4096 });
  let open = 0;
  void (async () => {
    for (;;) {
      const socket = await listener.accept();
      const channel = new Channel(socket, FRAMING);
      open += 1;
      void (async () => {
        try {
          for await (const message of channel) {
            await channel.send(message);
          }
        } catch {
          // A client that goes away is not news here.
        }
        open -= 1;
      })();
    }
  })();
  return { port: listener.address.port, connections: () => open };
}

/** createServer() with the echo handler, loop dispatch. */
async function startServer() {
  const { createServer } = await loadLibrary();
  const server = await createServer({
    listen: '127.0.0.1:0',
    framing: 'length:u32be',
    handler: 'echo',
    dispatch: 'loop',
    backlog: 4096,
    maxConnections: 0,
  });
  return {
    port: Number(/:(\d+)$/.exec(server.address)?.[1]),
    connections: () => server.connections,
  };
}

const STARTERS = { raw: startRaw, channel: startChannel, server: startServer };

async function main(subject) {
  const start = STARTERS[subject];
  if (start === undefined) {
    throw new Error(`unknown subject ${subject}; usage: idle-server.mjs raw|server|channel`);
  }
  // Listening for the signal before READY: the parent may send it as soon as it likes.
  const clientsDone = new Promise((resolve) => process.once('SIGUSR1', () => resolve()));
  // Start (and so load the subject's code) before the baseline, so code is not counted.
  const server = await start();
  const before = await sample();
  process.stdout.write(`READY ${server.port}\n`);
  await clientsDone;
  // A used connection's last echo may still be leaving, and a server may put a
  // connection back to sleep a moment after its queues empty.
  await sleep(1000);
  const after = await sample();
  const count = server.connections();
  const result = {
    connections: count,
    heapPerConnection: (after.heap - before.heap) / count,
    rssPerConnection: (after.rss - before.rss) / count,
    externalPerConnection: (after.external - before.external) / count,
    settleMs: [before.settleMs, after.settleMs],
    settled: before.settled && after.settled,
  };
  process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
  process.exit(0);
}

// Exit when the parent (the bench runner) goes away, as bench/proc.ts exitWithParent does.
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) {
    process.exit(0);
  }
}, 1000).unref();

main(process.argv[2]).catch((error) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
