/**
 * The published package works from another directory: `npm pack` the built
 * package, unpack it into a temp project's node_modules, and import it by name
 * ("switchboard" and "switchboard/testing") and run its bin.
 *
 * No registry is touched: the temp project's other dependencies are links to
 * this checkout's node_modules. `npm test` builds dist/ before the tests run.
 */
import { execFileSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = new URL('..', import.meta.url).pathname;
describe('the packed package', () => {
  let project = '';

  beforeAll(() => {
    if (!existsSync(join(ROOT, 'dist', 'index.js'))) {
      throw new Error('dist/ is missing: run `npm run build` (npm test does it first)');
    }
    project = mkdtempSync(join(tmpdir(), 'sb-package-'));
    const packed = execFileSync(
      'npm',
      ['pack', '--ignore-scripts', '--json', '--pack-destination', project],
      { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 60_000 },
    );
    const [{ filename }] = JSON.parse(packed) as [{ filename: string }];
    const modules = join(project, 'node_modules');
    const target = join(modules, 'switchboard');
    mkdirSync(target, { recursive: true });
    execFileSync('tar', ['-xzf', join(project, filename), '-C', target, '--strip-components=1'], {
      timeout: 60_000,
    });
    for (const entry of readdirSync(join(ROOT, 'node_modules'))) {
      if (entry !== 'switchboard' && !entry.startsWith('.')) {
        symlinkSync(join(ROOT, 'node_modules', entry), join(modules, entry));
      }
    }
    writeFileSync(
      join(project, 'package.json'),
      '{"name":"consumer","type":"module","private":true}',
    );
  }, 120_000);

  afterAll(() => {
    if (project !== '') {
      rmSync(project, { recursive: true, force: true });
    }
  });

  function run(script: string): string {
    writeFileSync(join(project, 'main.js'), script);
    return execFileSync(process.execPath, ['main.js'], {
      cwd: project,
      encoding: 'utf8',
      timeout: 30_000,
    }).trim();
  }

  it('imports "switchboard" by name and packs/frames as documented', () => {
    const output = run(`
      import { pack, parseFraming, NEED_DATA, ERROR_CODES } from 'switchboard';
      const framing = parseFraming('length:u16be');
      const decoder = framing.createDecoder();
      for (const chunk of framing.createEncoder().encode(new TextEncoder().encode('hi'))) decoder.push(chunk);
      const frame = decoder.next();
      console.log(Buffer.from(pack('!HI', 1, 2)).toString('hex'), frame === NEED_DATA ? 'need' : new TextDecoder().decode(frame), 'SB_FRAME_TOO_LARGE' in ERROR_CODES);
    `);
    expect(output).toBe('000100000002 hi true');
  });

  it('imports "switchboard/testing"', () => {
    expect(
      run(
        `import { FaultProxy } from 'switchboard/testing'; console.log(typeof FaultProxy.start);`,
      ),
    ).toBe('function');
  });

  it('ships the bin, the docs and no test files', () => {
    const version = execFileSync(
      process.execPath,
      [join(project, 'node_modules/switchboard/dist/cli/main.js'), '--version'],
      { encoding: 'utf8', timeout: 30_000 },
    ).trim();
    expect(version).toMatch(/\d+\.\d+\.\d+/);
    expect(existsSync(join(project, 'node_modules/switchboard/docs/ERRORS.md'))).toBe(true);
    expect(existsSync(join(project, 'node_modules/switchboard/test'))).toBe(false);
    expect(existsSync(join(project, 'node_modules/switchboard/src'))).toBe(false);
  });
});
