/**
 * The struct interpreter: the pack and unpack loops that walk a compiled format's field
 * operations (format.ts) one by one. Every format starts here, and formats that cannot
 * be generated (too many values, or a host that forbids code generation) stay here;
 * codegen.ts unrolls the same walk into straight-line code. Stateless.
 */

import { type CompiledFormat, OpKind } from './format.js';
import {
  copyBytes,
  readInt32,
  readPascal,
  readThroughScratch,
  readUint16,
  write16,
  write32,
  write64,
  writeBytes,
  writeFloat,
  writePascal,
} from './struct-bytes.js';
import type { StructValue } from './struct-types.js';
import { charByte, float16Bits, float16Value, floatValue, smallInteger } from './struct-values.js';

/** Writes `values` into `bytes` at `base`. The caller has checked the count and bounds. */
export function writeFields(
  layout: CompiledFormat,
  bytes: Uint8Array,
  base: number,
  values: ArrayLike<unknown>,
): void {
  const ops = layout.ops;
  let next = 0;
  for (let opIndex = 0; opIndex < ops.length; opIndex++) {
    const op = ops[opIndex]!;
    const little = op.littleEndian;
    const count = op.count;
    let position = base + op.offset;
    switch (op.kind) {
      case OpKind.Int8:
      case OpKind.Uint8:
        for (let item = 0; item < count; item++, position++) {
          bytes[position] = smallInteger(values[next++], op.intRule!);
        }
        break;
      case OpKind.Int16:
      case OpKind.Uint16:
        for (let item = 0; item < count; item++, position += 2) {
          write16(bytes, position, smallInteger(values[next++], op.intRule!), little);
        }
        break;
      case OpKind.Int32:
      case OpKind.Uint32:
        for (let item = 0; item < count; item++, position += 4) {
          write32(bytes, position, smallInteger(values[next++], op.intRule!), little);
        }
        break;
      case OpKind.Int64:
      case OpKind.Uint64:
        for (let item = 0; item < count; item++, position += 8) {
          write64(bytes, position, values[next++], op.intRule!, little);
        }
        break;
      case OpKind.Bool:
        for (let item = 0; item < count; item++, position++) {
          bytes[position] = values[next++] ? 1 : 0;
        }
        break;
      case OpKind.Char:
        for (let item = 0; item < count; item++, position++) {
          bytes[position] = charByte(values[next++]);
        }
        break;
      case OpKind.Bytes:
        writeBytes(bytes, position, values[next++], op.size);
        break;
      case OpKind.Pascal:
        writePascal(bytes, position, values[next++], op.size);
        break;
      case OpKind.Float16:
        for (let item = 0; item < count; item++, position += 2) {
          write16(bytes, position, float16Bits(floatValue(values[next++])), little);
        }
        break;
      case OpKind.Float32:
      case OpKind.Float32Cast:
      case OpKind.Float64:
        for (let item = 0; item < count; item++, position += op.size) {
          writeFloat(bytes, position, values[next++], op.kind, little);
        }
        break;
    }
  }
}

/**
 * Reads one struct at `base`. The caller has checked the bounds. The field walk repeats
 * writeFields' on purpose: a shared walker would call a callback per value.
 */
export function readFields(layout: CompiledFormat, bytes: Uint8Array, base: number): StructValue[] {
  const result = new Array<StructValue>(layout.valueCount);
  const ops = layout.ops;
  let next = 0;
  for (let opIndex = 0; opIndex < ops.length; opIndex++) {
    const op = ops[opIndex]!;
    const little = op.littleEndian;
    const count = op.count;
    let position = base + op.offset;
    switch (op.kind) {
      case OpKind.Int8:
        for (let item = 0; item < count; item++, position++) {
          result[next++] = (bytes[position]! << 24) >> 24;
        }
        break;
      case OpKind.Uint8:
        for (let item = 0; item < count; item++, position++) {
          result[next++] = bytes[position]!;
        }
        break;
      case OpKind.Int16:
        for (let item = 0; item < count; item++, position += 2) {
          result[next++] = (readUint16(bytes, position, little) << 16) >> 16;
        }
        break;
      case OpKind.Uint16:
        for (let item = 0; item < count; item++, position += 2) {
          result[next++] = readUint16(bytes, position, little);
        }
        break;
      case OpKind.Int32:
        for (let item = 0; item < count; item++, position += 4) {
          result[next++] = readInt32(bytes, position, little);
        }
        break;
      case OpKind.Uint32:
        for (let item = 0; item < count; item++, position += 4) {
          result[next++] = readInt32(bytes, position, little) >>> 0;
        }
        break;
      case OpKind.Int64:
      case OpKind.Uint64:
      case OpKind.Float32:
      case OpKind.Float32Cast:
      case OpKind.Float64:
        for (let item = 0; item < count; item++, position += op.size) {
          result[next++] = readThroughScratch(bytes, position, op.kind, little);
        }
        break;
      case OpKind.Bool:
        for (let item = 0; item < count; item++, position++) {
          result[next++] = bytes[position] !== 0;
        }
        break;
      case OpKind.Char:
        for (let item = 0; item < count; item++, position++) {
          result[next++] = copyBytes(bytes, position, 1);
        }
        break;
      case OpKind.Bytes:
        result[next++] = copyBytes(bytes, position, op.size);
        break;
      case OpKind.Pascal:
        result[next++] = readPascal(bytes, position, op.size);
        break;
      case OpKind.Float16:
        for (let item = 0; item < count; item++, position += 2) {
          result[next++] = float16Value(readUint16(bytes, position, little));
        }
        break;
    }
  }
  return result;
}
