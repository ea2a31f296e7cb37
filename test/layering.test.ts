/**
 * SPEC §1 dependency rule: codec/ and binary/ are sans-IO. They import nothing from
 * net/, server/, cli/ or any node: I/O module.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = new URL('../src/', import.meta.url).pathname;
const FORBIDDEN =
  /from\s+['"](?:node:)?(net|tls|dgram|http|https|http2|timers|timers\/promises|events|fs|fs\/promises|child_process|worker_threads|cluster|stream)['"]|from\s+['"]\.\.\/(net|server|cli|testing)\//;

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

  it('the pattern catches an I/O import (so this test can fail)', () => {
    expect(FORBIDDEN.test("import { Socket } from 'node:net';")).toBe(true);
    expect(FORBIDDEN.test("import { x } from '../net/socket.js';")).toBe(true);
    expect(FORBIDDEN.test("import { x } from './buffer.js';")).toBe(false);
  });
});
