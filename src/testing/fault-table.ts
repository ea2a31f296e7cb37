/**
 * The fault table of one FaultProxy: checks each fault as it is added, keeps the faults
 * by id, and merges the ones that apply to a pipe into its effective faults.
 *
 * Theory of operation
 * -------------------
 * The table is the only state shared by every pipe of a proxy. Pipes read it once per
 * chunk (fault-pipe.ts), so a fault added, updated or removed applies to every
 * connection from its next chunk on; the proxy tells its connections after each change
 * (a halfOpen or timeout fault must act without waiting for a chunk). An id is never
 * reused, so per-pipe state keyed by id (byte budgets, toxicity rolls, message counts)
 * survives an update and cannot be inherited by a later fault. Faults of one direction
 * compose in a fixed order, whatever order they were added in:
 *
 *   | stage        | effect                                                      |
 *   |--------------|-------------------------------------------------------------|
 *   | halfOpen     | the pipe stops reading its source and holds its queue        |
 *   | blackhole    | chunks are read and dropped; a FIN is swallowed too          |
 *   | latency      | sum of latencies; jitter drawn from the seeded PRNG          |
 *   | resetAfter / | truncate the chunk at the first budget reached, forward it,  |
 *   | closeAfter   | then RST (resetAndDestroy) or FIN (end) both sides           |
 *   | bandwidth    | smallest rate wins; pieces of ~50 ms paced by a token clock  |
 *   | slice        | smallest maxBytes wins; one write per piece, yielding between |
 *
 * Message faults are kept here too; the pipe applies them itself (message-faults.ts).
 */
import type { AddFaultOptions, Fault, FaultDirection } from './fault-types.js';
import { invalid } from './fault-types.js';
import { validateMessageFault } from './message-faults.js';

export interface FaultEntry {
  id: number;
  directions: readonly FaultDirection[];
  fault: Fault;
  toxicity: number;
}

/** The faults that apply to one chunk, merged from the table (see the table above). */
export interface EffectiveFaults {
  halfOpen: boolean;
  blackhole: boolean;
  latencyMs: number;
  jitterMs: number;
  bytesPerSecond: number;
  sliceBytes: number;
  sliceVariation: number;
  sliceDelayMs: number;
  slowCloseMs: number;
  /** A `timeout` fault applies: bytes are dropped. */
  timeout: boolean;
  cuts: { id: number; kind: 'reset' | 'close'; bytes: number; delayMs: number }[];
}

function requireCount(fault: Fault, name: string, value: unknown, min: number): void {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw invalid(`fault "${fault.type}" needs "${name}" as an integer >= ${min}`);
  }
}

function requireDuration(fault: Fault, name: string, value: unknown): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw invalid(`fault "${fault.type}" needs "${name}" as a number of ms >= 0`);
  }
}

export function validateFault(fault: Fault): void {
  if (typeof fault !== 'object' || fault === null) {
    throw invalid('a fault must be an object with a "type"');
  }
  switch (fault.type) {
    case 'latency':
      requireCount(fault, 'ms', fault.ms, 0);
      if (fault.jitterMs !== undefined) {
        requireCount(fault, 'jitterMs', fault.jitterMs, 0);
      }
      return;
    case 'bandwidth':
      requireCount(fault, 'bytesPerSecond', fault.bytesPerSecond, 1);
      return;
    case 'slice':
      requireCount(fault, 'maxBytes', fault.maxBytes, 1);
      if (fault.delayMs !== undefined) {
        requireDuration(fault, 'delayMs', fault.delayMs);
      }
      if (fault.variationBytes !== undefined) {
        requireCount(fault, 'variationBytes', fault.variationBytes, 0);
      }
      return;
    case 'resetAfter':
      requireCount(fault, 'bytes', fault.bytes, 0);
      if (fault.delayMs !== undefined) {
        requireDuration(fault, 'delayMs', fault.delayMs);
      }
      return;
    case 'closeAfter':
      requireCount(fault, 'bytes', fault.bytes, 0);
      return;
    case 'slowClose':
    case 'timeout':
      requireDuration(fault, 'ms', fault.ms);
      return;
    case 'blackhole':
    case 'halfOpen':
      return;
    case 'message':
      validateMessageFault(fault);
      return;
    default:
      throw invalid(`unknown fault type "${String((fault as { type: unknown }).type)}"`);
  }
}

export function validateToxicity(options: AddFaultOptions): number {
  if (typeof options !== 'object' || options === null) {
    throw invalid('fault options must be an object');
  }
  const { toxicity } = options;
  if (toxicity === undefined) {
    return 1;
  }
  if (typeof toxicity !== 'number' || !(toxicity >= 0 && toxicity <= 1)) {
    throw invalid('"toxicity" must be a number in [0, 1]');
  }
  return toxicity;
}

/** The faults of one proxy, by id (ids start at 1 and are never reused). */
export class FaultTable {
  private readonly entries = new Map<number, FaultEntry>();
  private nextId = 1;

  /** Adds an already validated fault and returns its id. */
  add(directions: readonly FaultDirection[], fault: Fault, toxicity: number): number {
    const id = this.nextId;
    this.nextId += 1;
    this.entries.set(id, { id, directions, fault: { ...fault }, toxicity });
    return id;
  }

  /** The fault `id`, if present. */
  get(id: number): FaultEntry | undefined {
    return this.entries.get(id);
  }

  /** Replaces the fault of an existing entry, keeping its id and directions. */
  replace(entry: FaultEntry, fault: Fault, toxicity: number): void {
    this.entries.set(entry.id, { ...entry, fault: { ...fault }, toxicity });
  }

  /** Removes the fault `id`; false when there was none. */
  delete(id: number): boolean {
    return this.entries.delete(id);
  }

  /** Removes every fault. */
  clear(): void {
    this.entries.clear();
  }

  /** Every fault, in the order added. */
  values(): IterableIterator<FaultEntry> {
    return this.entries.values();
  }

  /** Whether a fault of `type` applies, by `applies` (a pipe's direction and toxicity roll). */
  hasFault(type: Fault['type'], applies: (entry: FaultEntry) => boolean): boolean {
    for (const entry of this.entries.values()) {
      if (entry.fault.type === type && applies(entry)) {
        return true;
      }
    }
    return false;
  }

  /** Merges the faults that apply to one pipe, by `applies`, into one stage list (see above). */
  effectiveFaults(applies: (entry: FaultEntry) => boolean): EffectiveFaults {
    const merged: EffectiveFaults = {
      halfOpen: false,
      blackhole: false,
      latencyMs: 0,
      jitterMs: 0,
      bytesPerSecond: 0,
      sliceBytes: 0,
      sliceVariation: 0,
      sliceDelayMs: 0,
      slowCloseMs: 0,
      timeout: false,
      cuts: [],
    };
    for (const entry of this.entries.values()) {
      if (!applies(entry)) {
        continue;
      }
      const { id, fault } = entry;
      switch (fault.type) {
        case 'halfOpen':
          merged.halfOpen = true;
          break;
        case 'blackhole':
          merged.blackhole = true;
          break;
        case 'latency':
          merged.latencyMs += fault.ms;
          merged.jitterMs += fault.jitterMs ?? 0;
          break;
        case 'bandwidth':
          merged.bytesPerSecond =
            merged.bytesPerSecond === 0
              ? fault.bytesPerSecond
              : Math.min(merged.bytesPerSecond, fault.bytesPerSecond);
          break;
        case 'slice':
          merged.sliceBytes =
            merged.sliceBytes === 0 ? fault.maxBytes : Math.min(merged.sliceBytes, fault.maxBytes);
          merged.sliceDelayMs = Math.max(merged.sliceDelayMs, fault.delayMs ?? 0);
          merged.sliceVariation = Math.max(merged.sliceVariation, fault.variationBytes ?? 0);
          break;
        case 'resetAfter':
          merged.cuts.push({ id, kind: 'reset', bytes: fault.bytes, delayMs: fault.delayMs ?? 0 });
          break;
        case 'closeAfter':
          merged.cuts.push({ id, kind: 'close', bytes: fault.bytes, delayMs: 0 });
          break;
        case 'slowClose':
          merged.slowCloseMs += fault.ms;
          break;
        case 'timeout':
          merged.timeout = true;
          break;
      }
    }
    return merged;
  }
}
