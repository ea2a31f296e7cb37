/**
 * Running the scale-out stack locally: nats-server, HAProxy and switchboard
 * instances as child processes on loopback. Used by deploy/demo.ts, the tests
 * in test/scale/ and bench/fanout.ts, so the configuration they run is the one
 * docs/SCALING.md documents.
 *
 * Theory of operation: every child is spawned in the foreground (no daemon
 * mode), tracked in a {@link ChildSet}, and is "ready" once its TCP port
 * accepts connections (polled with a deadline, never a fixed sleep).
 * `ChildSet.stopAll()` sends SIGTERM, then SIGKILL after a grace period, and
 * waits for every exit, so no test or demo leaves a process behind.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** deploy/ itself. */
export const DEPLOY_DIR = fileURLToPath(new URL('.', import.meta.url));
/** The nats-server configuration file. */
export const NATS_CONFIG = join(DEPLOY_DIR, 'nats.conf');
/** The HAProxy configuration template ({@link renderHaproxyConfig} fills it in). */
export const HAPROXY_TEMPLATE = join(DEPLOY_DIR, 'haproxy.cfg');

/**
 * Absolute path of an executable: `$PATH` first, then the sbin directories
 * Debian installs nats-server and haproxy into (often not on a user's PATH).
 * Null when not found.
 */
export function findTool(name: string): string | null {
  const directories = [
    ...(process.env.PATH ?? '').split(delimiter),
    '/usr/sbin',
    '/usr/local/sbin',
    '/sbin',
  ];
  for (const directory of directories) {
    if (directory === '') {
      continue;
    }
    const candidate = join(directory, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return null;
}

/** A free TCP port on 127.0.0.1 (bound to port 0, then released). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0 }, () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Resolves once `host:port` accepts a TCP connection; rejects after `timeoutMs`. */
export async function waitForPort(host: string, port: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const connected = await new Promise<boolean>((resolve) => {
      const socket = net.connect({ host, port });
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (connected) {
      return;
    }
    if (Date.now() > deadline) {
      throw new Error(`nothing listens on ${host}:${port} after ${timeoutMs} ms`);
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** One child process of the stack. */
export interface StackChild {
  readonly name: string;
  readonly process: ChildProcess;
  /** Everything the child wrote to stdout and stderr so far (bounded to the last 64 KiB). */
  output(): string;
  /** Resolves with the exit code (or signal name) once the child has exited. */
  readonly exited: Promise<number | string>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once it has exited. */
  stop(graceMs?: number): Promise<void>;
  /** SIGKILL at once (a crash); resolves once it has exited. */
  kill(): Promise<void>;
}

const MAX_OUTPUT = 64 * 1024;

/** Tracks children so that one call ends them all. */
export class ChildSet {
  readonly #children = new Set<StackChild>();

  /** Children still running. */
  get size(): number {
    return this.#children.size;
  }

  /** Spawns `command args` (not detached: it dies with a killed process group). */
  spawn(
    name: string,
    command: string,
    args: readonly string[],
    options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
  ): StackChild {
    const child = spawn(command, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      cwd: options.cwd,
      env: { ...process.env, ...options.env },
    });
    let output = '';
    const collect = (chunk: Buffer): void => {
      output = (output + chunk.toString()).slice(-MAX_OUTPUT);
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    const exited = new Promise<number | string>((resolve) => {
      child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown'));
      child.once('error', (error) => resolve(`spawn error: ${error.message}`));
    });
    const waitExit = async (graceMs: number, first: NodeJS.Signals): Promise<void> => {
      if (child.exitCode !== null || child.signalCode !== null) {
        return;
      }
      child.kill(first);
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    };
    const handle: StackChild = {
      name,
      process: child,
      output: () => output,
      exited,
      stop: (graceMs = 3000) => waitExit(graceMs, 'SIGTERM'),
      kill: () => waitExit(0, 'SIGKILL'),
    };
    this.#children.add(handle);
    void exited.then(() => this.#children.delete(handle));
    return handle;
  }

  /** Stops every child (SIGTERM, then SIGKILL after `graceMs`), in reverse start order. */
  async stopAll(graceMs = 3000): Promise<void> {
    const children = [...this.#children].reverse();
    await Promise.all(children.map((child) => child.stop(graceMs)));
  }
}

/** A running nats-server. */
export interface NatsServer {
  readonly port: number;
  /** `nats://127.0.0.1:PORT` */
  readonly url: string;
  readonly child: StackChild;
}

/**
 * Starts nats-server with deploy/nats.conf on `127.0.0.1:port` (a free port by
 * default) and resolves once it accepts connections.
 */
export async function startNats(
  children: ChildSet,
  options: { port?: number; binary?: string; timeoutMs?: number } = {},
): Promise<NatsServer> {
  const binary = options.binary ?? findTool('nats-server');
  if (binary === null) {
    throw new Error('nats-server not found (Debian package nats-server)');
  }
  const port = options.port ?? (await freePort());
  const child = children.spawn('nats-server', binary, [
    '-c',
    NATS_CONFIG,
    '-a',
    '127.0.0.1',
    '-p',
    String(port),
  ]);
  await Promise.race([
    waitForPort('127.0.0.1', port, options.timeoutMs ?? 10_000),
    child.exited.then((code) => {
      throw new Error(`nats-server exited (${code}): ${child.output().slice(-500)}`);
    }),
  ]);
  return { port, url: `nats://127.0.0.1:${port}`, child };
}

/** One server line of the HAProxy backend. */
export interface HaproxyBackend {
  /** Server name in HAProxy (letters, digits, `-`, `_`). */
  name: string;
  /** `HOST:PORT` of a switchboard instance started with `--proxy-protocol`. */
  address: string;
}

/** What {@link renderHaproxyConfig} fills into deploy/haproxy.cfg. */
export interface HaproxySettings {
  /** Where clients connect, `HOST:PORT`. */
  listen: string;
  backends: readonly HaproxyBackend[];
  /** `roundrobin` (default) or `leastconn`. */
  balance?: 'roundrobin' | 'leastconn';
  /** Health check interval, ms. Default 2000 (the tests use 200). */
  checkIntervalMs?: number;
  /** Failed checks before a server is marked down. Default 2. */
  fall?: number;
  /** Passed checks before a server is marked up again. Default 2. */
  rise?: number;
  /** Client and server inactivity timeout, ms. Default 3600000 (chat connections idle a lot). */
  idleTimeoutMs?: number;
  /** Largest number of concurrent client connections. Default 4096 (HAProxy needs about 2 file descriptors per connection: raise `ulimit -n` before raising this). */
  maxConnections?: number;
}

const HAPROXY_NAME = /^[A-Za-z0-9_-]+$/;

/** Renders deploy/haproxy.cfg for `settings` (the `{{NAME}}` markers). */
export function renderHaproxyConfig(settings: HaproxySettings, template?: string): string {
  const text = template ?? readFileSync(HAPROXY_TEMPLATE, 'utf8');
  const interval = settings.checkIntervalMs ?? 2000;
  const fall = settings.fall ?? 2;
  const rise = settings.rise ?? 2;
  if (settings.backends.length === 0) {
    throw new Error('renderHaproxyConfig: at least one backend');
  }
  const servers = settings.backends.map((backend) => {
    if (!HAPROXY_NAME.test(backend.name)) {
      throw new Error(`renderHaproxyConfig: bad server name "${backend.name}"`);
    }
    return `    server ${backend.name} ${backend.address} send-proxy-v2 check check-send-proxy inter ${interval}ms fall ${fall} rise ${rise}`;
  });
  const values: Record<string, string> = {
    LISTEN: settings.listen,
    BALANCE: settings.balance ?? 'roundrobin',
    IDLE_TIMEOUT: `${settings.idleTimeoutMs ?? 3_600_000}ms`,
    MAXCONN: String(settings.maxConnections ?? 4096),
    SERVERS: servers.join('\n'),
  };
  return text.replace(/\{\{([A-Z_]+)\}\}/g, (marker, name: string) => {
    const value = values[name];
    if (value === undefined) {
      throw new Error(`renderHaproxyConfig: unknown marker ${marker}`);
    }
    return value;
  });
}

/** A running HAProxy. */
export interface Haproxy {
  /** `HOST:PORT` clients connect to. */
  readonly address: string;
  readonly port: number;
  readonly child: StackChild;
  /** The rendered configuration file. */
  readonly configPath: string;
}

/**
 * Renders the configuration into a temporary directory, starts `haproxy -db -f
 * FILE` and resolves once the frontend accepts connections. `settings.listen`
 * defaults to a free port on 127.0.0.1.
 */
export async function startHaproxy(
  children: ChildSet,
  settings: Omit<HaproxySettings, 'listen'> & { listen?: string },
  options: { binary?: string; timeoutMs?: number } = {},
): Promise<Haproxy> {
  const binary = options.binary ?? findTool('haproxy');
  if (binary === null) {
    throw new Error('haproxy not found (Debian package haproxy)');
  }
  const listen = settings.listen ?? `127.0.0.1:${await freePort()}`;
  const colon = listen.lastIndexOf(':');
  const host = listen.slice(0, colon);
  const port = Number(listen.slice(colon + 1));
  const directory = mkdtempSync(join(tmpdir(), 'switchboard-haproxy-'));
  const configPath = join(directory, 'haproxy.cfg');
  writeFileSync(configPath, renderHaproxyConfig({ ...settings, listen }));
  const child = children.spawn('haproxy', binary, ['-db', '-f', configPath]);
  void child.exited.then(() => rmSync(directory, { recursive: true, force: true }));
  await Promise.race([
    waitForPort(host === '' ? '127.0.0.1' : host, port, options.timeoutMs ?? 10_000),
    child.exited.then((code) => {
      throw new Error(`haproxy exited (${code}): ${child.output().slice(-800)}`);
    }),
  ]);
  return { address: listen, port, child, configPath };
}

/**
 * How to run the switchboard CLI: the TypeScript source through tsx (always in
 * step with the tree), or the built `dist/cli/main.js` when `SWITCHBOARD_CLI=dist`
 * (faster start; run `npm run build` first).
 */
export function switchboardCommand(
  from: 'dist' | 'source' | undefined = process.env.SWITCHBOARD_CLI === 'dist' ? 'dist' : 'source',
): { command: string; args: string[] } {
  if (from === 'dist') {
    return {
      command: process.execPath,
      args: [fileURLToPath(new URL('../dist/cli/main.js', import.meta.url))],
    };
  }
  const source = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));
  return { command: process.execPath, args: ['--import', 'tsx', source] };
}

/** A switchboard instance started with `serve`. */
export interface Instance {
  readonly name: string;
  /** `HOST:PORT` it listens on. */
  readonly address: string;
  readonly child: StackChild;
}

/**
 * Starts `switchboard serve --listen 127.0.0.1:PORT ...extraArgs` and resolves
 * once its first stdout line (`listening on tcp://...`) has appeared.
 */
export async function startInstance(
  children: ChildSet,
  name: string,
  extraArgs: readonly string[],
  options: { port?: number; timeoutMs?: number; cli?: 'dist' | 'source' } = {},
): Promise<Instance> {
  const port = options.port ?? (await freePort());
  const { command, args } = switchboardCommand(options.cli);
  const child = children.spawn(name, command, [
    ...args,
    'serve',
    '--listen',
    `127.0.0.1:${port}`,
    ...extraArgs,
  ]);
  const deadline = Date.now() + (options.timeoutMs ?? 20_000);
  for (;;) {
    if (/listening on tcp:\/\//.test(child.output())) {
      return { name, address: `127.0.0.1:${port}`, child };
    }
    if (child.process.exitCode !== null || child.process.signalCode !== null) {
      throw new Error(`${name} exited: ${child.output().slice(-800)}`);
    }
    if (Date.now() > deadline) {
      await child.kill();
      throw new Error(`${name} did not listen in time: ${child.output().slice(-800)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
