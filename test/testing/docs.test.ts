/**
 * docs/TESTING.md's example is a real program: this test extracts it, points its
 * 'switchboard/testing' import at the source tree, runs it with tsx and compares its
 * output with the "Prints:" block that follows it.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
let directory: string | undefined;

afterEach(() => {
  if (directory !== undefined) {
    rmSync(directory, { recursive: true, force: true });
    directory = undefined;
  }
});

function exampleFromDocs(): { program: string; expected: string } {
  const markdown = readFileSync(join(ROOT, 'docs/TESTING.md'), 'utf8');
  const section = markdown.slice(markdown.indexOf('## Example'));
  const program = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
  const expected = /Prints:\n\n```\n([\s\S]*?)```/.exec(section)?.[1];
  if (program === undefined || expected === undefined) {
    throw new Error('docs/TESTING.md: the Example section lost its ts block or its Prints block');
  }
  return { program, expected };
}

describe('docs/TESTING.md', () => {
  it('the example runs and prints what the docs say', async () => {
    const { program, expected } = exampleFromDocs();
    const testingEntry = pathToFileURL(join(ROOT, 'src/testing/index.ts')).href;
    directory = mkdtempSync(join(tmpdir(), 'sb-docs-'));
    const file = join(directory, 'example.mts');
    writeFileSync(file, program.replace("'switchboard/testing'", `'${testingEntry}'`));
    const stdout = await new Promise<string>((resolve, reject) => {
      execFile(
        process.execPath,
        ['--import', 'tsx', file],
        { cwd: ROOT, timeout: 20_000 },
        (error, out, err) => (error ? reject(new Error(`${error.message}\n${err}`)) : resolve(out)),
      );
    });
    expect(stdout).toBe(expected);
  });
});
