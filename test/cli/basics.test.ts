/**
 * The CLI shell: --help on every command, --version, usage errors (exit 2,
 * naming the flag), and docs/CLI.md agreeing with --help.
 */
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { CLI_TEST_TIMEOUT_MS, killAll, runCli, startCli } from './cli-process.js';

// Spawning under load can take many seconds; cli-process.ts deadlines catch hangs.
vi.setConfig({ testTimeout: CLI_TEST_TIMEOUT_MS, hookTimeout: CLI_TEST_TIMEOUT_MS });

const COMMANDS = [
  'serve',
  'connect',
  'send',
  'decode',
  'encode',
  'pack',
  'unpack',
  'iter-unpack',
  'calcsize',
  'proxy',
  'replay',
  'bench',
];
const DOCS = readFileSync(new URL('../../docs/CLI.md', import.meta.url), 'utf8');

afterEach(killAll);

/** The flags (`--name`) a help text or doc section lists in its option rows. */
function helpFlags(help: string): Set<string> {
  const options = help.slice(
    help.indexOf('Options:'),
    help.indexOf('Examples:') === -1 ? undefined : help.indexOf('Examples:'),
  );
  return new Set(options.match(/--[a-z][a-z-]*/g) ?? []);
}

/** The section of docs/CLI.md for one command: from its `## switchboard NAME` heading to the next `## `. */
function docSection(name: string): string {
  const start = DOCS.indexOf(`## switchboard ${name}\n`);
  expect(start, `docs/CLI.md has a "## switchboard ${name}" section`).toBeGreaterThanOrEqual(0);
  const end = DOCS.indexOf('\n## ', start + 1);
  return DOCS.slice(start, end === -1 ? undefined : end);
}

/** Flags in the section's flag table: rows that start with `| \`--flag` (or `| \`-x, --flag`). */
function docTableFlags(section: string): Set<string> {
  const flags = new Set<string>();
  for (const line of section.split('\n')) {
    const match = /^\| `(?:-[a-zA-Z], )?(--[a-z][a-z-]*)/.exec(line);
    if (match?.[1] !== undefined) {
      flags.add(match[1]);
    }
  }
  return flags;
}

describe('switchboard CLI basics', () => {
  it('--version prints the package.json version', async () => {
    const manifest = JSON.parse(
      readFileSync(new URL('../../package.json', import.meta.url), 'utf8'),
    );
    const result = await runCli(['--version']);
    expect(result.code).toBe(0);
    expect(result.stdout.toString().trim()).toBe(manifest.version);
  });

  it('--help lists every command; no arguments is a usage error', async () => {
    const [help, none] = await Promise.all([runCli(['--help']), runCli([])]);
    expect(help.code).toBe(0);
    for (const name of COMMANDS) {
      expect(help.stdout.toString()).toContain(`  ${name} `);
    }
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('Usage: switchboard');
  });

  it('every command has --help, and docs/CLI.md documents exactly its flags', async () => {
    const results = await Promise.all(COMMANDS.map((name) => runCli([name, '--help'])));
    results.forEach((result, index) => {
      const name = COMMANDS[index] as string;
      expect(result.code, `${name} --help`).toBe(0);
      const help = result.stdout.toString();
      expect(help).toContain(`Usage: switchboard ${name}`);
      const inHelp = helpFlags(help);
      const section = docSection(name);
      const inDocs = docTableFlags(section);
      for (const flag of inHelp) {
        expect(section, `docs/CLI.md section "${name}" mentions ${flag}`).toContain(flag);
        if (flag !== '--help') {
          expect(inDocs.has(flag), `docs/CLI.md flag table of "${name}" has ${flag}`).toBe(true);
        }
      }
      for (const flag of inDocs) {
        expect(inHelp.has(flag), `${name} --help lists ${flag} (documented in docs/CLI.md)`).toBe(
          true,
        );
      }
    });
  });

  it('usage errors exit 2 and name the flag or the command', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['frobnicate'], /unknown command 'frobnicate'/],
      [['decode', '--framing', 'line', '--bogus'], /decode: unknown option '--bogus'/],
      [
        ['decode'],
        /decode: --framing is required: .*\(e\.g\. --framing line for what nc types, or --framing length:u32be; every spec: switchboard decode --help\)/,
      ],
      [['connect', '127.0.0.1:1'], /connect: --framing is required: .*--framing line/],
      [['serve', '--mode', 'chat'], /serve: --framing is required: .*switchboard serve --help/],
      [['decode', '--framing'], /decode: option --framing needs a value/],
      [
        ['decode', '--framing', 'line', '--output', 'xml'],
        /--output must be one of text\|hex\|json/,
      ],
      [
        ['decode', '--framing', 'line', '--max-frame', 'lots'],
        // --max-frame takes 1 and up: "non-negative" would send the next try to 0.
        /--max-frame must be an integer >= 1 \(bytes; k\/m\/g suffixes allowed\), got 'lots'/,
      ],
      [
        ['decode', '--framing', 'line', '--max-frame', '-1'],
        /decode: option --max-frame cannot be negative, got '-1'/,
      ],
      [['decode', '--framing', 'nonsense'], /SB_BAD_FRAMING_SPEC/],
      [['decode', '--framing', 'line', 'a', 'b'], /unexpected argument 'b'/],
      [['send', '--framing', 'line'], /send: missing ADDR/],
      [['serve', '--framing', 'line', '--mode', 'echo', '--idle-timeout', '-1'], /--idle-timeout/],
      [
        ['decode', '--framing', 'line', '--max-frame', '0'],
        /--max-frame must be >= 1 .*leave it out for the framing's default/,
      ],
      [
        ['serve', '--framing', 'line', '--max-queued-output', '0'],
        /--max-queued-output must be >= 1/,
      ],
      [
        ['serve', '--framing', 'line', '--worker-heartbeat-interval', '100'],
        /--worker-heartbeat-interval applies to --dispatch processes/,
      ],
      [['proxy', '--target', '127.0.0.1:1', '--max-frame', '1k'], /--max-frame needs --framing/],
      [['pack'], /pack: missing FORMAT/],
      [['pack', '<h', '--bogus', '1'], /pack: unknown option '--bogus'/],
      [['unpack'], /unpack: missing FORMAT/],
      [['bench', '--framing', 'line'], /bench: give ADDR or --self/],
    ];
    const results = await Promise.all(cases.map(([args]) => runCli(args)));
    results.forEach((result, index) => {
      const [args, pattern] = cases[index] as [string[], RegExp];
      expect(result.code, `switchboard ${args.join(' ')}: ${result.stderr}`).toBe(2);
      expect(result.stderr).toMatch(/^switchboard: SB_[A-Z_]+: /);
      expect(result.stderr).toMatch(pattern);
      expect(result.stdout.length).toBe(0);
    });
  });

  it('a missing input file is a usage error naming the file', async () => {
    const result = await runCli(['decode', '--framing', 'line', '/nonexistent/input.bin']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/cannot read input file '\/nonexistent\/input.bin' \(ENOENT\)/);
  });

  it('an input file that opens but cannot be read (a directory) is a usage error too', async () => {
    // open() of a directory succeeds; the first read fails with EISDIR, which was
    // reported as SB_NETWORK_ERROR, exit 3.
    const directory = new URL('.', import.meta.url).pathname;
    const results = await Promise.all(
      ['decode', 'encode'].map((command) => runCli([command, '--framing', 'line', directory])),
    );
    const line = `switchboard: SB_INVALID_ARGUMENT: cannot read input file '${directory}' (EISDIR)`;
    // decode names the offset where input stopped, as for any error while decoding.
    expect(results.map((result) => [result.code, result.stderr])).toEqual([
      [2, `${line} (at byte 0)\n`],
      [2, `${line}\n`],
    ]);
  });

  it('SIGINT exits 130, promptly, even while waiting on stdin', async () => {
    const cli = startCli(['decode', '--framing', 'line']);
    cli.child.stdin?.write('first\n');
    await cli.waitForStdout((text) => text === 'first\n');
    const started = Date.now();
    cli.child.kill('SIGINT');
    expect(await cli.exited()).toEqual({ code: 130, signal: null });
    expect(Date.now() - started).toBeLessThan(3000);
  });
});
