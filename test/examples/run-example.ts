/**
 * Runs one example program the way its header comment tells a user to
 * (`npx tsx examples/NAME.ts` is the same as `node --import tsx examples/NAME.ts`),
 * with a hard deadline, and collects its output. Every child is tracked so a
 * test's afterEach can kill what is left.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The repository root (examples run with it as their working directory). */
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** What an example printed and how it ended. */
export interface ExampleRun {
  /** Exit code, or null when killed by a signal. */
  code: number | null;
  signal: NodeJS.Signals | null;
  /** stdout split into lines, the final empty line removed. */
  lines: string[];
  stderr: string;
  /** Wall time, ms. */
  elapsed: number;
  /** True when the deadline killed it. */
  timedOut: boolean;
}

const running = new Set<ChildProcess>();

/** Runs `examples/<file>` with `args`; kills it with SIGKILL after `deadline` ms. */
export function runExample(
  file: string,
  args: readonly string[] = [],
  deadline = 20_000,
): Promise<ExampleRun> {
  return runProgram(`examples/${file}`, deadline, args);
}

/** Runs the TypeScript program at `path` (relative to the root) with tsx, as runExample does. */
export function runProgram(
  path: string,
  deadline = 20_000,
  args: readonly string[] = [],
): Promise<ExampleRun> {
  const started = Date.now();
  const child = spawn(process.execPath, ['--import', 'tsx', path, ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NODE_NO_WARNINGS: undefined, FORCE_COLOR: '0' },
  });
  running.add(child);
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  child.stdout?.on('data', (chunk: Buffer) => stdout.push(chunk));
  child.stderr?.on('data', (chunk: Buffer) => stderr.push(chunk));
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, deadline);
  return new Promise((resolve, reject) => {
    child.on('error', (error) => {
      clearTimeout(timer);
      running.delete(child);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      running.delete(child);
      const text = Buffer.concat(stdout).toString('utf8');
      const lines = text.split('\n');
      if (lines.at(-1) === '') {
        lines.pop();
      }
      resolve({
        code,
        signal,
        lines,
        stderr: Buffer.concat(stderr).toString('utf8'),
        elapsed: Date.now() - started,
        timedOut,
      });
    });
  });
}

/** Kills every example still running (for afterEach). */
export function killExamples(): void {
  for (const child of running) {
    child.kill('SIGKILL');
  }
  running.clear();
}
