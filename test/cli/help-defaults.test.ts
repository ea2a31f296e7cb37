/**
 * The `--help` text states defaults from DEFAULTS (src/options.ts), not copies of
 * them (#16): with every default the help mentions changed to an odd value, the help
 * shows the changed values and none of the real ones. In-process (src/, no dist).
 */
import { describe, expect, it, vi } from 'vitest';

const KiB = 1024;
const MiB = 1024 * KiB;

/** Every default a help text states, moved to a value no help text would hold by chance. */
const CHANGED = {
  maxFrame: 3 * MiB,
  maxLineFrame: 5 * KiB,
  serverIdleTimeout: 123_457,
  serverFrameTimeout: 23_457,
  writeTimeout: 33_457,
  maxQueuedOutput: 7 * MiB,
  maxBufferedInputTotal: 99 * MiB,
  maxBufferedOutputTotal: 97 * MiB,
  maxConnections: 4321,
  maxConnectionsPerIp: 17,
  backlog: 77,
  closeTimeout: 4567,
  workerHeartbeatInterval: 1234,
  workerHeartbeatMaxMissed: 9,
  workerUnresponsiveTimeout: 5678,
  host: '127.0.0.9',
};

vi.mock('../../src/options.js', async (importOriginal) => {
  const actual = await importOriginal<typeof import('../../src/options.js')>();
  return { ...actual, DEFAULTS: Object.freeze({ ...actual.DEFAULTS, ...CHANGED }) };
});

const { formatHelp } = await import('../../src/cli/args.js');
const { DEFAULTS: REAL } =
  await vi.importActual<typeof import('../../src/options.js')>('../../src/options.js');

/** The Options section of a command's help (examples may name any address). */
async function optionsOf(name: string): Promise<string> {
  const { command } = (await import(`../../src/cli/${name}.ts`)) as {
    command: Parameters<typeof formatHelp>[0];
  };
  const help = formatHelp(command);
  const end = help.indexOf('Examples:');
  return help.slice(help.indexOf('Options:'), end === -1 ? undefined : end);
}

/** The help row of `--flag`. */
function row(options: string, flag: string): string {
  const line = options.split('\n').find((text) => text.includes(`--${flag} `));
  expect(line, `a help row for --${flag}`).toBeDefined();
  return line as string;
}

describe('help text defaults come from DEFAULTS', () => {
  it('serve: every limit, timeout and worker flag shows the DEFAULTS value', async () => {
    const options = await optionsOf('serve');
    const expected: Array<[string, string]> = [
      ['listen', `default 127.0.0.9:7070`],
      ['max-frame', 'default 3 MiB; line/delim 5 KiB'],
      ['max-connections', 'default 4321'],
      ['max-connections-per-ip', 'default 17'],
      ['idle-timeout', 'default 123457'],
      ['frame-timeout', 'default 23457'],
      ['write-timeout', 'default 33457'],
      ['max-queued-output', 'default 7 MiB'],
      ['max-buffered-input-total', 'default 99 MiB'],
      ['max-buffered-output-total', 'default 97 MiB'],
      ['backlog', 'default 77'],
      ['close-timeout', 'default 4567'],
      ['worker-heartbeat-interval', 'leaves 9 in a row unanswered'],
      ['worker-heartbeat-interval', 'default 1234'],
      ['worker-unresponsive-timeout', 'default 5678'],
    ];
    for (const [flag, text] of expected) {
      expect(row(options, flag)).toContain(text);
    }
  });

  it('--max-frame of every framing command shows the DEFAULTS sizes', async () => {
    for (const name of ['decode', 'encode', 'connect', 'send', 'proxy']) {
      expect(row(await optionsOf(name), 'max-frame'), name).toContain(
        'default 3 MiB; line/delim 5 KiB',
      );
    }
    expect(row(await optionsOf('proxy'), 'listen')).toContain('default 127.0.0.9:0');
  });

  it('no help states a real default that DEFAULTS no longer holds', async () => {
    const stale = [
      `default ${REAL.serverIdleTimeout}`,
      `default ${REAL.serverFrameTimeout}`,
      `default ${REAL.closeTimeout}`,
      `default ${REAL.maxConnections}`,
      `default ${REAL.backlog}`,
      '8 MiB',
      '64 KiB',
      '16 MiB',
      '256 MiB',
      '256m',
      `default ${REAL.host}`,
    ];
    for (const name of [
      'serve',
      'connect',
      'send',
      'decode',
      'encode',
      'proxy',
      'replay',
      'bench',
    ]) {
      const options = await optionsOf(name);
      for (const text of stale) {
        expect(options, `${name} --help`).not.toContain(text);
      }
    }
  });
});
