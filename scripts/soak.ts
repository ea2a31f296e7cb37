/**
 * `npm run soak -- --minutes N`: many connections, random faults, random framings.
 *
 * Theory of operation
 * -------------------
 * One switchboard echo server (listen() + a Channel per connection) runs per framing.
 * Workers run sessions until time is up. A session picks (from a seeded PRNG) a framing
 * and a fault plan, starts its own FaultProxy in front of that framing's server, opens a
 * client Channel through it and sends numbered messages (`<session>:<seq>:<padding>`),
 * at most WINDOW unanswered at a time. Some faults are there from the start (slicing,
 * latency + jitter, bandwidth, resetAfter, closeAfter); blackhole and halfOpen are added
 * while traffic flows, after a random number of messages.
 *
 * Invariants checked (any violation makes the run exit 1):
 * 1. Nothing acknowledged is lost: every echo the client received is the next sequence
 *    number it expected (exactly once, in order), and the server saw that message.
 * 2. The server saw each session's messages exactly once and in order (0, 1, 2, ...).
 * 3. Every failure is a SwitchboardError with a stable code, raised within the receive
 *    deadline; no session outlives SESSION_DEADLINE_MS (no hangs).
 *
 * Prints one summary line: connections, messages, faults injected, lost, and errors by code.
 */

import { SwitchboardError } from '../src/errors.js';
import { Channel, listen, openChannel } from '../src/index.js';
import { type Fault, FaultProxy } from '../src/testing/index.js';
import { seededRandom } from '../src/testing/seeded-random.js';

const FRAMINGS = ['line', 'length:u32be', 'varint', 'digits:6', 'netstring'] as const;
const WINDOW = 8;
const RECEIVE_TIMEOUT_MS = 1_500;
const SESSION_DEADLINE_MS = 30_000;

interface Flags {
  minutes: number;
  seed: number;
  workers: number;
  json: boolean;
}

function parseFlags(argv: string[]): Flags {
  const flags: Flags = { minutes: 1, seed: 1, workers: 16, json: false };
  for (let index = 0; index < argv.length; index += 1) {
    const arg = argv[index];
    const value = Number(argv[index + 1]);
    if (arg === '--json') {
      flags.json = true;
      continue;
    }
    if (!Number.isFinite(value) || value <= 0) {
      process.stderr.write(
        'usage: npm run soak -- [--minutes N] [--seed N] [--workers N] [--json]\n',
      );
      process.exit(2);
    }
    if (arg === '--minutes') {
      flags.minutes = value;
    } else if (arg === '--seed') {
      flags.seed = Math.floor(value);
    } else if (arg === '--workers') {
      flags.workers = Math.floor(value);
    } else {
      process.stderr.write(`soak: unknown flag ${arg}\n`);
      process.exit(2);
    }
    index += 1;
  }
  return flags;
}

interface Totals {
  sessions: number;
  messagesSent: number;
  messagesAcked: number;
  faultsInjected: number;
  lost: number;
  duplicatedOrReordered: number;
  unclearErrors: number;
  hangs: number;
  errorsByCode: Record<string, number>;
  faultsByType: Record<string, number>;
}

/** What the servers saw: session id -> sequence numbers in arrival order. */
const serverSeen = new Map<number, number[]>();

async function startEchoServer(
  framing: string,
): Promise<{ address: string; close(): Promise<void> }> {
  const listener = await listen('127.0.0.1:0', { trackLeaks: false });
  const channels = new Set<Channel>();
  let closing = false;
  void (async () => {
    while (!closing) {
      let socket: Awaited<ReturnType<typeof listener.accept>>;
      try {
        socket = await listener.accept();
      } catch {
        return;
      }
      const channel = new Channel(socket, { framing });
      channels.add(channel);
      void (async () => {
        try {
          for await (const message of channel) {
            const [sessionText, seqText] = Buffer.from(message).toString('latin1').split(':');
            const list = serverSeen.get(Number(sessionText)) ?? [];
            list.push(Number(seqText));
            serverSeen.set(Number(sessionText), list);
            await channel.send(message);
          }
        } catch {
          // Faults make connections fail; the client side checks the outcome.
        } finally {
          channels.delete(channel);
          channel.destroy();
        }
      })();
    }
  })();
  const address = listener.address;
  return {
    address: address.kind === 'tcp' ? `${address.host}:${address.port}` : '',
    async close() {
      closing = true;
      for (const channel of channels) {
        channel.destroy();
      }
      await listener.close();
    },
  };
}

interface FaultPlan {
  initial: Fault[];
  /** A fault added after `afterMessages` messages were sent. */
  later: { fault: Fault; afterMessages: number } | undefined;
  direction: 'upstream' | 'downstream' | 'both';
}

function pickPlan(random: () => number, messages: number): FaultPlan {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const direction = pick(['upstream', 'downstream', 'both'] as const);
  const kind = pick([
    'none',
    'slice1',
    'slice',
    'latency',
    'bandwidth',
    'resetAfter',
    'closeAfter',
    'blackhole',
    'halfOpen',
    'combo',
  ] as const);
  const afterMessages = Math.floor(random() * messages);
  switch (kind) {
    case 'none':
      return { initial: [], later: undefined, direction };
    case 'slice1':
      return { initial: [{ type: 'slice', maxBytes: 1 }], later: undefined, direction };
    case 'slice':
      return {
        initial: [{ type: 'slice', maxBytes: 1 + Math.floor(random() * 7) }],
        later: undefined,
        direction,
      };
    case 'latency':
      return {
        initial: [
          { type: 'latency', ms: Math.floor(random() * 20), jitterMs: Math.floor(random() * 10) },
        ],
        later: undefined,
        direction,
      };
    case 'bandwidth':
      return {
        initial: [{ type: 'bandwidth', bytesPerSecond: 20_000 + Math.floor(random() * 200_000) }],
        later: undefined,
        direction,
      };
    case 'resetAfter':
      return {
        initial: [{ type: 'resetAfter', bytes: Math.floor(random() * messages * 20) }],
        later: undefined,
        direction,
      };
    case 'closeAfter':
      return {
        initial: [{ type: 'closeAfter', bytes: Math.floor(random() * messages * 20) }],
        later: undefined,
        direction,
      };
    case 'blackhole':
      return { initial: [], later: { fault: { type: 'blackhole' }, afterMessages }, direction };
    case 'halfOpen':
      return { initial: [], later: { fault: { type: 'halfOpen' }, afterMessages }, direction };
    case 'combo':
      return {
        initial: [
          { type: 'slice', maxBytes: 2 },
          { type: 'latency', ms: 5, jitterMs: 5 },
        ],
        later: { fault: { type: 'resetAfter', bytes: Math.floor(random() * 200) }, afterMessages },
        direction,
      };
  }
}

function countError(totals: Totals, error: unknown): void {
  if (error instanceof SwitchboardError) {
    totals.errorsByCode[error.code] = (totals.errorsByCode[error.code] ?? 0) + 1;
  } else {
    totals.unclearErrors += 1;
    totals.errorsByCode.UNCLEAR = (totals.errorsByCode.UNCLEAR ?? 0) + 1;
    process.stderr.write(
      `soak: unclear error: ${error instanceof Error ? error.stack : String(error)}\n`,
    );
  }
}

async function runSession(
  session: number,
  target: string,
  framing: string,
  random: () => number,
  totals: Totals,
): Promise<void> {
  const messages = 20 + Math.floor(random() * 200);
  const plan = pickPlan(random, messages);
  await using proxy = await FaultProxy.start({ target, seed: session });
  for (const fault of plan.initial) {
    proxy.addFault(plan.direction, fault);
    totals.faultsInjected += 1;
    totals.faultsByType[fault.type] = (totals.faultsByType[fault.type] ?? 0) + 1;
  }
  totals.sessions += 1;
  let acked = 0;
  let channel: Channel | undefined;
  const body = async (): Promise<void> => {
    channel = await openChannel(proxy.address, { framing, trackLeaks: false });
    let sent = 0;
    const padding = 'x'.repeat(Math.floor(random() * 40));
    while (acked < messages) {
      while (sent < messages && sent - acked < WINDOW) {
        if (plan.later !== undefined && sent === plan.later.afterMessages) {
          proxy.addFault(plan.direction, plan.later.fault);
          totals.faultsInjected += 1;
          totals.faultsByType[plan.later.fault.type] =
            (totals.faultsByType[plan.later.fault.type] ?? 0) + 1;
        }
        await channel.send(`${session}:${sent}:${padding}`);
        sent += 1;
        totals.messagesSent += 1;
      }
      const echo = await channel.receive({ timeout: RECEIVE_TIMEOUT_MS });
      if (echo === null) {
        // A graceful close (closeAfter) before everything was echoed: a clean end.
        totals.errorsByCode.EOF = (totals.errorsByCode.EOF ?? 0) + 1;
        return;
      }
      const [sessionText, seqText] = Buffer.from(echo).toString('latin1').split(':');
      if (Number(sessionText) !== session || Number(seqText) !== acked) {
        totals.duplicatedOrReordered += 1;
        process.stderr.write(
          `soak: session ${session} expected echo ${acked}, got ${sessionText}:${seqText}\n`,
        );
        return;
      }
      acked += 1;
      totals.messagesAcked += 1;
    }
  };
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<'hang'>((resolve) => {
    timer = setTimeout(() => resolve('hang'), SESSION_DEADLINE_MS);
  });
  try {
    const outcome = await Promise.race([body().then(() => 'done' as const), deadline]);
    if (outcome === 'hang') {
      totals.hangs += 1;
      process.stderr.write(`soak: session ${session} (${framing}) hung\n`);
    }
  } catch (error) {
    countError(totals, error);
  } finally {
    clearTimeout(timer);
    (channel as Channel | undefined)?.destroy();
  }
  // Invariants 1 and 2, from the server's side.
  const seen = serverSeen.get(session) ?? [];
  serverSeen.delete(session);
  for (let index = 0; index < seen.length; index += 1) {
    if (seen[index] !== index) {
      totals.duplicatedOrReordered += 1;
      process.stderr.write(
        `soak: session ${session}: server saw ${seen[index]} at position ${index}\n`,
      );
      break;
    }
  }
  if (seen.length < acked) {
    totals.lost += acked - seen.length;
    process.stderr.write(
      `soak: session ${session}: ${acked} acknowledged, server saw ${seen.length}\n`,
    );
  }
}

async function main(): Promise<void> {
  const flags = parseFlags(process.argv.slice(2));
  const random = seededRandom(flags.seed);
  const servers = new Map<string, Awaited<ReturnType<typeof startEchoServer>>>();
  for (const framing of FRAMINGS) {
    servers.set(framing, await startEchoServer(framing));
  }
  const totals: Totals = {
    sessions: 0,
    messagesSent: 0,
    messagesAcked: 0,
    faultsInjected: 0,
    lost: 0,
    duplicatedOrReordered: 0,
    unclearErrors: 0,
    hangs: 0,
    errorsByCode: {},
    faultsByType: {},
  };
  const started = performance.now();
  const endAt = started + flags.minutes * 60_000;
  let nextSession = 1;
  const progress = setInterval(() => {
    process.stderr.write(
      `soak: ${((performance.now() - started) / 1000).toFixed(0)} s, ${totals.sessions} connections, ${totals.messagesAcked} messages acknowledged\n`,
    );
  }, 10_000);
  await Promise.all(
    Array.from({ length: flags.workers }, async () => {
      while (performance.now() < endAt) {
        const session = nextSession;
        nextSession += 1;
        const framing = FRAMINGS[Math.floor(random() * FRAMINGS.length)]!;
        await runSession(session, servers.get(framing)!.address, framing, random, totals);
      }
    }),
  );
  clearInterval(progress);
  for (const server of servers.values()) {
    await server.close();
  }
  const seconds = (performance.now() - started) / 1000;
  const failed = totals.lost + totals.duplicatedOrReordered + totals.unclearErrors + totals.hangs;
  const codes = Object.entries(totals.errorsByCode)
    .map(([code, count]) => `${code}=${count}`)
    .join(' ');
  process.stdout.write(
    `soak: ${seconds.toFixed(0)} s, seed ${flags.seed}, connections ${totals.sessions}, messages ${totals.messagesAcked} acknowledged of ${totals.messagesSent} sent, faults injected ${totals.faultsInjected}, lost = ${totals.lost}, duplicated/reordered = ${totals.duplicatedOrReordered}, unclear errors = ${totals.unclearErrors}, hangs = ${totals.hangs}; errors: ${codes || 'none'}\n`,
  );
  if (flags.json) {
    process.stdout.write(`${JSON.stringify({ seconds, seed: flags.seed, ...totals })}\n`);
  }
  process.exitCode = failed > 0 ? 1 : 0;
}

await main();
