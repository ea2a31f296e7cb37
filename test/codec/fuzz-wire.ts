/**
 * Building blocks of the protocol fuzzers (fuzz-proxy.ts, fuzz-envelope.ts), shared by
 * their vitest suites and `npm run fuzz`: fast-check arbitraries for mutations of valid
 * wire bytes (bit flips, truncation, inserted and deleted bytes, lies in the length
 * fields) and for split points, and the one check every thrown error must pass.
 *
 * The mutations are plain records rather than closures so that fast-check prints a
 * failing case readably and can shrink it.
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ERROR_CODES, type ErrorClassName, SwitchboardError } from '../../src/errors.js';

/** Where a length field sits in a valid encoding, and what it says. */
export interface LengthField {
  readonly offset: number;
  /** Width in bytes, big-endian. */
  readonly size: 2 | 4;
  readonly actual: number;
}

/** Valid wire bytes with the positions of their length fields. */
export interface Wire {
  readonly bytes: Uint8Array;
  readonly lengthFields: readonly LengthField[];
}

/** How a length field lies: zero, its maximum, off by one either way, or any value. */
export type Lie = 'zero' | 'max' | 'plus-one' | 'minus-one' | 'random';

/** One edit of the wire bytes. Positions are taken modulo the current length. */
export type Mutation =
  | { readonly kind: 'flip'; readonly at: number; readonly bit: number }
  | { readonly kind: 'truncate'; readonly at: number }
  | { readonly kind: 'insert'; readonly at: number; readonly byte: number }
  | { readonly kind: 'delete'; readonly at: number }
  | { readonly kind: 'lie'; readonly field: number; readonly lie: Lie; readonly random: number };

/** Zero to four mutations; length-field lies are as likely as any other kind. */
export const mutationsArbitrary: fc.Arbitrary<Mutation[]> = fc.array(
  fc.oneof(
    fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.nat(7) }),
    fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
    fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), byte: fc.nat(255) }),
    fc.record({ kind: fc.constant('delete' as const), at: fc.nat() }),
    fc.record({
      kind: fc.constant('lie' as const),
      field: fc.nat(),
      lie: fc.constantFrom<Lie>('zero', 'max', 'plus-one', 'minus-one', 'random'),
      random: fc.nat(),
    }),
  ),
  { maxLength: 4 },
);

/** Split points into the input (taken modulo its length + 1, so empty chunks occur). */
export const splitsArbitrary: fc.Arbitrary<number[]> = fc.array(fc.nat(), { maxLength: 12 });

function writeField(bytes: Uint8Array, field: LengthField, value: number): void {
  for (let index = 0; index < field.size; index++) {
    const at = field.offset + index;
    if (at < bytes.length) {
      bytes[at] = Math.floor(value / 256 ** (field.size - 1 - index)) & 0xff;
    }
  }
}

/** Applies `mutations` to a copy of `wire.bytes`. */
export function mutate(wire: Wire, mutations: readonly Mutation[]): Uint8Array {
  let out = wire.bytes.slice();
  for (const mutation of mutations) {
    const at = 'at' in mutation ? mutation.at % (out.length + 1) : 0;
    if (mutation.kind === 'flip' && out.length > 0) {
      out[at % out.length]! ^= 1 << mutation.bit;
    } else if (mutation.kind === 'truncate') {
      out = out.slice(0, at);
    } else if (mutation.kind === 'insert') {
      out = Uint8Array.from([...out.subarray(0, at), mutation.byte, ...out.subarray(at)]);
    } else if (mutation.kind === 'delete' && out.length > 0) {
      out = Uint8Array.from([...out.subarray(0, at), ...out.subarray(at + 1)]);
    } else if (mutation.kind === 'lie' && wire.lengthFields.length > 0) {
      const field = wire.lengthFields[mutation.field % wire.lengthFields.length]!;
      const max = 256 ** field.size - 1;
      const value = {
        zero: 0,
        max,
        'plus-one': Math.min(field.actual + 1, max),
        'minus-one': Math.max(field.actual - 1, 0),
        random: mutation.random % (max + 1),
      }[mutation.lie];
      writeField(out, field, value);
    }
  }
  return out;
}

/** Cuts `input` at `points` (each modulo length + 1) into views, empty chunks included. */
export function split(input: Uint8Array, points: readonly number[]): Uint8Array[] {
  const cuts = points.map((point) => point % (input.length + 1)).sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let from = 0;
  for (const cut of cuts) {
    chunks.push(input.subarray(from, cut));
    from = cut;
  }
  chunks.push(input.subarray(from));
  return chunks;
}

/** Inputs up to this size are also fed one byte at a time. */
const BYTEWISE_LIMIT = 4096;

/**
 * The ways besides "whole" to feed `input`, labelled: split at `points`, and one byte
 * at a time when the input is small enough for that to stay fast.
 */
export function chunkings(input: Uint8Array, points: readonly number[]): [string, Uint8Array[]][] {
  const ways: [string, Uint8Array[]][] = [[`split at ${points}`, split(input, points)]];
  if (input.length <= BYTEWISE_LIMIT) {
    ways.push([
      'bytewise',
      Array.from({ length: input.length }, (_, index) => input.subarray(index, index + 1)),
    ]);
  }
  return ways;
}

/**
 * The invariant on everything thrown: a SwitchboardError whose code is in ERROR_CODES,
 * carried by the class the table names, which is one of `allowed`. Returns the code;
 * anything else fails with an AssertionError that keeps the original as its cause.
 */
export function expectKnownError(error: unknown, allowed: readonly ErrorClassName[]): string {
  if (!(error instanceof SwitchboardError)) {
    throw new assert.AssertionError({
      message: `threw ${String(error)}, not a SwitchboardError`,
      actual: error,
      expected: 'SwitchboardError',
    });
  }
  const entry = (ERROR_CODES as Record<string, { class: ErrorClassName }>)[error.code];
  assert.ok(entry !== undefined, `code ${error.code} is not in ERROR_CODES`);
  assert.equal(error.name, entry.class, `code ${error.code} carried by the wrong class`);
  assert.ok(allowed.includes(entry.class), `${entry.class} ${error.code} is not expected here`);
  return error.code;
}

/** Counts outcomes (`ok` or an error code) by name. */
export type Tally = (outcome: string) => void;

/** A tally that counts into `counts`. */
export function tallyInto(counts: Map<string, number>): Tally {
  return (outcome) => {
    counts.set(outcome, (counts.get(outcome) ?? 0) + 1);
  };
}

/** How long to run a property: fast-check's seed and number of runs. */
export interface FuzzRun {
  readonly seed: number;
  readonly numRuns: number;
}

/** One named fuzz property of a target; `check` runs it with `fc.assert` (throws on failure). */
export interface FuzzProperty {
  readonly name: string;
  check(run: FuzzRun, tally: Tally): void;
}
