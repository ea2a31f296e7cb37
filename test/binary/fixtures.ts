/**
 * Loads the CPython-generated golden vectors in test/fixtures/struct/ (written by
 * scripts/gen-struct-fixtures.py) and decodes their value encoding into JS values.
 */
import { readFileSync } from 'node:fs';

/** A value as the generator writes it (see the generator's docstring). */
export type EncodedValue =
  | number
  | boolean
  | { bigint: string }
  | { bytes: string }
  | { float: 'nan' | 'inf' | '-inf' }
  | { str: string };

/** The interpreter that produced a fixture file. */
export interface FixtureMeta {
  generator: string;
  python: string;
  implementation: string;
  platform: string;
  byteorder: string;
}

export interface PackCase {
  format: string;
  values: EncodedValue[];
  hex: string;
  unpacked: EncodedValue[];
  /** False when CPython's own pack(unpack(bytes)) differs from the bytes (e.g. '300p'). */
  roundTrip?: boolean;
  note?: string;
}

export interface UnpackCase {
  format: string;
  hex: string;
  values: EncodedValue[];
  note?: string;
}

export interface CalcsizeCase {
  format: string;
  size: number;
}

export interface ErrorCase {
  kind: 'pack' | 'unpack' | 'calcsize' | 'pack_into' | 'unpack_from' | 'iter_unpack';
  format: string;
  values?: EncodedValue[];
  hex?: string;
  offset?: number;
  bufferSize?: number;
  /** CPython's exception class name: `error` (struct.error), `OverflowError`, ... */
  error: string;
  message: string;
}

export type BufferCase =
  | {
      kind: 'pack_into';
      format: string;
      bufferSize: number;
      fill: string;
      offset: number;
      values: EncodedValue[];
      hex: string;
    }
  | { kind: 'unpack_from'; format: string; hex: string; offset: number; values: EncodedValue[] }
  | { kind: 'iter_unpack'; format: string; hex: string; values: EncodedValue[][] };

export interface FixtureFile<Case> {
  meta: FixtureMeta;
  cases: Case[];
}

const FIXTURE_DIR = new URL('../fixtures/struct/', import.meta.url);

export function loadFixture<Case>(name: string): FixtureFile<Case> {
  return JSON.parse(readFileSync(new URL(name, FIXTURE_DIR), 'utf8')) as FixtureFile<Case>;
}

export function fromHex(hex: string): Uint8Array {
  return new Uint8Array(Buffer.from(hex, 'hex'));
}

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

/** Decodes one fixture value; strings only appear in error cases (CPython rejects them for bytes). */
export function decodeValue(
  encoded: EncodedValue,
): number | bigint | boolean | Uint8Array | string {
  if (typeof encoded === 'number' || typeof encoded === 'boolean') {
    return encoded;
  }
  if ('bigint' in encoded) {
    return BigInt(encoded.bigint);
  }
  if ('bytes' in encoded) {
    return fromHex(encoded.bytes);
  }
  if ('str' in encoded) {
    return encoded.str;
  }
  switch (encoded.float) {
    case 'nan':
      return Number.NaN;
    case 'inf':
      return Number.POSITIVE_INFINITY;
    case '-inf':
      return Number.NEGATIVE_INFINITY;
  }
}

export function describeValues(values: EncodedValue[]): string {
  return JSON.stringify(values);
}
