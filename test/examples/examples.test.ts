/**
 * Every program in examples/ runs as its header comment says, within a deadline,
 * exits 0, and prints what it should. Examples are documentation; this keeps them
 * true. An example that is not in the table below fails the "every example is
 * tested" check, so a new example cannot go untested.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { killExamples, ROOT, runExample } from './run-example.js';

afterEach(killExamples);

/**
 * An example taking longer than this (ms) waited on a timeout somewhere (typically a
 * close() waiting DEFAULTS.closeTimeout = 10 s for a peer that never closes), even if it
 * finished. Just under 10 s, because a loaded CI machine makes a 1 s example take 4 s.
 */
const SLOW_MS = 9_500;

/** One example run: its file, arguments, and the exact lines it must print. */
interface ExampleCase {
  file: string;
  args?: string[];
  /** What stderr must match; by default it must be free of warnings and errors. */
  stderr?: RegExp;
  /** Run time (ms) above which the example counts as hung. Default SLOW_MS. */
  slowMs?: number;
  /** Expected stdout lines; a RegExp matches a line whose content varies (paths, pids). */
  expected: Array<string | RegExp>;
}

const CASES: ExampleCase[] = [
  {
    file: '01-creating-sockets.ts',
    expected: [
      'server socket listening on 127.0.0.1, OS-chosen port: true',
      'server: client socket 1 asked "GET /index.html HTTP/1.0"',
      'client: /index.html -> "HTTP/1.0 200 OK\\r\\n\\r\\npage 1\\n"',
      'server: client socket 2 asked "GET /about.html HTTP/1.0"',
      'client: /about.html -> "HTTP/1.0 200 OK\\r\\n\\r\\npage 2\\n"',
      'done: 2 client sockets served, server socket closed',
    ],
  },
  {
    file: '02-dispatch-models.ts',
    // Starting worker processes that load TypeScript takes a while on a busy machine.
    slowMs: 20_000,
    expected: [
      'loop: SELECT WAY, served by this thread and process: true',
      'threads: THREAD WAY, served by a worker thread: true',
      'processes: PROCESS WAY, served by one of the 2 worker processes: true',
      'all three servers closed gracefully',
    ],
  },
  {
    file: '03-ipc-unix.ts',
    expected: [
      'parent: listening on a Unix socket file: true',
      'parent: child process connected and says "ready"',
      'parent: child computed 3*3=9',
      'parent: child computed 4*4=16',
      'parent: child computed 5*5=25',
      'parent: child exited with code 0',
      process.platform === 'linux'
        ? 'abstract socket: server got "ping"'
        : 'abstract socket: skipped (Linux only)',
    ],
  },
  {
    file: '04-mysocket-fixed-length.ts',
    expected: [
      'send() of 1 MiB took only part of it: true',
      'mysend() needed more send() calls to finish: true',
      'server: received the whole 1048576-byte bulk message',
      'client: "FIXED LENGTH MSG"',
      'client: "YUCK, BUT SIMPLE"',
      'client: "SIXTEEN BYTES OK"',
      'server: socket connection broken mid-message: SB_UNEXPECTED_EOF',
    ],
  },
  {
    file: '05-delimited.ts',
    expected: [
      'chunk "alpha\\nbeta\\ngam" -> ["alpha","beta"], 3 bytes put aside',
      'chunk "ma\\r\\n" -> ["gamma"], 0 bytes put aside',
      'reply: 5 chars: shrug',
      'reply: 19 chars: the delimited route',
      'reply: 22 chars: scan for the delimiter',
      '100000 bytes without LF: SB_FRAME_TOO_LARGE (limit 65536 bytes)',
      'delim:00 and a payload containing 00: SB_INVALID_ARGUMENT',
    ],
  },
  {
    file: '06-digits-length-prefix.ts',
    expected: [
      'digits:5 wire form of "hello, world": "00012hello, world"',
      'length:u32be wire form: 0000000c68656c6c6f2c20776f726c64',
      'one byte at a time: NEED_DATA 16 times, then "hello, world"',
      'server: header "00005", body "first"',
      'server: header "00000", body ""',
      'server: header "00025", body "third, after an empty one"',
      'a non-digit in the header: SB_BAD_DIGITS at offset 0',
      'a length over maxFrame (1000): SB_FRAME_TOO_LARGE at offset 0',
      'a 100000-byte message does not fit in 5 digits: SB_PAYLOAD_TOO_LARGE',
    ],
  },
  {
    file: '07-type-byte.ts',
    expected: [
      'client: 4 messages, 29 bytes on the wire: 010000086602000f7479706520627974652066697273740301fffffe89',
      'server: type 0x01, 5-byte frame: temperature 21.50 C',
      'server: type 0x02, 16-byte frame: chat "type byte first"',
      'server: type 0x03, 1-byte frame: ping',
      'server: type 0x01, 5-byte frame: temperature -3.75 C',
      'server: SB_UNKNOWN_TYPE_BYTE at offset 29; closing this connection',
      'client: the server hung up (recv returned 0 bytes)',
    ],
  },
  {
    file: '08-binary-data.ts',
    expected: [
      "pack('!H', 1) = 00 01   (network order, big-endian)",
      "pack('<H', 1) = 01 00   (little-endian, as x86/ARM store it)",
      /^htons\(1\) = (256 on this little|1 on this big)-endian machine$/,
      "unpack('!I', 00 00 01 00) = 256, unpack('<I', ...) = 65536",
      `0 as a text line "0\\n": 2 bytes; as '!q': 8 bytes (00 00 00 00 00 00 00 00); as a varint: 1 byte`,
      "1234567890123 as text: 13 bytes; as '!q': 8 bytes; as a varint: 6 bytes",
      "record '!HIq?5s' is 20 bytes whatever its values -> framing fixed:20",
      // The same bytes as CPython's struct.pack('!HIq?5s', 7, 1, 1700000000000000, True, b'temp').
      'client: first record on the wire: 00 07 00 00 00 01 00 06 0a 24 18 1e 40 00 01 74 65 6d 70 00',
      'server: sensor=7 seq=1 t=1700000000000000us ok=true tag=temp',
      'server: sensor=7 seq=2 t=1700000000250000us ok=false tag=humid',
    ],
  },
  {
    file: '09-half-close.ts',
    // The leak warning names the line of the example that opened the forgotten socket.
    stderr: /SB_SOCKET_LEAK[\s\S]*examples\/09-half-close\.ts:\d+/,
    expected: [
      "client: request sent, then shutdown('write')",
      'server: recv() returned 0 bytes, so the request is complete: "count the words in this request please\\n"',
      'server: reply sent; the client was still receiving',
      'client: reply "7 words received\\n", then EOF',
      'forgotten socket: warning SB_SOCKET_LEAK; the peer saw the connection end: true',
    ],
  },
  {
    file: '10-dead-peer.ts',
    expected: [
      '1. recv() with a 200 ms deadline: SB_TIMEOUT; socket still open: true',
      '2. channel with idleTimeout 300 ms: SB_IDLE_TIMEOUT after >= 300 ms: true',
      '3. healthy peer: echo: are you there?',
      '   after 500 ms of application silence the channel is still up: true',
      '   peer blackholed: SB_PEER_UNRESPONSIVE after 3 unanswered pings, within seconds: true',
    ],
  },
  {
    file: '11-select-server.ts',
    expected: [
      'alice: connected (came out writable)',
      'bob: connected (came out writable)',
      'nobody: in the errored list with SB_CONNECTION_REFUSED; select() itself did not fail',
      'alice: echo "HELLO FROM ALICE"',
      'bob: echo "HELLO FROM BOB"',
      'server: accepted 2, echoed 30 bytes, saw 2 peers close, all in one loop of select() calls: true',
    ],
  },
];

function exampleFiles(): string[] {
  return readdirSync(join(ROOT, 'examples'))
    .filter((name) => name.endsWith('.ts'))
    .sort();
}

describe('examples/', () => {
  it('every example is tested here and names its run command in its header', () => {
    const tested = new Set(CASES.map((testCase) => testCase.file));
    for (const file of exampleFiles()) {
      expect(tested.has(file), `${file} has a case in examples.test.ts`).toBe(true);
      const header = readFileSync(join(ROOT, 'examples', file), 'utf8').slice(0, 2_000);
      expect(header, `${file} header`).toContain(`Run: npx tsx examples/${file}`);
      expect(header, `${file} imports only the public API`).not.toMatch(
        /from '\.\.\/src\/(?!index\.js|testing\/index\.js)/,
      );
    }
  });

  it('docs/HOWTO-MAP.md links every example, and every file it links exists', () => {
    const map = readFileSync(join(ROOT, 'docs', 'HOWTO-MAP.md'), 'utf8');
    const linked = new Set(
      [...map.matchAll(/\]\(\.\.\/examples\/([^)]+)\)/g)].map((match) => match[1]),
    );
    for (const file of linked) {
      expect(
        existsSync(join(ROOT, 'examples', file ?? '')),
        `HOWTO-MAP links examples/${file}`,
      ).toBe(true);
    }
    for (const file of exampleFiles()) {
      expect(linked.has(file), `HOWTO-MAP links ${file}`).toBe(true);
    }
  });

  it.each(CASES)('$file runs, exits 0 and prints what it should', async (testCase) => {
    const run = await runExample(testCase.file, testCase.args, 30_000);
    const context = `${testCase.file}\nstdout:\n${run.lines.join('\n')}\nstderr:\n${run.stderr}`;
    expect(run.timedOut, context).toBe(false);
    expect(run.code, context).toBe(0);
    // Each example is a few loopback exchanges; a multi-second run means something waited
    // on a timeout (e.g. a close that waits for a peer that never closes).
    expect(run.elapsed, context).toBeLessThan(testCase.slowMs ?? SLOW_MS);
    if (testCase.stderr === undefined) {
      expect(run.stderr, context).not.toMatch(/warning|Error/i);
    } else {
      expect(run.stderr, context).toMatch(testCase.stderr);
    }
    expect(run.lines.length, context).toBe(testCase.expected.length);
    testCase.expected.forEach((expected, index) => {
      const actual = run.lines[index] ?? '';
      if (typeof expected === 'string') {
        expect(actual, context).toBe(expected);
      } else {
        expect(actual, context).toMatch(expected);
      }
    });
  });
});
