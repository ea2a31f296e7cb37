/**
 * Argument checks for the public entry points, for callers in plain JavaScript (or
 * TypeScript through `any`) that pass null, a number or a string where bytes are
 * expected, or NaN / negative / fractional offsets. Each throws the library's
 * {@link InvalidArgumentError} with `SB_INVALID_ARGUMENT` (or `SB_BAD_OPTION` for an
 * options argument) naming the function and the argument, never the value: a caller
 * fault with a stable code, not a TypeError from deep inside.
 *
 * The checks are O(1) (a typeof or instanceof), cheap enough for per-call paths.
 */
import { InvalidArgumentError } from './errors.js';

/** Throws unless `value` is a Uint8Array (a Buffer is one). */
export function checkBytes(
  where: string,
  name: string,
  value: unknown,
): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array)) {
    throw new InvalidArgumentError('SB_INVALID_ARGUMENT', `${where}: ${name} must be a Uint8Array`);
  }
}

/** Throws unless `value` is an integer in [min, max] (default: any safe integer >= 0). */
export function checkIndex(
  where: string,
  name: string,
  value: unknown,
  max: number = Number.MAX_SAFE_INTEGER,
): asserts value is number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0 || value > max) {
    throw new InvalidArgumentError(
      'SB_INVALID_ARGUMENT',
      `${where}: ${name} must be an integer from 0 to ${max}`,
    );
  }
}

/**
 * An options argument: undefined or null (both mean "defaults", as the options table
 * reads them) become undefined; anything but a plain object throws `SB_BAD_OPTION`.
 */
export function checkOptionsObject<T extends object>(
  where: string,
  value: T | null | undefined,
): T | undefined {
  if (value === undefined || value === null) {
    return undefined;
  }
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new InvalidArgumentError('SB_BAD_OPTION', `${where}: options must be an object`);
  }
  return value;
}

/** Throws unless `value` is a non-null object (a record argument such as a header). */
export function checkObject(where: string, name: string, value: unknown): asserts value is object {
  if (typeof value !== 'object' || value === null) {
    throw new InvalidArgumentError('SB_INVALID_ARGUMENT', `${where}: ${name} must be an object`);
  }
}

/** Throws unless `value` is iterable or async iterable. */
export function checkIterable(where: string, name: string, value: unknown): void {
  const object = value as { [Symbol.iterator]?: unknown; [Symbol.asyncIterator]?: unknown } | null;
  if (
    object === null ||
    object === undefined ||
    (typeof object !== 'object' && typeof object !== 'function') ||
    (typeof object[Symbol.asyncIterator] !== 'function' &&
      typeof object[Symbol.iterator] !== 'function')
  ) {
    throw new InvalidArgumentError(
      'SB_INVALID_ARGUMENT',
      `${where}: ${name} must be an iterable or async iterable`,
    );
  }
}
