/**
 * Every `@example` in the TSDoc of src/ is a complete program a user can paste: it is
 * type-checked against the public API (as `import ... from 'switchboard'`, with the
 * project's strict compiler options) and run to completion within a deadline, exiting
 * 0 with nothing on stderr. The main entry points must each carry one.
 *
 * The same holds for the ```ts blocks of README.md and docs/*.md that import the
 * package (complete programs, not fragments): each type-checks, and README's run, since
 * a newcomer pastes those first (docs' may need a peer such as nats-server).
 *
 * The examples are written to test/.tsdoc-examples/ (git-ignored) so that the
 * package's own name resolves there as it does for a user: tsconfig `paths` for the
 * type-check and tsx, the package's self-reference otherwise.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';
import { afterAll, describe, expect, it } from 'vitest';
import { killExamples, ROOT, runProgram } from './run-example.js';

/** Entry points whose TSDoc must show an example (issue #17). */
const MUST_HAVE_EXAMPLE = [
  'src/net/connect.ts:connect',
  'src/net/listener.ts:listen',
  'src/codec/spec.ts:parseFraming',
  'src/binary/struct.ts:pack',
  'src/binary/struct.ts:unpack',
  'src/binary/struct.ts:Struct',
  'src/net/select.ts:select',
  'src/codec/streams.ts:decodeStream',
  'src/codec/streams.ts:encodeStream',
  'src/codec/streams.ts:decode',
  'src/codec/streams.ts:encode',
  'src/net/node-streams.ts:decodeTransform',
  'src/net/node-streams.ts:encodeTransform',
  'src/testing/fault-proxy.ts:FaultProxy',
];

const OUT = join(ROOT, 'test/.tsdoc-examples');

interface TsdocExample {
  /** `src/net/connect.ts:connect#1`. */
  id: string;
  file: string;
  code: string;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      return sourceFiles(path);
    }
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

/** The TSDoc comment right above `export ... NAME`, or undefined. */
function docOf(text: string, name: string): string | undefined {
  const pattern = new RegExp(
    String.raw`/\*\*((?:(?!\*/)[\s\S])*)\*/\s*export (?:default )?(?:declare )?(?:async )?(?:function\*? |class |const |let |abstract class )${name}\b`,
  );
  return pattern.exec(text)?.[1];
}

/** Every ```ts block after an `@example` tag in the file's TSDoc comments. */
function examplesIn(path: string): TsdocExample[] {
  const text = readFileSync(path, 'utf8');
  const file = relative(ROOT, path);
  const found: TsdocExample[] = [];
  for (const comment of text.matchAll(/\/\*\*((?:(?!\*\/)[\s\S])*)\*\//g)) {
    const body = (comment[1] ?? '')
      .split('\n')
      .map((line) => line.replace(/^\s*\* ?/, ''))
      .join('\n');
    const owner =
      /\*\/\s*export (?:declare )?(?:async )?(?:function\*? |class |const |abstract class )(\w+)/.exec(
        text.slice((comment.index ?? 0) + comment[0].length - 2),
      )?.[1];
    for (const tag of body.split(/^@example\b/m).slice(1)) {
      const block = /```(?:ts|typescript)\n([\s\S]*?)```/.exec(tag.split(/^@\w+/m)[0] ?? '');
      if (block?.[1] !== undefined) {
        found.push({ id: `${file}:${owner ?? '?'}#${found.length + 1}`, file, code: block[1] });
      }
    }
  }
  return found;
}

/** The ```ts blocks of a Markdown file that import the package: complete programs. */
function markdownExamplesIn(file: string): TsdocExample[] {
  const text = readFileSync(join(ROOT, file), 'utf8');
  const found: TsdocExample[] = [];
  for (const block of text.matchAll(/```(?:ts|typescript)\n([\s\S]*?)```/g)) {
    const code = block[1] ?? '';
    if (/from 'switchboard(\/testing)?'/.test(code)) {
      const line = text.slice(0, block.index).split('\n').length;
      found.push({ id: `${file}:${line}`, file, code });
    }
  }
  return found;
}

const MARKDOWN_FILES = [
  'README.md',
  ...readdirSync(join(ROOT, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .map((name) => `docs/${name}`),
];
const MARKDOWN_EXAMPLES = MARKDOWN_FILES.flatMap(markdownExamplesIn);
const EXAMPLES = [...sourceFiles(join(ROOT, 'src')).flatMap(examplesIn), ...MARKDOWN_EXAMPLES];
/** What runs: every TSDoc example, and README's (docs' examples are type-checked only). */
const RUN = EXAMPLES.filter(
  (example) => !MARKDOWN_EXAMPLES.includes(example) || example.file === 'README.md',
);

function fileNameOf(example: TsdocExample): string {
  return `${example.id.replace(/[^a-zA-Z0-9]+/g, '-')}.ts`;
}

afterAll(() => {
  killExamples();
  rmSync(OUT, { recursive: true, force: true });
});

describe('TSDoc @examples', () => {
  it('each main entry point has an @example', () => {
    const missing = MUST_HAVE_EXAMPLE.filter((entry) => {
      const [file, name] = entry.split(':') as [string, string];
      const doc = docOf(readFileSync(join(ROOT, file), 'utf8'), name);
      return doc === undefined || !/@example\b[\s\S]*```ts/.test(doc);
    });
    expect(missing).toEqual([]);
  });

  it('README.md and docs/ show complete programs, found here', () => {
    expect(
      MARKDOWN_EXAMPLES.filter((example) => example.file === 'README.md').length,
    ).toBeGreaterThan(0);
  });

  it('every example imports the public API by its package name', () => {
    expect(EXAMPLES.length).toBeGreaterThanOrEqual(MUST_HAVE_EXAMPLE.length);
    for (const example of EXAMPLES) {
      expect(example.code, example.id).toMatch(/from 'switchboard(\/testing)?'/);
      expect(example.code, example.id).not.toMatch(/from '\.\.?\//);
    }
  });

  it('every example type-checks under the strict options', () => {
    rmSync(OUT, { recursive: true, force: true });
    mkdirSync(OUT, { recursive: true });
    const files = EXAMPLES.map((example) => {
      const path = join(OUT, fileNameOf(example));
      writeFileSync(path, `// ${example.id}\n${example.code}\nexport {};\n`);
      return path;
    });
    const config = ts.readConfigFile(join(ROOT, 'tsconfig.json'), ts.sys.readFile);
    const parsed = ts.parseJsonConfigFileContent(config.config, ts.sys, ROOT);
    const program = ts.createProgram(files, { ...parsed.options, noEmit: true });
    const problems = ts
      .getPreEmitDiagnostics(program)
      .filter(
        (diagnostic) => diagnostic.file === undefined || files.includes(diagnostic.file.fileName),
      )
      .map((diagnostic) => {
        const where =
          diagnostic.file === undefined
            ? ''
            : `${relative(ROOT, diagnostic.file.fileName)}:${diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start ?? 0).line}: `;
        return where + ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n');
      });
    expect(problems).toEqual([]);
  }, 120_000);

  for (const example of RUN) {
    it(`runs: ${example.id}`, async () => {
      mkdirSync(OUT, { recursive: true });
      const path = join(OUT, fileNameOf(example));
      writeFileSync(path, `// ${example.id}\n${example.code}\nexport {};\n`);
      const run = await runProgram(relative(ROOT, path), 20_000);
      expect(run.timedOut, `${example.id} finished within 20 s`).toBe(false);
      expect(run.stderr, example.id).toBe('');
      expect(run.code, example.id).toBe(0);
    }, 30_000);
  }
});
