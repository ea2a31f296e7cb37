/**
 * Where worker entry files are and how to start them, from source or from dist.
 *
 * The worker entries (`thread-worker`, `process-worker`) sit next to this file.
 * Run from `dist/`, they are `.js` and start as they are. Run from `src/` (tests,
 * `tsx`), they are `.ts`: a worker thread is then started from a tiny evaluated
 * bootstrap that registers tsx's ESM hooks first, and a worker process gets
 * `--import <tsx loader>`. The same applies when the user's handler module is a
 * `.ts`/`.mts` file. The extension of this very module (import.meta.url) tells
 * which layout we run from.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { InvalidArgumentError } from '../../errors.js';

const RUNNING_FROM_SOURCE = import.meta.url.endsWith('.ts');

/** URL of the sibling worker entry `name` (`thread-worker`, `process-worker`). */
export function workerEntryUrl(name: string): URL {
  return new URL(`./${name}${RUNNING_FROM_SOURCE ? '.ts' : '.js'}`, import.meta.url);
}

/** True when `path` needs a TypeScript loader. */
export function isTypeScriptPath(path: string): boolean {
  return /\.(c|m)?tsx?$/.test(path);
}

/** True when workers must load TypeScript (our entries or the user's module). */
export function needsTypeScriptLoader(modulePath: string | null): boolean {
  return RUNNING_FROM_SOURCE || (modulePath !== null && isTypeScriptPath(modulePath));
}

function resolveTsx(specifier: string): string {
  try {
    return createRequire(import.meta.url).resolve(specifier);
  } catch (error) {
    throw new InvalidArgumentError(
      'SB_BAD_OPTION',
      'handler: a TypeScript handler module needs the "tsx" package installed (or use the compiled .js file)',
      { cause: error },
    );
  }
}

/** file: URL of tsx's ESM registration API (`register()`), for worker threads. */
export function tsxApiUrl(): string {
  // The require condition resolves the CommonJS build; its ESM twin sits beside it.
  return pathToFileURL(resolveTsx('tsx/esm/api').replace(/\.cjs$/, '.mjs')).href;
}

/** file: URL of tsx's loader, for `--import` in worker processes. */
export function tsxLoaderUrl(): string {
  return pathToFileURL(resolveTsx('tsx')).href;
}

/**
 * Resolves a handler module path (absolute, relative to the working directory,
 * or a file: URL) to a file: URL, checking that the file exists.
 */
export function resolveHandlerModule(path: string): string {
  const file = path.startsWith('file:')
    ? fileURLToPath(path)
    : isAbsolute(path)
      ? path
      : resolve(path);
  if (!existsSync(file)) {
    throw new InvalidArgumentError(
      'SB_BAD_OPTION',
      `handler: module ${JSON.stringify(path)} does not exist`,
    );
  }
  return pathToFileURL(file).href;
}

/**
 * The parent's node flags a worker thread should inherit: all but those that
 * only make sense for the parent's own entry (`--input-type`, `-e`/`--eval`,
 * `-p`/`--print` and their code), which would make the worker fail to start.
 */
export function inheritableExecArgv(): string[] {
  const kept: string[] = [];
  const args = process.execArgv;
  for (let index = 0; index < args.length; index++) {
    const arg = args[index]!;
    if (arg.startsWith('--input-type')) {
      continue;
    }
    if (arg === '-e' || arg === '--eval' || arg === '-p' || arg === '--print') {
      index += 1; // skip the code that follows
      continue;
    }
    if (arg.startsWith('--eval=') || arg.startsWith('--print=')) {
      continue;
    }
    kept.push(arg);
  }
  return kept;
}
