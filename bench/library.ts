/**
 * The switchboard the benchmarks measure: the built package (`dist/`), the JavaScript
 * users run, not `src/` compiled on the fly by tsx's loader (which measured 8–19 full
 * GCs per 2 s 1 MiB run where the same receiver from dist/ had about one). Every
 * switchboard subject loads through here; the raw baselines and the harness itself
 * still run under tsx, which costs them nothing measured. bench/run.ts builds dist/
 * before every run; a scenario file run alone measures whatever dist/ holds.
 */
import { existsSync } from 'node:fs';

/** The public API, typed from the sources it is built from. */
export type Library = typeof import('../src/index.js');

const DIST_INDEX = new URL('../dist/index.js', import.meta.url);

/** Thrown when the switchboard side of a comparison cannot run (no build); becomes a note row. */
export class NotAvailableError extends Error {}

/** Imports dist/index.js; NotAvailableError when it has not been built. */
export async function loadLibrary(): Promise<Library> {
  if (!existsSync(DIST_INDEX)) {
    throw new NotAvailableError(
      'dist/ is missing: run `npm run build` (bench/run.ts builds first)',
    );
  }
  return (await import(DIST_INDEX.href)) as Library;
}

/**
 * Loads the library into this process whatever subject it runs, so that every
 * subject of a comparison runs in a process of the same heap. Why: V8 schedules its
 * scavenges from the heap's size, and a bare raw `node:net` process is unusually small.
 * Measured on 1 KiB frames: the raw receiver with ~3 MB of unrelated objects retained
 * (about what importing switchboard adds; any real application holds more) triggered
 * 179 "external memory pressure" scavenges in 2 s instead of 47 and ran 20% slower,
 * with the same code. Without this, a raw row measured a process no application has,
 * and the ratio charged switchboard for V8's heuristic. A missing build is not an error
 * here: the switchboard subjects report it themselves.
 */
export async function loadLibraryForEveryone(): Promise<void> {
  try {
    await loadLibrary();
  } catch (error) {
    if (!(error instanceof NotAvailableError)) {
      throw error;
    }
  }
}
