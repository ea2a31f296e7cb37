/**
 * Importing a user's handler module: one way for every kind (a connection handler, a
 * pool thread's frame handler, `onRequest`) and every dispatch model, so a module that
 * is not a handler says so, with the same code, wherever it is loaded.
 *
 * - A file Node will not import as code (JSON, an unknown extension, a directory) and a
 *   module whose default export is not a function are the caller's fault: the option
 *   names the wrong thing. `SB_BAD_OPTION`, saying what was expected.
 * - A module that throws while loading (a syntax error, a missing import, its own top
 *   level throwing) is the handler's failure: `SB_HANDLER_ERROR`, with Node's message.
 *
 * Worker threads and processes load the module themselves; {@link LoadFailure} is what
 * crosses back, and {@link loadFailureError} rebuilds the same error in the parent.
 */
import { fileURLToPath } from 'node:url';
import { InvalidArgumentError, SwitchboardError } from '../errors.js';

/** Node's codes for a file it refuses to import as a JavaScript module. */
const NOT_CODE = new Set([
  'ERR_IMPORT_ATTRIBUTE_MISSING',
  'ERR_IMPORT_ASSERTION_TYPE_MISSING',
  'ERR_UNKNOWN_FILE_EXTENSION',
  'ERR_UNSUPPORTED_DIR_IMPORT',
]);

/** What a handler module's default export must be, for the message. */
export const EXPECTED_CONNECTION_HANDLER =
  'an async function (channel, info) handling one connection';

/**
 * Imports `moduleUrl` (a file: URL, as resolveHandlerModule gives) and returns its
 * default export, checked to be a function.
 * @param option The option that named the module (`handler`, `onRequest`), for the message.
 * @param expected What the default export must be (e.g. {@link EXPECTED_CONNECTION_HANDLER}).
 * @throws InvalidArgumentError `SB_BAD_OPTION` when the file is not a module, or its
 *   default export is not a function.
 * @throws SwitchboardError `SB_HANDLER_ERROR` when the module throws while loading.
 */
export async function importHandlerModule(
  option: string,
  moduleUrl: string,
  expected: string,
): Promise<(...args: never[]) => unknown> {
  const file = displayPath(moduleUrl);
  let loaded: Record<string, unknown>;
  try {
    loaded = (await import(moduleUrl)) as Record<string, unknown>;
  } catch (error) {
    const code = (error as { code?: unknown } | null)?.code;
    if (typeof code === 'string' && NOT_CODE.has(code)) {
      throw new InvalidArgumentError(
        'SB_BAD_OPTION',
        `${option}: ${file} is not a JavaScript module; expected a .js, .mjs, .cjs or .ts module whose default export is ${expected}`,
        { cause: error },
      );
    }
    const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    throw new SwitchboardError(
      'SB_HANDLER_ERROR',
      `${option}: module ${file} failed to load: ${reason}`,
      { cause: error },
    );
  }
  const handler = loaded.default;
  if (typeof handler !== 'function') {
    throw new InvalidArgumentError(
      'SB_BAD_OPTION',
      `${option}: module ${file} ${describeDefault(loaded)}; expected its default export to be ${expected}`,
    );
  }
  return handler as (...args: never[]) => unknown;
}

/** What the module has instead of a default export function. */
function describeDefault(loaded: Record<string, unknown>): string {
  if (!('default' in loaded)) {
    const names = Object.keys(loaded);
    const shown = names.slice(0, 5).join(', ') + (names.length > 5 ? ', ...' : '');
    return names.length === 0 ? 'exports nothing' : `has no default export (it exports ${shown})`;
  }
  const value = loaded.default;
  const kind = value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value;
  return `has a default export that is ${kind === 'object' ? 'an object' : kind}, not a function`;
}

function displayPath(moduleUrl: string): string {
  try {
    return JSON.stringify(fileURLToPath(moduleUrl));
  } catch {
    return JSON.stringify(moduleUrl);
  }
}

/** A worker's report that its handler module did not load: the message and, when ours, the code. */
export interface LoadFailure {
  message: string;
  code?: string | undefined;
}

/** The {@link LoadFailure} of `error`, to post to the parent. */
export function loadFailure(error: unknown): LoadFailure {
  if (error instanceof SwitchboardError) {
    return { message: error.message, code: error.code };
  }
  return { message: error instanceof Error ? `${error.name}: ${error.message}` : String(error) };
}

/**
 * The parent's error for a worker's {@link LoadFailure}: the same code and message as
 * the loop model would throw for the same module; anything else is `SB_HANDLER_ERROR`
 * prefixed with `where` (e.g. "handler failed to load in a worker process").
 */
export function loadFailureError(failure: LoadFailure, where: string): SwitchboardError {
  if (failure.code === 'SB_BAD_OPTION') {
    return new InvalidArgumentError('SB_BAD_OPTION', failure.message);
  }
  if (failure.code === 'SB_HANDLER_ERROR') {
    return new SwitchboardError('SB_HANDLER_ERROR', failure.message);
  }
  return new SwitchboardError('SB_HANDLER_ERROR', `${where}: ${failure.message}`);
}
