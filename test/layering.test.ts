/**
 * SPEC §1 dependency rules:
 * - codec/ and binary/ are sans-IO. They import nothing from net/, server/, cli/
 *   or any node: I/O module.
 * - src/index.ts is the public API for users and the CLI. The CLI imports it first
 *   and may import an internal module where the public API should not grow (the
 *   struct value runs of its output, toSwitchboardError, the sbp DATA decoder); no
 *   library module imports the entry point (it would close a cycle through it),
 *   and nothing imports cli/.
 * - There are no per-area barrels (src/<area>/index.ts): one file names the public
 *   API, so an area's export is not public until src/index.ts names it.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = new URL('../src/', import.meta.url).pathname;
const FORBIDDEN =
  /from\s+['"](?:node:)?(net|tls|dgram|http|https|http2|timers|timers\/promises|events|fs|fs\/promises|child_process|worker_threads|cluster|stream)['"]|from\s+['"]\.\.\/(net|server|cli|testing)\//;

/** An import of src/index.ts from a module one or more levels below it. */
const ENTRY_POINT = /from\s+['"](?:\.\.\/)+index\.js['"]/;
/** An import of anything under src/cli/ from outside it. */
const CLI_IMPORT = /from\s+['"](?:\.\.\/)+cli\//;

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? sources(join(dir, entry.name))
      : entry.name.endsWith('.ts')
        ? [join(dir, entry.name)]
        : [],
  );
}

describe('layering', () => {
  for (const layer of ['codec', 'binary']) {
    it(`src/${layer} imports no I/O module and nothing from net/server/cli`, () => {
      const offenders = sources(join(SRC, layer)).filter((file) =>
        FORBIDDEN.test(readFileSync(file, 'utf8')),
      );
      expect(offenders).toEqual([]);
    });
  }

  it('only the CLI imports the public entry point, and nothing imports cli/', () => {
    const offenders = sources(SRC).filter((file) => {
      const text = readFileSync(file, 'utf8');
      const inCli = file.startsWith(join(SRC, 'cli/'));
      return (!inCli && ENTRY_POINT.test(text)) || (!inCli && CLI_IMPORT.test(text));
    });
    expect(offenders).toEqual([]);
  });

  it('the only barrels are the two package entry points', () => {
    const barrels = sources(SRC)
      .filter((file) => file.endsWith('/index.ts'))
      .map((file) => file.slice(SRC.length));
    expect(barrels.sort()).toEqual(['index.ts', 'testing/index.ts']);
  });

  it('the entry-point and cli patterns match what they should (so those tests can fail)', () => {
    expect(ENTRY_POINT.test("import { connect } from '../index.js';")).toBe(true);
    expect(ENTRY_POINT.test("import type { X } from '../../index.js';")).toBe(true);
    expect(ENTRY_POINT.test("import { x } from './testing/index.js';")).toBe(false);
    expect(CLI_IMPORT.test("import { EXIT } from '../cli/output.js';")).toBe(true);
    expect(CLI_IMPORT.test("import { EXIT } from './output.js';")).toBe(false);
  });

  it('the pattern catches an I/O import (so this test can fail)', () => {
    expect(FORBIDDEN.test("import { Socket } from 'node:net';")).toBe(true);
    expect(FORBIDDEN.test("import { x } from '../net/socket.js';")).toBe(true);
    expect(FORBIDDEN.test("import { x } from './buffer.js';")).toBe(false);
  });
});
