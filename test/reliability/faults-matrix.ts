/**
 * The fault matrix as data: its rows (framings), its columns (faults) and what each
 * column expects. faults.test.ts runs every cell; scripts/reliability-doc.ts writes the
 * matrix into RELIABILITY.md from this file and from a run's report, and
 * reliability-doc.test.ts checks the two agree.
 */
import type { ErrorCode } from '../../src/errors.js';
import type { Fault } from '../../src/testing/index.js';

/** The rows. `sbp` (switchboard's envelope) adds the heartbeat as a detector. */
export const MATRIX_FRAMINGS = [
  'line',
  'length:u32be',
  'varint',
  'digits:8',
  'netstring',
  'sbp',
] as const;

/** A framing of the matrix. */
export type MatrixFraming = (typeof MATRIX_FRAMINGS)[number];

/** One row: a framing on a server with a dispatch model. */
export interface MatrixRow {
  framing: MatrixFraming;
  dispatch: 'loop' | 'threads' | 'processes';
}

/** The rows: every framing on the default `loop` dispatch, then `length:u32be` on the others. */
export const MATRIX_ROWS: readonly MatrixRow[] = [
  ...MATRIX_FRAMINGS.map((framing): MatrixRow => ({ framing, dispatch: 'loop' })),
  { framing: 'length:u32be', dispatch: 'threads' },
  { framing: 'length:u32be', dispatch: 'processes' },
];

/** The label of a row: the framing, plus the dispatch model when it is not `loop`. */
export function rowLabel(row: MatrixRow): string {
  return row.dispatch === 'loop' ? row.framing : `${row.framing} (${row.dispatch})`;
}

/** Messages each cell sends. */
export const MESSAGES = 24;
/** Most messages unanswered at a time. */
export const WINDOW = 4;
/** Mid-stream faults (blackhole, half-open) are added after this many echoes. */
export const BEFORE_FAULT = 6;
/** Resets and the graceful close cut a stream in the middle of the frame with this sequence number. */
export const RESET_AT = 9;

/** Only turns a hang into a failure; no cell comes near it. */
export const HANG_GUARD_MS = 10_000;
/** The half-open client's reply deadline once the fault is in place. */
export const REPLY_DEADLINE_MS = 300;
/** The blackhole client's idleTimeout (no inbound bytes for this long fails the channel). */
export const CLIENT_IDLE_TIMEOUT_MS = 500;
/** sbp heartbeat: a ping every `interval` ms, stale after `maxOutstanding` unanswered. */
export const HEARTBEAT = { interval: 100, maxOutstanding: 3 } as const;

/** The faults of the transparent columns, present from the first byte in both directions. */
export const SLICE: Fault = { type: 'slice', maxBytes: 1 };
export const LATENCY = { type: 'latency', ms: 5, jitterMs: 4 } as const satisfies Fault;
export const BANDWIDTH = { type: 'bandwidth', bytesPerSecond: 4096 } as const satisfies Fault;

const HEARTBEAT_TEXT = `sbp: heartbeat every ${HEARTBEAT.interval} ms, ${HEARTBEAT.maxOutstanding} unanswered`;

/** One column: the fault, how the client detects it, and the codes it may see. */
export interface FaultKind {
  name: string;
  /** What the proxy does, in words (for RELIABILITY.md). */
  fault: string;
  /** True when the fault keeps the byte stream intact: every message must be echoed. */
  transparent: boolean;
  /** What detects it (destructive faults). */
  detector: string;
  /** Codes the client may see, for framings other than sbp (empty: no error allowed). */
  codes: readonly ErrorCode[];
  /** Codes the sbp client may see, when they differ. */
  sbpCodes?: readonly ErrorCode[];
}

/** The columns, in order. */
export const FAULT_KINDS: readonly FaultKind[] = [
  {
    name: '1-byte slicing',
    fault: '`slice` 1 byte per write, both directions',
    transparent: true,
    detector: '—',
    codes: [],
  },
  {
    name: 'latency+jitter',
    fault: `\`latency\` ${LATENCY.ms} ms ± ${LATENCY.jitterMs} ms (seeded), both directions`,
    transparent: true,
    detector: '—',
    codes: [],
  },
  {
    name: 'bandwidth cap',
    fault: `\`bandwidth\` ${BANDWIDTH.bytesPerSecond} bytes/s, both directions`,
    transparent: true,
    detector: '—',
    codes: [],
  },
  {
    name: 'reset mid-stream',
    fault: `\`resetAfter\` server → client, in the middle of the echo with sequence ${RESET_AT}: RST to both sides`,
    transparent: false,
    detector: 'the RST (or the FIN ahead of it, mid-frame)',
    codes: ['SB_CONNECTION_RESET', 'SB_UNEXPECTED_EOF'],
  },
  {
    name: 'reset mid-request',
    fault: `\`resetAfter\` client → server, in the middle of the message with sequence ${RESET_AT}: RST to both sides`,
    transparent: false,
    detector: 'the RST (or the FIN ahead of it, mid-frame)',
    codes: ['SB_CONNECTION_RESET', 'SB_UNEXPECTED_EOF'],
  },
  {
    name: 'close mid-frame',
    fault: `\`closeAfter\` server → client, in the middle of the echo with sequence ${RESET_AT}: FIN to both sides`,
    transparent: false,
    detector: 'the cut frame at end of input',
    codes: ['SB_UNEXPECTED_EOF'],
  },
  {
    name: 'blackhole',
    fault: `\`blackhole\` both directions (a FIN too), added after ${BEFORE_FAULT} echoes`,
    transparent: false,
    detector: `the client Channel's \`idleTimeout\` (${CLIENT_IDLE_TIMEOUT_MS} ms); ${HEARTBEAT_TEXT}`,
    codes: ['SB_IDLE_TIMEOUT'],
    sbpCodes: ['SB_PEER_UNRESPONSIVE'],
  },
  {
    name: 'half-open',
    fault: `\`halfOpen\` server → client (held, nothing closed), added after ${BEFORE_FAULT} echoes`,
    transparent: false,
    detector: `\`receive({ timeout: ${REPLY_DEADLINE_MS} })\`, then the fault is removed and every held echo must arrive; ${HEARTBEAT_TEXT}`,
    codes: ['SB_TIMEOUT'],
    sbpCodes: ['SB_PEER_UNRESPONSIVE'],
  },
];

/** The codes a cell may see. */
export function expectedCodes(framing: MatrixFraming, kind: FaultKind): readonly ErrorCode[] {
  return framing === 'sbp' && kind.sbpCodes !== undefined ? kind.sbpCodes : kind.codes;
}

/** The seed of a cell: proxy jitter and payload bytes. */
export function cellSeed(row: number, column: number): number {
  return 1000 + row * 100 + column;
}

/** The test name of a cell. */
export function cellName(row: MatrixRow, kind: FaultKind): string {
  return `${rowLabel(row)} × ${kind.name}`;
}

/** What a cell observed, as written to SB_FAULTS_REPORT. */
export interface CellOutcome {
  /** The row's label ({@link rowLabel}). */
  row: string;
  framing: MatrixFraming;
  fault: string;
  seed: number;
  /** Echoes acknowledged before the fault's error (MESSAGES for a transparent fault). */
  acknowledged: number;
  /** The code the client saw, null when nothing failed. */
  code: ErrorCode | null;
  /** Half-open: echoes acknowledged in all once the fault was removed. */
  acknowledgedAfterRecovery?: number;
  /** Wall-clock ms the cell took (reported, never asserted). */
  elapsedMs: number;
}
