// Curated public API of src/binary: CPython-compatible struct packing, byte-order
// helpers and varints.

export {
  type BigUintBits,
  type Endianness,
  HOST_ENDIANNESS,
  htonl,
  htons,
  ntohl,
  ntohs,
  readBigUint,
  readUint,
  type UintBits,
  writeBigUint,
  writeUint,
} from './byteorder.js';
export { type StructValueKind, type StructValueRun, structValueRuns } from './format.js';
export {
  calcsize,
  iterUnpack,
  pack,
  packInto,
  Struct,
  type StructValue,
  unpack,
  unpackFrom,
} from './struct.js';
export type {
  MaxParsedFormatLength,
  StructByteOrder,
  Unpacked,
} from './struct-types.js';
export * from './varint.js';
