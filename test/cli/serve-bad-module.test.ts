/**
 * `serve -m FILE` where FILE is not a handler module: a usage error (SB_BAD_OPTION,
 * exit 2) saying what was expected, the same under every dispatch model. Before, the
 * loop model printed SB_INTERNAL with a stack trace, and a processes worker could die
 * of an uncaught ERR_IPC_DISCONNECTED on its way out.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { CLI_TEST_TIMEOUT_MS, killAll, runCli } from './cli-process.js';

vi.setConfig({ testTimeout: CLI_TEST_TIMEOUT_MS, hookTimeout: CLI_TEST_TIMEOUT_MS });

afterEach(killAll);

const directory = mkdtempSync(join(tmpdir(), 'switchboard-bad-module-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

function fixture(name: string, text: string): string {
  const path = join(directory, name);
  writeFileSync(path, text);
  return path;
}

const json = fixture('handler.json', '{"echo": true}\n');
const noDefault = fixture('no-default.mjs', 'export const handle = () => {};\n');
const broken = fixture('broken.mjs', 'this is not javascript(\n');

function serve(module: string, dispatch: string): ReturnType<typeof runCli> {
  return runCli([
    'serve',
    '--listen',
    '127.0.0.1:0',
    '--framing',
    'line',
    '-m',
    module,
    '--dispatch',
    dispatch,
    '--workers',
    '1',
  ]);
}

describe('serve -m with a file that is not a handler module', () => {
  for (const dispatch of ['loop', 'threads', 'processes']) {
    it(`--dispatch ${dispatch}: a usage error naming the file and what was expected`, async () => {
      const [notCode, nothing, failing] = await Promise.all([
        serve(json, dispatch),
        serve(noDefault, dispatch),
        serve(broken, dispatch),
      ]);
      for (const result of [notCode, nothing, failing]) {
        expect(result.stderr).not.toMatch(/SB_INTERNAL|ERR_IPC_DISCONNECTED|\n\s+at /);
      }
      expect(notCode.code).toBe(2);
      expect(notCode.stderr).toContain(`SB_BAD_OPTION: handler: ${JSON.stringify(json)}`);
      expect(notCode.stderr).toMatch(/is not a JavaScript module; expected a .* default export/);
      expect(nothing.code).toBe(2);
      expect(nothing.stderr).toContain(
        `SB_BAD_OPTION: handler: module ${JSON.stringify(noDefault)} has no default export (it exports handle); expected its default export to be a`,
      );
      // A module that throws while loading is the handler's failure, not a usage error.
      expect(failing.code).toBe(1);
      expect(failing.stderr).toContain(
        `SB_HANDLER_ERROR: handler: module ${JSON.stringify(broken)} failed to load: SyntaxError`,
      );
    });
  }
});
