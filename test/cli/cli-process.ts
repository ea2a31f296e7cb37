/**
 * Black-box helpers: run the built CLI (`node dist/cli/main.js`) as a child
 * process. Every spawn has a deadline and every long-running child is tracked
 * so `killAll()` (in afterEach) can end it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** Absolute path of the built CLI entry point. */
export const CLI = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

/** What a finished CLI run produced. */
export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: string;
}

const running = new Set<ChildProcess>();

/**
 * Deadline of every wait on a child (run to completion, first output, exit). Generous:
 * a node start costs ~100 ms idle but took over 10 s on the shared 2-core machine under
 * load, and a deadline only has to catch hangs. Test files that spawn set their vitest
 * timeout to {@link CLI_TEST_TIMEOUT_MS} so that this error, with the child's stderr,
 * is what a hang reports.
 */
export const SPAWN_DEADLINE_MS = 60_000;

/** The vitest timeout for tests that spawn the CLI: a few deadlines in a row. */
export const CLI_TEST_TIMEOUT_MS = 3 * SPAWN_DEADLINE_MS;

/**
 * Runs `switchboard ...args` to completion with `input` on stdin (stdin closed
 * when absent). Kills the child and rejects after `timeoutMs`.
 */
export function runCli(
  args: readonly string[],
  options: { input?: Uint8Array | string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<CliResult> {
  const timeoutMs = options.timeoutMs ?? SPAWN_DEADLINE_MS;
  const child = spawn(process.execPath, [CLI, ...args], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, ...options.env },
  });
  running.add(child);
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
  child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
  child.stdin.on('error', () => {});
  child.stdin.end(options.input ?? '');
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(
          `switchboard ${args.join(' ')} did not finish in ${timeoutMs} ms; stderr: ${Buffer.concat(stderr).toString()}`,
        ),
      );
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      running.delete(child);
      resolve({
        code,
        signal,
        stdout: Buffer.concat(stdout),
        stderr: Buffer.concat(stderr).toString(),
      });
    });
  });
}

/** A long-running CLI child (serve, proxy, connect) whose output is collected as it comes. */
export interface LiveCli {
  readonly child: ChildProcess;
  /** Everything read from stdout so far. */
  stdout(): string;
  /** Everything read from stderr so far. */
  stderr(): string;
  /** Resolves with stdout once `predicate(stdout)` holds; rejects after `timeoutMs`. */
  waitForStdout(predicate: (text: string) => boolean, timeoutMs?: number): Promise<string>;
  /** Resolves with stderr once `predicate(stderr)` holds; rejects after `timeoutMs`. */
  waitForStderr(predicate: (text: string) => boolean, timeoutMs?: number): Promise<string>;
  /** Resolves once the child exits; rejects (and kills it) after `timeoutMs`. */
  exited(timeoutMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts `switchboard ...args` and returns at once; see {@link LiveCli}. */
export function startCli(args: readonly string[]): LiveCli {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  running.add(child);
  let out = '';
  let err = '';
  const listeners = new Set<() => void>();
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  const notify = (): void => {
    for (const listener of listeners) {
      listener();
    }
  };
  child.stdout.on('data', (chunk: string) => {
    out += chunk;
    notify();
  });
  child.stderr.on('data', (chunk: string) => {
    err += chunk;
    notify();
  });
  child.stdin.on('error', () => {});
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('close', (code, signal) => {
      running.delete(child);
      resolve({ code, signal });
      notify();
    });
  });
  /** Resolves with the stream's text once `predicate` holds; rejects on exit or after `timeoutMs`. */
  const waitFor = (
    name: string,
    text: () => string,
    predicate: (text: string) => boolean,
    timeoutMs = SPAWN_DEADLINE_MS,
  ): Promise<string> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        if (predicate(text())) {
          cleanup();
          resolve(text());
        } else if (child.exitCode !== null || child.signalCode !== null) {
          cleanup();
          reject(new Error(`switchboard ${args.join(' ')} exited; stdout: ${out}; stderr: ${err}`));
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(
          new Error(
            `timed out waiting for ${name} of switchboard ${args.join(' ')}; stdout: ${out}; stderr: ${err}`,
          ),
        );
      }, timeoutMs);
      const cleanup = (): void => {
        clearTimeout(timer);
        listeners.delete(check);
      };
      listeners.add(check);
      check();
    });
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    waitForStdout: (predicate, timeoutMs) => waitFor('stdout', () => out, predicate, timeoutMs),
    waitForStderr: (predicate, timeoutMs) => waitFor('stderr', () => err, predicate, timeoutMs),
    exited(timeoutMs = SPAWN_DEADLINE_MS) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          child.kill('SIGKILL');
          reject(
            new Error(
              `switchboard ${args.join(' ')} did not exit in ${timeoutMs} ms; stderr: ${err}`,
            ),
          );
        }, timeoutMs);
        void exit.then((result) => {
          clearTimeout(timer);
          resolve(result);
        });
      });
    },
  };
}

/** Starts `switchboard serve ...` and resolves with the child and its `host:port` from the first line. */
export async function startServe(
  args: readonly string[],
): Promise<{ cli: LiveCli; address: string; port: number; firstLine: string }> {
  const cli = startCli(['serve', ...args]);
  const out = await cli.waitForStdout((text) => text.includes('\n'));
  const firstLine = out.slice(0, out.indexOf('\n'));
  const match = /^listening on [a-z]+:\/\/(.*):(\d+)$/.exec(firstLine);
  if (match === null) {
    throw new Error(`unexpected first line from serve: ${firstLine}`);
  }
  return { cli, address: `${match[1]}:${match[2]}`, port: Number(match[2]), firstLine };
}

/**
 * `switchboard serve --listen 127.0.0.1:0 --framing FRAMING --mode MODE ...extra`: the
 * server most tests talk to. See {@link startServe}.
 */
export function startLocalServe(
  framing: string,
  mode: string,
  extra: readonly string[] = [],
): ReturnType<typeof startServe> {
  return startServe(['--listen', '127.0.0.1:0', '--framing', framing, '--mode', mode, ...extra]);
}

/**
 * Starts `switchboard proxy --listen 127.0.0.1:0 ...args` and resolves with the child and
 * the `host:port` it listens on (its first stdout line, `listening on tcp://HOST:PORT`).
 */
export async function startProxy(
  args: readonly string[],
): Promise<{ cli: LiveCli; address: string }> {
  const cli = startCli(['proxy', '--listen', '127.0.0.1:0', ...args]);
  const out = await cli.waitForStdout((text) => text.includes('\n'));
  const match = /^listening on tcp:\/\/(127\.0\.0\.1:\d+)\n/.exec(out);
  if (match === null) {
    throw new Error(`unexpected first line from proxy: ${out}`);
  }
  return { cli, address: match[1]! };
}

/** The `--json` events a serve child printed on stderr, one object per line. */
export function jsonEvents(cli: LiveCli): Array<Record<string, unknown> & { event: string }> {
  return cli
    .stderr()
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Record<string, unknown> & { event: string });
}

/** Kills every child still running (call in afterEach). */
export function killAll(): void {
  for (const child of running) {
    child.kill('SIGKILL');
  }
  running.clear();
}
