/**
 * toBytes: what the net layer sends, as bytes. One rule for the Socket and the Channel:
 * a Uint8Array is used as it is (not copied), a string is UTF-8, anything else is the
 * caller's mistake.
 */
import { InvalidArgumentError } from '../errors.js';

/**
 * `data` as bytes (a string is UTF-8; a Uint8Array is not copied).
 * @throws InvalidArgumentError `SB_INVALID_ARGUMENT` naming `where` for anything else.
 */
export function toBytes(where: string, data: Uint8Array | string): Uint8Array {
  if (typeof data === 'string') {
    return Buffer.from(data, 'utf8');
  }
  if (data instanceof Uint8Array) {
    return data;
  }
  throw new InvalidArgumentError(
    'SB_INVALID_ARGUMENT',
    `${where}: expected a Uint8Array or a string`,
  );
}
