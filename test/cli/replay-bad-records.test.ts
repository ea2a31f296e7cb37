/**
 * `switchboard replay` on a recording whose payload the framing refuses (an edited or
 * foreign file): a data error naming the line (SB_BAD_INPUT_RECORD, exit 1), as
 * `encode` reports one, never the encoder's caller-fault SB_INVALID_ARGUMENT (exit 2).
 * Black-box against dist/ (run `npm run build` first).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CLI_TEST_TIMEOUT_MS, killAll, runCli, startLocalServe } from './cli-process.js';

const dirs: string[] = [];
afterEach(() => {
  killAll();
  for (const dir of dirs.splice(0)) {
    rmSync(dir, { recursive: true, force: true });
  }
});

function recording(framing: string, hexes: string[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'sb-replay-'));
  dirs.push(dir);
  const file = join(dir, 'session.jsonl');
  const lines = [
    JSON.stringify({ type: 'switchboard-record', framing }),
    ...hexes.map((hex, index) => JSON.stringify({ conn: 1, t: index, dir: '->', hex })),
  ];
  writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

describe('replay of a payload its framing refuses', () => {
  it(
    'is SB_BAD_INPUT_RECORD naming the line, exit 1',
    async () => {
      const { address } = await startLocalServe('line', 'echo');
      // Line 3 holds "a\nb": the line framing cannot write a payload with its delimiter.
      const file = recording('line', ['6f6b', '610a62']);
      const result = await runCli(['replay', file, '--target', address, '--fast']);
      expect(result.stderr).toContain('SB_BAD_INPUT_RECORD');
      expect(result.stderr).toContain('line 3');
      expect(result.stderr).not.toContain('SB_INVALID_ARGUMENT');
      expect(result.code).toBe(1);
    },
    CLI_TEST_TIMEOUT_MS,
  );
});
