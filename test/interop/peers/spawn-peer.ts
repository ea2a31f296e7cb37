/**
 * Process management for interop peers (the Python scripts next to this file,
 * socat): start a peer server and learn its port, run a peer client to completion
 * and parse its JSON-line replies, find a free port for tools that cannot listen
 * on port 0 and report it. Every child is tracked; {@link killPeers} (afterEach)
 * kills whatever is still running. Every wait has a deadline.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

/** Directory holding the peer scripts. */
export const PEERS_DIR = fileURLToPath(new URL('./', import.meta.url));
/** The python on PATH (plain socket and asyncio peers). */
export const PYTHON = process.env.SWITCHBOARD_PYTHON ?? 'python3';
/** Debian's python, which has python3-twisted (a pyenv python3 on PATH may not). */
export const TWISTED_PYTHON = process.env.SWITCHBOARD_TWISTED_PYTHON ?? '/usr/bin/python3';
/** socat. */
export const SOCAT = process.env.SWITCHBOARD_SOCAT ?? 'socat';

const running = new Set<ChildProcess>();

/** A peer server that has printed its port. */
export interface PeerServer {
  readonly port: number;
  readonly child: ChildProcess;
  /** Everything the server wrote to stderr so far (for failure messages). */
  stderr(): string;
}

/** One reply a peer client printed: `{"hex": ..., "text": ...}`. */
export interface PeerReply {
  hex: string;
  text: string;
}

/** How a peer client run ended. */
export interface PeerClientRun {
  code: number | null;
  stdout: string;
  /** stdout as raw bytes (socat carries binary frames). */
  stdoutBytes: Uint8Array;
  stderr: string;
  /** stdout parsed as JSON lines (only when every line is JSON). */
  replies: PeerReply[];
}

function track(child: ChildProcess): ChildProcess {
  running.add(child);
  child.on('close', () => running.delete(child));
  return child;
}

/** Options of {@link startPeerServer}. */
export interface StartPeerOptions {
  /** Ms to wait for the ready line. Default 10 000. */
  deadline?: number;
  /** The ready line; its first capture group is the port. Default: the peers' `listening PORT`. */
  ready?: RegExp;
  /** Which output carries the ready line. Default stdout. */
  readyOn?: 'stdout' | 'stderr';
  /** The port, when the caller chose it (socat); then `ready` needs no capture group. */
  port?: number;
}

/**
 * Spawns `command args` and resolves once its ready line appears, with the port from
 * the line's first capture group (or `options.port`). Rejects if the process exits
 * first (its stderr in the message, e.g. EADDRINUSE) or the deadline passes.
 */
export function startPeerServer(
  command: string,
  args: readonly string[],
  options: StartPeerOptions = {},
): Promise<PeerServer> {
  const deadline = options.deadline ?? 10_000;
  const ready = options.ready ?? /^listening (\d+)$/m;
  const child = track(spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: PEERS_DIR }));
  const output = { stdout: '', stderr: '' };
  return new Promise((resolve, reject) => {
    let settled = false;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      fail(
        new Error(
          `${command} ${args.join(' ')}: not ready after ${deadline} ms; stderr: ${output.stderr}`,
        ),
      );
    }, deadline);
    function fail(error: Error): void {
      clearTimeout(timer);
      if (!settled) {
        settled = true;
        reject(error);
      }
    }
    const onOutput = (stream: 'stdout' | 'stderr') => (chunk: Buffer) => {
      output[stream] += chunk.toString('utf8');
      if (settled || stream !== (options.readyOn ?? 'stdout')) {
        return;
      }
      const match = ready.exec(output[stream]);
      if (match !== null) {
        settled = true;
        clearTimeout(timer);
        resolve({
          port: options.port ?? Number(match[1] ?? 0),
          child,
          stderr: () => output.stderr,
        });
      }
    };
    child.stdout?.on('data', onOutput('stdout'));
    child.stderr?.on('data', onOutput('stderr'));
    child.on('error', fail);
    child.on('exit', (code) => {
      fail(
        new Error(
          `${command} ${args.join(' ')}: exited ${code} before ready; stderr: ${output.stderr}`,
        ),
      );
    });
  });
}

/** Runs a peer client to completion (SIGKILL after `deadline` ms) and parses its replies. */
export function runPeerClient(
  command: string,
  args: readonly string[],
  deadline = 15_000,
  stdin?: string | Uint8Array,
): Promise<PeerClientRun> {
  const child = track(
    spawn(command, args, {
      stdio: [stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      cwd: PEERS_DIR,
    }),
  );
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout?.on('data', (chunk: Buffer) => out.push(chunk));
  child.stderr?.on('data', (chunk: Buffer) => err.push(chunk));
  if (stdin !== undefined) {
    child.stdin?.end(stdin);
  }
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), deadline);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      const stdoutBytes = Buffer.concat(out);
      const stdout = stdoutBytes.toString('utf8');
      const lines = stdout.split('\n').filter((line) => line !== '');
      let replies: PeerReply[] = [];
      try {
        replies = lines.map((line) => JSON.parse(line) as PeerReply);
      } catch {
        replies = [];
      }
      resolve({ code, stdout, stdoutBytes, stderr: Buffer.concat(err).toString('utf8'), replies });
    });
  });
}

/**
 * A TCP port that was free a moment ago on 127.0.0.1: bind port 0, read the port,
 * close. For tools that cannot listen on port 0 and report it (socat). Another
 * process may take it before the tool binds; callers retry once on EADDRINUSE.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Kills every peer process still running (call from afterEach). */
export function killPeers(): void {
  for (const child of running) {
    child.kill('SIGKILL');
  }
  running.clear();
}
