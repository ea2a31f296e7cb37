/**
 * Socket scenario: `Socket.recvUntil` fed one byte per event-loop turn, in process.
 *
 * A line of N bytes arrives as N one-byte 'data' events, each on its own turn (the
 * feeder waits for `setImmediate` between chunks), so `recvUntil` searches again
 * after every byte: the worst case for a delimiter search. The row compares a line
 * 8x longer: linear buffering costs <= 10x the time; a search that rescans what it
 * already searched, or walks the chunk list from its head on every arrival, costs
 * ~64x (issue #16 measured 8k -> 64k chunks at 40x before the Socket moved onto
 * ByteQueue). The transport is a minimal in-process EventEmitter (no kernel), so
 * the figure is the Socket's own cost plus one event-loop turn per byte.
 *
 * Each run's output is checked (the line's length) before it is timed; the score is
 * the median CPU time per run (process.cpuUsage), which other processes on a shared
 * machine do not inflate.
 */
import { EventEmitter } from 'node:events';
import type { SocketTransport } from '../src/index.js';
import { loadLibrary } from './library.js';
import type { BenchContext, BenchRow, Measurement, Scenario } from './types.js';

const { Socket } = await loadLibrary();

const KiB = 1024;

/** Just enough of a transport for the read side: 'data' events from {@link feedBytewise}. */
class InProcessTransport extends EventEmitter implements SocketTransport {
  readonly writableLength = 0;
  readonly writableHighWaterMark = 16 * KiB;
  destroyed = false;
  write(): boolean {
    return true;
  }
  end(): void {}
  destroy(): void {
    if (!this.destroyed) {
      this.destroyed = true;
      this.emit('close');
    }
  }
  pause(): void {}
  resume(): void {}
}

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Delivers `size` one-byte chunks and a `\n`, one per event-loop turn. */
async function feedBytewise(transport: InProcessTransport, size: number): Promise<void> {
  for (let index = 0; index < size; index++) {
    // A fresh array per chunk, as a socket hands out a new Buffer per read.
    transport.emit('data', Uint8Array.of(0x61));
    await nextTurn();
  }
  transport.emit('data', Uint8Array.of(0x0a));
}

/** One run: a `size`-byte line read with recvUntil; returns the line's length. */
async function recvUntilRun(size: number): Promise<number> {
  const transport = new InProcessTransport();
  const socket = Socket.from(transport, { trackLeaks: false });
  const [line] = await Promise.all([
    socket.recvUntil('\n', { max: size }),
    feedBytewise(transport, size),
  ]);
  socket.destroy();
  return line?.length ?? -1;
}

/** Median CPU seconds per run of `recvUntilRun(size)` over about `budgetMs`. */
async function timeRuns(size: number, budgetMs: number): Promise<number> {
  const length = await recvUntilRun(size);
  if (length !== size) {
    throw new Error(`recvUntil returned ${length} bytes, expected ${size}`);
  }
  await recvUntilRun(size); // warm-up (JIT)
  const samples: number[] = [];
  const deadline = performance.now() + budgetMs;
  // Bounded: at least 3 runs, at most 200.
  for (let run = 0; run < 200 && (run < 3 || performance.now() < deadline); run++) {
    const started = process.cpuUsage();
    await recvUntilRun(size);
    const used = process.cpuUsage(started);
    samples.push((used.user + used.system) / 1e6);
  }
  samples.sort((left, right) => left - right);
  return samples[Math.floor(samples.length / 2)]!;
}

async function recvUntilLinearityRow(context: BenchContext, small: number): Promise<BenchRow> {
  const measurements: Measurement[] = [];
  const names: string[] = [];
  for (const size of [small, 8 * small]) {
    const name = `switchboard Socket.recvUntil, ${size / KiB} KiB line`;
    names.push(name);
    const seconds = await timeRuns(size, context.quick ? context.budgetMs / 2 : context.budgetMs);
    measurements.push({
      subject: name,
      value: Number((seconds * 1e3).toFixed(2)),
      unit: 'ms/line',
      extra: { 'ns/byte': Number(((seconds / size) * 1e9).toFixed(1)) },
    });
  }
  const row: BenchRow = {
    name: '`recvUntil` in 1-byte chunks, one per event-loop turn: 8x the line length',
    reference: names[0]!,
    lowerIsBetter: true,
    measurements,
    target: { subject: names[1]!, against: names[0]!, atMost: 10 },
    note: 'Linear search: 8x the bytes may cost at most 10x the time (quadratic would be ~64x).',
  };
  context.log(
    `socket: ${row.name}: ${measurements.map((m) => `${m.subject} ${m.value} ${m.unit}`).join(', ')}`,
  );
  return row;
}

/** The Socket read-side scenario (see the file header). */
export const scenario: Scenario = {
  name: 'socket',
  async run(context: BenchContext): Promise<BenchRow[]> {
    return [await recvUntilLinearityRow(context, 8 * KiB)];
  },
};
