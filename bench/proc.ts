/**
 * Child-process helpers for benchmark scenarios.
 *
 * Each side of a measurement (sender, receiver, server, load generator) runs in its own
 * Node process, so two event loops use the two cores, and one subject's JIT and GC state
 * cannot colour the next subject's figures. Children talk to the parent with single
 * lines on stdout: `READY <port>` when listening, `RESULT <json>` with the figures.
 * Every child is killed when the measurement ends, on success or failure.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** A running child process and its stdout lines. */
export interface Child {
  process: ChildProcess;
  /** Resolves with the first stdout line starting with `prefix` (prefix removed). */
  line(prefix: string, timeoutMs: number): Promise<string>;
  /** Everything the child wrote to stderr so far (for error notes). */
  stderr(): string;
  /** Resolves with the exit code once the child exits. */
  exited: Promise<number | null>;
  kill(): void;
}

/** The repository root: children run there, so `--import tsx` resolves from any cwd. */
const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Absolute path of a file next to this one in bench/. */
export function benchFile(name: string): string {
  return fileURLToPath(new URL(name, import.meta.url));
}

/** Options of {@link startChild}. */
export interface ChildOptions {
  /** Extra node flags, e.g. `--expose-gc`. */
  nodeArgs?: string[];
  /** Wrap in `bash -c 'ulimit -n N; exec node ...'` to raise the descriptor limit. */
  fileLimit?: number;
  /** Pin to these CPUs with `taskset -c` (when taskset exists), e.g. `'0'`. */
  cpus?: string;
}

let tasksetAvailable: boolean | undefined;

/** True when `taskset` can pin processes here (checked once). */
export function canPin(): boolean {
  if (tasksetAvailable === undefined) {
    tasksetAvailable = spawnSync('taskset', ['-c', '0', 'true'], { stdio: 'ignore' }).status === 0;
  }
  return tasksetAvailable;
}

/**
 * Starts `node --import tsx bench/<file> ...args` when `file` ends in `.ts`, otherwise
 * runs `file` as a command (e.g. `python3`).
 */
export function startChild(file: string, args: string[], options: ChildOptions = {}): Child {
  let command: string;
  let commandArgs: string[];
  if (file.endsWith('.ts')) {
    command = process.execPath;
    commandArgs = [...(options.nodeArgs ?? []), '--import', 'tsx', benchFile(file), ...args];
  } else {
    command = file;
    commandArgs = args;
  }
  if (options.cpus !== undefined && canPin()) {
    commandArgs = ['-c', options.cpus, command, ...commandArgs];
    command = 'taskset';
  }
  let child: ChildProcess;
  if (options.fileLimit !== undefined) {
    const quoted = [command, ...commandArgs].map((part) => `'${part.replaceAll("'", "'\\''")}'`);
    child = spawn(
      'bash',
      ['-c', `ulimit -n ${options.fileLimit} 2>/dev/null; exec ${quoted.join(' ')}`],
      { stdio: ['ignore', 'pipe', 'pipe'], detached: true, cwd: REPO_ROOT },
    );
  } else {
    // detached: the child leads its own process group, so kill() also ends whatever it
    // started (worker processes of a 'processes' dispatch server).
    child = spawn(command, commandArgs, {
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
      cwd: REPO_ROOT,
    });
  }
  const lines: string[] = [];
  const waiters: (() => void)[] = [];
  let stdoutRest = '';
  let stderrText = '';
  child.stdout?.setEncoding('utf8');
  child.stdout?.on('data', (text: string) => {
    const parts = (stdoutRest + text).split('\n');
    stdoutRest = parts.pop() ?? '';
    lines.push(...parts);
    for (const waiter of waiters.splice(0)) {
      waiter();
    }
  });
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (text: string) => {
    // Keep the tail only: a noisy child must not grow the parent's memory.
    stderrText = (stderrText + text).slice(-4000);
  });
  const exited = new Promise<number | null>((resolve) => {
    child.on('exit', (code) => {
      for (const waiter of waiters.splice(0)) {
        waiter();
      }
      resolve(code);
    });
    child.on('error', () => resolve(null));
  });
  let exitedFlag = false;
  void exited.then(() => {
    exitedFlag = true;
  });
  const line = (prefix: string, timeoutMs: number): Promise<string> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`${file}: no "${prefix}" line within ${timeoutMs} ms${tail(stderrText)}`));
      }, timeoutMs);
      const check = (): void => {
        const found = lines.find((candidate) => candidate.startsWith(prefix));
        if (found !== undefined) {
          clearTimeout(timer);
          resolve(found.slice(prefix.length).trim());
          return;
        }
        if (exitedFlag || child.exitCode !== null) {
          clearTimeout(timer);
          reject(
            new Error(`${file} exited (${child.exitCode}) before "${prefix}"${tail(stderrText)}`),
          );
          return;
        }
        waiters.push(check);
      };
      check();
    });
  return {
    process: child,
    line,
    stderr: () => stderrText,
    exited,
    kill: () => {
      if (child.pid === undefined) {
        return;
      }
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // The group is gone already.
      }
    },
  };
}

function tail(stderrText: string): string {
  const trimmed = stderrText.trim();
  if (trimmed.length === 0) {
    return '';
  }
  const lastLines = trimmed.split('\n').slice(-3).join(' | ');
  return `: ${lastLines.slice(0, 400)}`;
}

/** Runs `body` with the children it starts, killing all of them afterwards. */
export async function withChildren<T>(body: (start: typeof startChild) => Promise<T>): Promise<T> {
  const started: Child[] = [];
  const start: typeof startChild = (file, args, options) => {
    const child = startChild(file, args, options);
    started.push(child);
    return child;
  };
  try {
    return await body(start);
  } finally {
    for (const child of started) {
      child.kill();
    }
    await Promise.all(started.map((child) => child.exited));
  }
}

/**
 * In a child: exit when the parent (the bench runner) goes away, so a crashed run
 * leaves no detached children behind. Checked once a second; the timer does not keep
 * the process alive.
 */
export function exitWithParent(): void {
  const parent = process.ppid;
  const timer = setInterval(() => {
    if (process.ppid !== parent) {
      process.exit(0);
    }
  }, 1000);
  timer.unref();
}

/** In a child: prints the result line the parent waits for. */
export function reportResult(result: unknown): void {
  process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
}

/** In a child: prints the ready line with the listening port. */
export function reportReady(port: number): void {
  process.stdout.write(`READY ${port}\n`);
}

/** True when `command` runs (e.g. `python3 --version`). */
export async function commandExists(
  command: string,
  args: string[] = ['--version'],
): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = spawn(command, args, { stdio: 'ignore' });
    probe.on('error', () => resolve(false));
    probe.on('exit', (code) => resolve(code === 0));
  });
}

/** Percentile (0..100) of an ascending-sorted array, nearest rank. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) {
    return Number.NaN;
  }
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}
