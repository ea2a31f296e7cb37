/**
 * One-way throughput over TCP loopback: 64 B, 1 KiB and 1 MiB frames.
 *
 * Each measurement runs a receiver process and a sender process (bench/throughput-child.ts).
 * Two kinds of rows:
 * - "receive path": the sender is the same raw blaster for every subject, writing
 *   pre-encoded frames as fast as TCP takes them, so the figure is the subject's
 *   read-and-decode path (its encoder is not involved).
 * - "end to end": each subject sends with its own encoder and receives with its own
 *   decoder, as an application would use it.
 * The u32be subjects (raw, switchboard, frame-stream) get u32be frames; it-length-prefixed
 * and length-prefixed-stream only speak varint prefixes and get those (1-2 bytes shorter).
 * The switchboard Channel is read two ways on the receive path: `for await` over the
 * channel (one await per frame) and `channel.batches()` (one await per batch).
 * Beside the raw reference runs its `for await` ceiling: the same hand decoder read
 * through a minimal hand-written async iterator, the fastest any `for await` receiver
 * can be on this machine (the language awaits once per iteration).
 * Every row also shows the receiver's CPU time per frame and its share of the window
 * (100%: the receiver was the bottleneck), which other load disturbs less than rates.
 */
import { type Child, withChildren } from './proc.js';
import type { BenchContext, BenchRow, BenchTarget, Measurement, Scenario } from './types.js';

const RAW = 'raw node:net + hand decoder';
/** The Channel read with `for await (const frame of channel)`; sent with `await channel.send()`. */
const FOR_AWAIT = 'switchboard Channel, for await';
/** The Channel read with `for await (const frames of channel.batches())`. */
const BATCHES = 'switchboard Channel.batches()';
/**
 * The ceiling of any `for await` receiver: the hand decoder behind a hand-written
 * async iterator (bench/raw-length-prefix.ts RawFrameIterator). The language awaits
 * once per iteration, so this is as fast as `for await` over frames gets.
 */
const RAW_FOR_AWAIT = 'raw node:net + hand decoder, for await (hand-written iterator)';
const BULK = 'raw bulk TCP (no framing)';
const LPS = 'length-prefixed-stream';
const PEERS = ['it-length-prefixed', LPS, 'frame-stream'] as const;

interface Subject {
  label: string;
  receiver: string;
  /** Sender mode for receive-path rows. */
  blaster: string;
  /** Sender mode for end-to-end rows. */
  encoder: string;
}

const SUBJECTS: Subject[] = [
  { label: RAW, receiver: 'raw', blaster: 'blast-u32', encoder: 'raw' },
  { label: FOR_AWAIT, receiver: 'switchboard', blaster: 'blast-u32', encoder: 'switchboard' },
  {
    label: 'it-length-prefixed',
    receiver: 'it-length-prefixed',
    blaster: 'blast-varint',
    encoder: 'it-length-prefixed',
  },
  {
    label: LPS,
    receiver: 'length-prefixed-stream',
    blaster: 'blast-varint',
    encoder: 'length-prefixed-stream',
  },
  {
    label: 'frame-stream',
    receiver: 'frame-stream',
    blaster: 'blast-u32',
    encoder: 'frame-stream',
  },
];

const RAW_FOR_AWAIT_SUBJECT: Subject = {
  label: RAW_FOR_AWAIT,
  receiver: 'raw-for-await',
  blaster: 'blast-u32',
  encoder: 'raw',
};

/** Receive-path subjects: the raw references, then `batches()` next to `for await`. */
const RECEIVE_SUBJECTS: Subject[] = [
  SUBJECTS[0]!,
  RAW_FOR_AWAIT_SUBJECT,
  { label: BATCHES, receiver: 'switchboard-batches', blaster: 'blast-u32', encoder: 'switchboard' },
  ...SUBJECTS.slice(1),
];

/** End-to-end subjects of the small-frame rows: the raw references, then the rest. */
const END_TO_END_SUBJECTS: Subject[] = [SUBJECTS[0]!, RAW_FOR_AWAIT_SUBJECT, ...SUBJECTS.slice(1)];

interface StreamResult {
  frames: number;
  bytes: number;
  ms: number;
  /** The receiver's CPU time (user + system) over the same window. */
  cpuMs: number;
}

/** Runs one receiver/sender pair and returns what the receiver counted. */
async function measureStream(
  context: BenchContext,
  receiver: string,
  sender: string,
  size: number,
): Promise<StreamResult> {
  const warmupMs = Math.min(300, Math.round(context.budgetMs / 2));
  return withChildren(async (start) => {
    const recv: Child = start('throughput-child.ts', [
      'recv',
      receiver,
      String(size),
      String(warmupMs),
      String(context.budgetMs),
    ]);
    const port = await recv.line('READY', 20_000);
    start('throughput-child.ts', ['send', sender, String(size), port]);
    const result = JSON.parse(await recv.line('RESULT', 20_000 + warmupMs + context.budgetMs * 3));
    return result as StreamResult;
  });
}

function toMeasurement(
  subject: string,
  result: StreamResult,
  headline: 'msgs/s' | 'MB/s',
): Measurement {
  const seconds = result.ms / 1000;
  const msgsPerSecond = result.frames / seconds;
  const megabytesPerSecond = result.bytes / seconds / 1e6;
  // Receiver CPU per frame (ns) and its share of the window (%): 100% means the
  // receiver was the bottleneck.
  const cpu = {
    'recv CPU ns/msg': (result.cpuMs * 1e6) / Math.max(1, result.frames),
    'recv CPU %': (result.cpuMs / result.ms) * 100,
  };
  if (headline === 'msgs/s') {
    return {
      subject,
      value: msgsPerSecond,
      unit: 'msgs/s',
      extra: { 'MB/s': megabytesPerSecond, ...cpu },
    };
  }
  return {
    subject,
    value: megabytesPerSecond,
    unit: 'MB/s',
    extra: { 'msgs/s': msgsPerSecond, ...cpu },
  };
}

function message(error: unknown): string {
  return error instanceof Error ? error.message.split('\n')[0]!.slice(0, 200) : String(error);
}

async function measureRow(
  context: BenchContext,
  name: string,
  size: number,
  kind: 'blaster' | 'encoder',
  subjects: Subject[],
  headline: 'msgs/s' | 'MB/s',
  extraNote?: string,
): Promise<BenchRow> {
  const best = new Map<string, StreamResult>();
  const failures = new Map<string, string>();
  // Subjects take turns, `repeats` rounds, best round kept: the machine is shared, and a
  // burst of someone else's work should not decide a ratio.
  // Two rounds even with --quick: on a shared machine one round can land in a burst of
  // other work (a 10x outlier was seen), and best-of-2 filters that out.
  const repeats = context.quick ? 2 : 3;
  for (let round = 0; round < repeats; round += 1) {
    for (const subject of subjects) {
      if (failures.has(subject.label)) {
        continue;
      }
      context.log(`  ${name}: ${subject.label} (round ${round + 1}/${repeats})`);
      try {
        const result = await measureStream(context, subject.receiver, subject[kind], size);
        if (result.frames === 0) {
          throw new Error('no frames arrived in the measurement window');
        }
        const previous = best.get(subject.label);
        if (previous === undefined || result.bytes / result.ms > previous.bytes / previous.ms) {
          best.set(subject.label, result);
        }
      } catch (error) {
        failures.set(subject.label, message(error));
      }
    }
  }
  const measurements: Measurement[] = [];
  const notes: string[] = extraNote === undefined ? [] : [extraNote];
  for (const subject of subjects) {
    const result = best.get(subject.label);
    if (result !== undefined) {
      measurements.push(toMeasurement(subject.label, result, headline));
    } else {
      notes.push(`${subject.label} not measured: ${failures.get(subject.label) ?? 'no result'}`);
    }
  }
  return {
    name,
    reference: subjects[0]!.label,
    measurements,
    ...(notes.length > 0 ? { note: notes.join('; ') } : {}),
  };
}

/*
 * Targets. Issue #15 sets the Channel's targets against raw and against
 * length-prefixed-stream (the fastest npm peer, fed by the same raw blaster); the
 * issue #8 targets against the best npm peer stay on the rows #15 does not restate.
 */
const VS_PEERS = { subject: FOR_AWAIT, against: [...PEERS], atLeast: 2 };

/*
 * Ours, beside the issue's: `for await` within 15% of the hand-written ceiling, the
 * one comparison a `for await` receiver can be held to whatever the machine's await
 * costs against its raw decode.
 */
const VS_CEILING: BenchTarget = { subject: FOR_AWAIT, against: RAW_FOR_AWAIT, atLeast: 0.85 };

const RECEIVE_TARGETS: Record<number, BenchTarget[]> = {
  64: [
    { subject: BATCHES, against: RAW, atLeast: 0.9 },
    { subject: BATCHES, against: LPS, atLeast: 1.3 },
    { subject: FOR_AWAIT, against: RAW, atLeast: 0.75 },
    { subject: FOR_AWAIT, against: LPS, atLeast: 1.1 },
    VS_CEILING,
  ],
  1024: [{ subject: FOR_AWAIT, against: RAW, atLeast: 0.9 }, VS_PEERS, VS_CEILING],
};

const END_TO_END_TARGETS: Record<number, BenchTarget[]> = {
  64: [{ subject: FOR_AWAIT, against: RAW, atLeast: 0.65 }, VS_PEERS, VS_CEILING],
  1024: [{ subject: FOR_AWAIT, against: RAW, atLeast: 0.85 }, VS_PEERS, VS_CEILING],
};

const VARINT_NOTE =
  'it-length-prefixed and length-prefixed-stream read varint-prefixed frames (their only format); the others u32be';

const END_TO_END_NOTE =
  `${FOR_AWAIT}: \`await channel.send(payload)\` in a loop into a Channel read with \`for await\`; ` +
  `${RAW}: a batching writer (one write per 64 KiB of frames) into the hand decoder`;

export const scenario: Scenario = {
  name: 'throughput',
  async run(context) {
    const rows: BenchRow[] = [];
    for (const size of [64, 1024]) {
      const label = size === 64 ? '64 B' : '1 KiB';
      rows.push({
        ...(await measureRow(
          context,
          `${label} frames one-way, receive path (raw blaster sender)`,
          size,
          'blaster',
          RECEIVE_SUBJECTS,
          'msgs/s',
          VARINT_NOTE,
        )),
        targets: RECEIVE_TARGETS[size]!,
      });
    }
    for (const size of [64, 1024]) {
      const label = size === 64 ? '64 B' : '1 KiB';
      rows.push({
        ...(await measureRow(
          context,
          `${label} frames one-way, end to end (each side's own encoder and decoder)`,
          size,
          'encoder',
          END_TO_END_SUBJECTS,
          'msgs/s',
          END_TO_END_NOTE,
        )),
        targets: END_TO_END_TARGETS[size]!,
      });
    }
    const bulkSubjects: Subject[] = [
      { label: BULK, receiver: 'raw-bulk', blaster: 'bulk', encoder: 'bulk' },
      ...SUBJECTS,
    ];
    rows.push({
      ...(await measureRow(
        context,
        '1 MiB frames one-way, receive path, vs raw bulk TCP',
        1024 * 1024,
        'blaster',
        bulkSubjects,
        'MB/s',
      )),
      target: { subject: FOR_AWAIT, against: BULK, atLeast: 0.9 },
    });
    rows.push({
      ...(await measureRow(
        context,
        '1 MiB frames one-way, end to end, vs raw bulk TCP',
        1024 * 1024,
        'encoder',
        bulkSubjects,
        'MB/s',
      )),
      target: { subject: FOR_AWAIT, against: BULK, atLeast: 0.9 },
    });
    return rows;
  },
};
