/**
 * `npm start`'s prestart (scripts/build-if-stale.mjs) builds dist/ when it is missing
 * and when the sources changed after it was built, and not otherwise: after a
 * `git pull` or an edit, `npm start` served the old build. Run in a scratch package
 * whose `build` script only writes dist/cli/main.js and a marker, so no compiler runs.
 */
import { spawnSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = new URL('..', import.meta.url).pathname;
const scratch = mkdtempSync(join(tmpdir(), 'sb-build-if-stale-'));
const marker = join(scratch, 'built');
const main = join(scratch, 'dist/cli/main.js');
const source = join(scratch, 'src/index.ts');

mkdirSync(join(scratch, 'scripts'));
mkdirSync(join(scratch, 'src'));
copyFileSync(join(ROOT, 'scripts/build-if-stale.mjs'), join(scratch, 'scripts/build-if-stale.mjs'));
const build = [
  "const fs = require('node:fs');",
  "fs.mkdirSync('dist/cli', { recursive: true });",
  "fs.writeFileSync('dist/cli/main.js', '');",
  "fs.writeFileSync('built', '');",
].join(' ');
writeFileSync(
  join(scratch, 'package.json'),
  JSON.stringify({ name: 'scratch', private: true, scripts: { build: `node -e "${build}"` } }),
);
writeFileSync(source, 'export {};\n');

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** Runs the prestart script; returns whether it built and what it said. */
function prestart(): { built: boolean; stderr: string; status: number | null } {
  rmSync(marker, { force: true });
  const run = spawnSync(process.execPath, ['scripts/build-if-stale.mjs'], {
    cwd: scratch,
    encoding: 'utf8',
    timeout: 30_000,
  });
  return { built: existsSync(marker), stderr: run.stderr, status: run.status };
}

/** Sets a file's modification time, seconds since the epoch. */
function touch(path: string, seconds: number): void {
  utimesSync(path, seconds, seconds);
}

describe('scripts/build-if-stale.mjs (npm start builds a missing or stale dist/)', () => {
  it('builds when dist/ is missing', () => {
    const run = prestart();
    expect(run).toMatchObject({ built: true, status: 0 });
    expect(run.stderr).toContain('dist/ is missing: building it first (npm run build)');
  });

  it('does nothing when dist/ is newer than every source', () => {
    touch(join(scratch, 'package.json'), 1_000_000);
    touch(source, 1_000_000);
    touch(main, 2_000_000);
    expect(prestart()).toMatchObject({ built: false, status: 0, stderr: '' });
  });

  it('builds again when a source changed after dist/ was built', () => {
    touch(main, 2_000_000);
    touch(source, 3_000_000);
    const run = prestart();
    expect(run).toMatchObject({ built: true, status: 0 });
    expect(run.stderr).toContain('src changed since dist/ was built: building it first');
  });

  it('builds again when package.json changed after dist/ was built', () => {
    touch(source, 1_000_000);
    touch(main, 2_000_000);
    touch(join(scratch, 'package.json'), 3_000_000);
    expect(prestart()).toMatchObject({ built: true, status: 0 });
  });
});
