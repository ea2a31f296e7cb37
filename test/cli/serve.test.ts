/**
 * `serve` as a black box: the first stdout line, each mode over several
 * framings with Node clients, chat fan-out to the other clients only, handler
 * modules (JS and TS), --json events, socat interop, and SIGINT during traffic
 * (graceful close, exit 0, nothing lost).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { NEED_DATA, parseFraming } from '../../src/index.js';
import { requireTool } from '../helpers/interop.js';
import {
  CLI_TEST_TIMEOUT_MS,
  jsonEvents,
  killAll,
  runCli,
  startLocalServe,
  startServe,
} from './cli-process.js';

// Spawning under load can take many seconds; cli-process.ts deadlines catch hangs.
vi.setConfig({ testTimeout: CLI_TEST_TIMEOUT_MS, hookTimeout: CLI_TEST_TIMEOUT_MS });

const sockets = new Set<net.Socket>();

afterEach(() => {
  for (const socket of sockets) {
    socket.destroy();
  }
  sockets.clear();
  killAll();
});

/** A framed test client over a raw node socket, with a deadline on every wait. */
class Client {
  readonly socket: net.Socket;
  readonly frames: string[] = [];
  ended = false;
  readonly #decoder;
  readonly #encoder;
  #waiters: Array<() => void> = [];

  private constructor(socket: net.Socket, spec: string) {
    this.socket = socket;
    const framing = parseFraming(spec);
    this.#decoder = framing.createDecoder();
    this.#encoder = framing.createEncoder();
    socket.on('data', (chunk: Buffer) => {
      this.#decoder.push(chunk);
      for (let frame = this.#decoder.next(); frame !== NEED_DATA; frame = this.#decoder.next()) {
        this.frames.push(Buffer.from(frame).toString());
      }
      this.#wake();
    });
    socket.on('end', () => {
      this.ended = true;
      this.#wake();
    });
    socket.on('close', () => {
      this.ended = true;
      this.#wake();
    });
    socket.on('error', () => {});
  }

  static connect(port: number, spec: string): Promise<Client> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true });
      sockets.add(socket);
      socket.once('connect', () => resolve(new Client(socket, spec)));
      socket.once('error', reject);
    });
  }

  send(...messages: string[]): void {
    for (const message of messages) {
      for (const piece of this.#encoder.encode(Buffer.from(message))) {
        this.socket.write(piece);
      }
    }
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiters) {
      waiter();
    }
  }

  /** Resolves once `predicate()` holds; rejects after `timeoutMs`. */
  until(predicate: () => boolean, timeoutMs = 5000): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new Error(`timed out; frames so far: ${JSON.stringify(this.frames.slice(0, 20))}`),
          ),
        timeoutMs,
      );
      const check = (): void => {
        if (predicate()) {
          clearTimeout(timer);
          resolve();
        } else {
          this.#waiters.push(check);
        }
      };
      check();
    });
  }
}

/**
 * A `serve --json` session on `length:u8`: `clients` clients each get one echo and
 * leave, then one leaves inside a frame (SB_UNEXPECTED_EOF); SIGINT, exit 0; the events.
 */
async function jsonSession(
  served: Awaited<ReturnType<typeof startLocalServe>>,
  clients: number,
): Promise<ReturnType<typeof jsonEvents>> {
  for (let index = 0; index < clients; index++) {
    const client = await Client.connect(served.port, 'length:u8');
    client.send('x');
    await client.until(() => client.frames.length === 1);
    client.socket.end();
    await client.until(() => client.ended);
  }
  const bad = await Client.connect(served.port, 'line');
  bad.socket.write(Buffer.from([5, 1]));
  bad.socket.end();
  await bad.until(() => bad.ended);
  served.cli.child.kill('SIGINT');
  expect(await served.cli.exited()).toEqual({ code: 0, signal: null });
  return jsonEvents(served.cli);
}

describe('switchboard serve', () => {
  it('prints exactly "listening on tcp://127.0.0.1:<real port>" first, for :0', async () => {
    const { firstLine, port } = await startLocalServe('line', 'echo');
    expect(firstLine).toMatch(/^listening on tcp:\/\/127\.0\.0\.1:\d+$/);
    expect(port).toBeGreaterThan(0);
  });

  const echoFramings = ['line', 'length:u16be', 'netstring', 'varint', 'content-length'];
  it.each(echoFramings)('echo mode sends each frame back (%s)', async (framing) => {
    const { port } = await startLocalServe(framing, 'echo');
    const client = await Client.connect(port, framing);
    client.send('one', '', 'three');
    await client.until(() => client.frames.length === 3);
    expect(client.frames).toEqual(['one', '', 'three']);
  });

  it.each(['line', 'length'])(
    'chat mode delivers each frame to the other clients only (%s)',
    async (framing) => {
      const { port } = await startLocalServe(framing, 'chat');
      const [alice, bob, carol] = await Promise.all(
        [0, 1, 2].map(() => Client.connect(port, framing)),
      );
      if (alice === undefined || bob === undefined || carol === undefined) {
        throw new Error('clients');
      }
      // Let the server register all three before anyone speaks: a probe from carol
      // reaching alice and bob proves they are in the room.
      carol.send('probe');
      await Promise.all([
        alice.until(() => alice.frames.length === 1),
        bob.until(() => bob.frames.length === 1),
      ]);
      alice.send('from alice');
      bob.send('from bob');
      await carol.until(() => carol.frames.length === 2);
      await alice.until(() => alice.frames.length === 2);
      await bob.until(() => bob.frames.length === 2);
      expect(carol.frames.sort()).toEqual(['from alice', 'from bob']);
      expect(alice.frames).toEqual(['probe', 'from bob']);
      expect(bob.frames).toEqual(['probe', 'from alice']);
    },
  );

  it('discard mode reads frames and answers nothing; the server stays up', async () => {
    const { port } = await startLocalServe('line', 'discard');
    const client = await Client.connect(port, 'line');
    client.send('a', 'b');
    client.socket.end();
    await client.until(() => client.ended);
    expect(client.frames).toEqual([]);
    const again = await Client.connect(port, 'line');
    again.send('c');
    again.socket.end();
    await again.until(() => again.ended);
  });

  it('MODULE mode loads a JS or TS handler module (default export)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sb-serve-'));
    const jsHandler = join(dir, 'upper.mjs');
    writeFileSync(
      jsHandler,
      `export default async function upper(channel) {
  for await (const message of channel) {
    await channel.send(Buffer.from(message).toString().toUpperCase());
  }
}
`,
    );
    const tsHandler = join(dir, 'reverse.ts');
    writeFileSync(
      tsHandler,
      `interface Channel extends AsyncIterable<Uint8Array> { send(message: string): Promise<void> }
export default async function reverse(channel: Channel): Promise<void> {
  for await (const message of channel) {
    const text: string = Buffer.from(message).toString();
    await channel.send([...text].reverse().join(''));
  }
}
`,
    );
    const [js, ts] = await Promise.all([
      startLocalServe('line', jsHandler),
      startLocalServe('line', tsHandler),
    ]);
    const [jsClient, tsClient] = await Promise.all([
      Client.connect(js.port, 'line'),
      Client.connect(ts.port, 'line'),
    ]);
    jsClient.send('hello');
    tsClient.send('hello');
    await jsClient.until(() => jsClient.frames.length === 1);
    await tsClient.until(() => tsClient.frames.length === 1);
    expect(jsClient.frames).toEqual(['HELLO']);
    expect(tsClient.frames).toEqual(['olleh']);
  });

  it('--json prints one JSON event per line on stderr', async () => {
    const served = await startLocalServe('length:u8', 'echo', ['--json']);
    const events = await jsonSession(served, 1);
    const names = events.map((event) => event.event);
    expect(names).toContain('connection:open');
    expect(names).toContain('connection:close');
    expect(names).toContain('server:close');
    expect(events.some((event) => event.code === 'SB_UNEXPECTED_EOF')).toBe(true);
  });

  it("--json --dispatch processes: the workers' connection and error events reach stderr (#14)", async () => {
    const served = await startLocalServe('length:u8', 'echo', [
      '--dispatch',
      'processes',
      '--workers',
      '2',
      '--json',
    ]);
    const clients = 4;
    const events = await jsonSession(served, clients);
    const opens = events.filter((event) => event.event === 'connection:open');
    const closes = events.filter((event) => event.event === 'connection:close');
    expect(opens).toHaveLength(clients + 1);
    expect(closes).toHaveLength(clients + 1);
    // Connection ids name the worker (w<index>-<n>): the events came from the workers.
    expect(opens.every((event) => /^w[01]-\d+$/.test(String(event.connectionId)))).toBe(true);
    expect(
      events.some((event) => event.event === 'frame:error' && event.code === 'SB_UNEXPECTED_EOF'),
    ).toBe(true);
  });

  it('SIGINT during traffic: graceful close, exit 0, every frame sent is echoed', async () => {
    const { cli, port } = await startLocalServe('length', 'echo');
    const client = await Client.connect(port, 'length');
    const count = 2000;
    const messages = Array.from({ length: count }, (_, index) => `message ${index}`);
    client.send(...messages.slice(0, count / 2));
    await client.until(() => client.frames.length > 0);
    // The second half is written (to the kernel) before the signal, so the server is
    // busy when the close starts. Bytes sent only after the close has found the
    // connection quiet are not promised an echo: a quiet connection is closed at once.
    client.send(...messages.slice(count / 2));
    cli.child.kill('SIGINT');
    client.socket.end();
    await client.until(() => client.ended, 10_000);
    expect(await cli.exited(10_000)).toEqual({ code: 0, signal: null });
    // Nothing lost and nothing reordered: every echo, in order.
    expect(client.frames.length).toBe(count);
    expect(client.frames).toEqual(messages);
  });

  it('SIGINT: idle clients are closed at once; serve says on stderr what it waits for (--close-timeout) (#14)', async () => {
    const { cli, port } = await startLocalServe('length:u8', 'echo', [
      '--close-timeout',
      '3600000',
    ]);
    const idle = await Client.connect(port, 'length:u8');
    idle.send('x');
    await idle.until(() => idle.frames.length === 1);
    const busy = await Client.connect(port, 'length:u8');
    busy.send('y');
    await busy.until(() => busy.frames.length === 1);
    busy.socket.write(Buffer.from([3, 0x61])); // 1 byte of a 3-byte frame: busy
    cli.child.kill('SIGINT');
    // The idle client is let go without the hour-long close timeout...
    await idle.until(() => idle.ended, 10_000);
    // ...while the busy one is waited for, and serve says so.
    await cli.waitForStderr((text) => text.includes('closing:'), 10_000);
    // 1 (the busy one); on a loaded machine the idle one may not be gone yet.
    expect(cli.stderr()).toMatch(/closing: waiting for [12] connections?, up to 3600 s/);
    busy.socket.write(Buffer.from([0x62, 0x63]));
    await busy.until(() => busy.ended, 10_000);
    expect(busy.frames).toEqual(['y', 'abc']);
    expect(await cli.exited(10_000)).toEqual({ code: 0, signal: null });
  });

  it('npm start (serve --listen 127.0.0.1:7070 --framing line --mode chat) is a chat nc can use', async () => {
    // Same flags as package.json "start", on a free port so tests never collide.
    const { port } = await startLocalServe('line', 'chat');
    const [one, two] = await Promise.all([
      Client.connect(port, 'line'),
      Client.connect(port, 'line'),
    ]);
    if (one === undefined || two === undefined) {
      throw new Error('clients');
    }
    // nc sends raw lines, CRLF from some terminals: the line framing strips the CR.
    await new Promise((resolve) => setTimeout(resolve, 100));
    one.socket.write('hi there\r\n');
    await two.until(() => two.frames.length === 1);
    expect(two.frames).toEqual(['hi there']);
  });
});

const hasSocat = requireTool('socat', ['socat', '-V']);

describe.skipIf(!hasSocat)('switchboard serve with socat', () => {
  it('socat exchanges lines with serve --mode echo', async () => {
    const { port } = await startLocalServe('line', 'echo');
    const output = await new Promise<string>((resolve, reject) => {
      const child = spawn('socat', ['-t', '5', '-', `TCP:127.0.0.1:${port}`], {
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      let text = '';
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`socat timed out; output so far: ${text}`));
      }, 8000);
      child.stdout.setEncoding('utf8');
      child.stdout.on('data', (chunk: string) => {
        text += chunk;
      });
      child.on('close', () => {
        clearTimeout(timer);
        resolve(text);
      });
      child.stdin.end('hello\nfrom socat\n');
    });
    expect(output).toBe('hello\nfrom socat\n');
  });
});

const hasNats = requireTool('nats-server', ['nats-server', '--version']);

describe.skipIf(!hasNats)('switchboard serve --bus with nats-server', () => {
  it('chat frames cross between two serve processes sharing a NATS bus', async () => {
    const free = net.createServer();
    await new Promise<void>((resolve) => free.listen(0, '127.0.0.1', resolve));
    const natsPort = (free.address() as net.AddressInfo).port;
    await new Promise<void>((resolve) => free.close(() => resolve()));
    const nats = spawn('nats-server', ['-a', '127.0.0.1', '-p', String(natsPort)], {
      stdio: 'ignore',
    });
    try {
      // Wait until NATS accepts connections (bounded).
      for (let attempt = 0; ; attempt += 1) {
        const up = await new Promise<boolean>((resolve) => {
          const probe = net.connect({ host: '127.0.0.1', port: natsPort });
          probe.once('connect', () => {
            probe.destroy();
            resolve(true);
          });
          probe.once('error', () => resolve(false));
        });
        if (up) {
          break;
        }
        if (attempt >= 50) {
          throw new Error('nats-server did not start');
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const bus = `nats://127.0.0.1:${natsPort}`;
      const flags = [
        '--listen',
        '127.0.0.1:0',
        '--framing',
        'line',
        '--mode',
        'chat',
        '--bus',
        bus,
      ];
      const [first, second] = await Promise.all([startServe(flags), startServe(flags)]);
      const [speaker, listener] = await Promise.all([
        Client.connect(first.port, 'line'),
        Client.connect(second.port, 'line'),
      ]);
      // The bus subscription may settle a moment after "listening": repeat until heard (bounded).
      for (let attempt = 0; attempt < 20 && listener.frames.length === 0; attempt += 1) {
        speaker.send(`across the bus ${attempt}`);
        await listener.until(() => listener.frames.length > 0, 250).catch(() => {});
      }
      expect(listener.frames[0]).toMatch(/^across the bus \d+$/);
      expect(speaker.frames).toEqual([]);
    } finally {
      nats.kill('SIGKILL');
    }
  });
});

describe('switchboard serve --bus credentials', () => {
  it('a --bus-* flag without --bus, or --bus-tls-cert without its key, is a usage error', async () => {
    const base = ['serve', '--listen', '127.0.0.1:0', '--framing', 'line', '--mode', 'chat'];
    const alone = await runCli([...base, '--bus-creds', '/x.creds']);
    expect(alone.code).toBe(2);
    expect(alone.stderr).toContain('--bus-creds needs --bus');
    const half = await runCli([...base, '--bus', 'tls://127.0.0.1:1', '--bus-tls-cert', '/c.pem']);
    expect(half.code).toBe(2);
    expect(half.stderr).toContain('--bus-tls-cert and --bus-tls-key go together');
    const two = await runCli([
      ...base,
      ...['--bus', 'nats://127.0.0.1:1', '--bus-creds', '/x.creds'],
      ...['--bus-user', 'u', '--bus-password-file', '/p'],
    ]);
    expect(two.code).toBe(2);
    expect(two.stderr).toContain('pick one');
  });
});

/** nats-server on a free loopback port with `args`; resolves once it accepts connections (bounded). */
async function startAuthNats(args: readonly string[]): Promise<{ port: number; stop(): void }> {
  const free = net.createServer();
  await new Promise<void>((resolve) => free.listen(0, '127.0.0.1', resolve));
  const port = (free.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => free.close(() => resolve()));
  const nats = spawn('nats-server', ['-a', '127.0.0.1', '-p', String(port), ...args], {
    stdio: 'ignore',
  });
  for (let attempt = 0; ; attempt += 1) {
    const up = await new Promise<boolean>((resolve) => {
      const probe = net.connect({ host: '127.0.0.1', port });
      probe.once('connect', () => {
        probe.destroy();
        resolve(true);
      });
      probe.once('error', () => resolve(false));
    });
    if (up) {
      break;
    }
    if (attempt >= 50) {
      nats.kill('SIGKILL');
      throw new Error('nats-server did not start');
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { port, stop: () => nats.kill('SIGKILL') };
}

describe.skipIf(!hasNats)('switchboard serve --bus with an authorizing nats-server', () => {
  const base = [
    'serve',
    '--listen',
    '127.0.0.1:0',
    '--framing',
    'line',
    '--mode',
    'chat',
    '--verbose',
  ];

  it('--bus-token-file: the wrong token exits 3 with SB_AUTH_FAILED and never prints it; the right one serves', async () => {
    const token = 'cli-t0ken-9f8e7d';
    const password = 'cli-Pa55-4c3b2a';
    const dir = mkdtempSync(join(tmpdir(), 'sb-serve-bus-'));
    const nats = await startAuthNats(['--auth', token]);
    try {
      const url = `nats://127.0.0.1:${nats.port}`;
      const wrongFile = join(dir, 'wrong');
      writeFileSync(wrongFile, `${token}x\n`);
      const wrong = await runCli([...base, '--bus', url, '--bus-token-file', wrongFile]);
      expect(wrong.code).toBe(3);
      expect(wrong.stderr).toContain('SB_AUTH_FAILED');
      expect(wrong.stderr + wrong.stdout).not.toContain(token);
      // A password in the URL is neither printed nor sent to nats.js as part of a host.
      const inUrl = await runCli([
        ...base,
        '--bus',
        `nats://alice:${password}@127.0.0.1:${nats.port}`,
      ]);
      expect(inUrl.code).toBe(3);
      expect(inUrl.stderr).toContain('SB_AUTH_FAILED');
      expect(inUrl.stderr + inUrl.stdout).not.toContain(password);
      const rightFile = join(dir, 'right');
      writeFileSync(rightFile, `${token}\n`);
      const serve = await startServe([
        ...base.slice(1),
        '--bus',
        url,
        '--bus-token-file',
        rightFile,
      ]);
      expect(serve.firstLine).toMatch(/^listening on tcp:\/\/127\.0\.0\.1:\d+$/);
    } finally {
      nats.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('--bus-user with --bus-password-file: a wrong password exits 3, the right one serves', async () => {
    const password = 'cli-user-Pa55';
    const dir = mkdtempSync(join(tmpdir(), 'sb-serve-bus-'));
    const nats = await startAuthNats(['--user', 'inst', '--pass', password]);
    try {
      const url = `nats://127.0.0.1:${nats.port}`;
      const file = join(dir, 'pass');
      writeFileSync(file, `${password}x\n`);
      const flags = ['--bus', url, '--bus-user', 'inst', '--bus-password-file', file];
      const wrong = await runCli([...base, ...flags]);
      expect(wrong.code).toBe(3);
      expect(wrong.stderr).toContain('SB_AUTH_FAILED');
      expect(wrong.stderr).not.toContain(password);
      writeFileSync(file, `${password}\n`);
      const serve = await startServe([...base.slice(1), ...flags]);
      expect(serve.firstLine).toMatch(/^listening on tcp:/);
    } finally {
      nats.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
