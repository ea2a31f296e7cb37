/**
 * The CLI papercuts of issue #17, each as a black box: negative values are range
 * errors, "did you mean" for commands and flags, `unpack` from stdin with spaces and
 * clear hex errors, `calcsize` and `iter-unpack`, `--input hex|json` for `connect`
 * and `send`, encoder refusals as data errors (exit 1), `--json` with `--verbose`
 * as a usage error, and `bench --json` spelling its address as `tcp://`.
 */
import * as net from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  CLI_TEST_TIMEOUT_MS,
  killAll,
  runCli,
  startLocalServe,
  startServe,
} from './cli-process.js';

vi.setConfig({ testTimeout: CLI_TEST_TIMEOUT_MS, hookTimeout: CLI_TEST_TIMEOUT_MS });

afterEach(killAll);

describe('switchboard CLI papercuts (#17)', () => {
  it('a negative value is a range error, written either way', async () => {
    const spaced = await runCli(['serve', '--framing', 'line', '--idle-timeout', '-5']);
    expect(spaced.code).toBe(2);
    expect(spaced.stderr).toContain("serve: option --idle-timeout cannot be negative, got '-5'");
    expect(spaced.stderr).not.toContain('does not take a value');
    const joined = await runCli(['serve', '--framing', 'line', '--idle-timeout=-5']);
    expect(joined.code).toBe(2);
    expect(joined.stderr).toMatch(/--idle-timeout must be a non-negative integer \(ms\), got '-5'/);
    const dashed = await runCli(['decode', '--framing', '-x']);
    expect(dashed.code).toBe(2);
    expect(dashed.stderr).toContain('option --framing needs a value (write --framing=-x');
  });

  it('unknown commands and flags close to a real one get a guess; far ones do not', async () => {
    const [command, flag, far, farFlag] = await Promise.all([
      runCli(['sevre']),
      runCli(['serve', '--lisen', '127.0.0.1:0']),
      runCli(['frobnicate']),
      runCli(['decode', '--framing', 'line', '--bogus']),
    ]);
    expect(command.code).toBe(2);
    expect(command.stderr).toContain("unknown command 'sevre' (did you mean 'serve'?)");
    expect(flag.code).toBe(2);
    expect(flag.stderr).toContain("serve: unknown option '--lisen' (did you mean '--listen'?)");
    expect(far.stderr).toContain("unknown command 'frobnicate' (see switchboard --help)");
    expect(farFlag.stderr).toContain(
      "decode: unknown option '--bogus' (see switchboard decode --help)\n",
    );
  });

  it('every command words an unknown option the same way (one quoting, one hint)', async () => {
    // Each path reaches the message differently: parseArgs (serve, send, proxy), the
    // hand-split argv of pack/unpack, and the top level before any command.
    const cases: Array<[string[], string]> = [
      [
        ['serve', '--framng', 'line'],
        "serve: unknown option '--framng' (did you mean '--framing'?)",
      ],
      [['send', '-z', '127.0.0.1:1'], "send: unknown option '-z' (see switchboard send --help)"],
      [
        ['proxy', '--taget', '127.0.0.1:1'],
        "proxy: unknown option '--taget' (did you mean '--target'?)",
      ],
      [['pack', '<h', '--hlep'], "pack: unknown option '--hlep' (did you mean '--help'?)"],
      [
        ['unpack', '<h', '--bogus'],
        "unpack: unknown option '--bogus' (see switchboard unpack --help)",
      ],
      [['--verison'], "unknown option '--verison' (did you mean '--version'?)"],
    ];
    const results = await Promise.all(cases.map(([args]) => runCli(args)));
    results.forEach((result, index) => {
      const [args, message] = cases[index]!;
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr, args.join(' ')).toContain(`${message}\n`);
    });
  });

  it('unpack reads hex from stdin (pack | unpack), ignores spaces, and names a bad digit', async () => {
    const packed = await runCli(['pack', '!HI', '7', '42']);
    expect(packed.code).toBe(0);
    const piped = await runCli(['unpack', '!HI'], { input: packed.stdout });
    expect(piped.code).toBe(0);
    expect(piped.stdout.toString()).toBe('[7,42]\n');
    const dash = await runCli(['unpack', '!HI', '-'], { input: '0007 0000 002a\n' });
    expect(dash.stdout.toString()).toBe('[7,42]\n');
    const spaced = await runCli(['unpack', '!HI', '00 07 00 00 00 2a']);
    expect(spaced.stdout.toString()).toBe('[7,42]\n');
    const bad = await runCli(['unpack', '>H', 'zz']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('not a hex digit at position 1');
    expect(bad.stderr).not.toContain('even number');
    const odd = await runCli(['unpack', '>H', '001']);
    expect(odd.code).toBe(1);
    expect(odd.stderr).toContain('odd number of hex digits (3)');
  });

  it('calcsize and iter-unpack are CPython struct.calcsize and struct.iter_unpack', async () => {
    const [size, native, records, ragged, badFormat] = await Promise.all([
      runCli(['calcsize', '!HHIq']),
      runCli(['calcsize', '@bi']),
      runCli(['iter-unpack', '>HH', '000100020003000400050006']),
      runCli(['iter-unpack', '>HH', '0001000200']),
      runCli(['calcsize', '!Y']),
    ]);
    expect(size.stdout.toString()).toBe('16\n');
    expect(native.stdout.toString()).toBe('8\n');
    expect(records.code).toBe(0);
    expect(records.stdout.toString()).toBe('[1,2]\n[3,4]\n[5,6]\n');
    expect(ragged.code).toBe(1);
    expect(ragged.stdout.toString()).toBe('');
    expect(ragged.stderr).toContain('SB_STRUCT_ERROR');
    expect(badFormat.code).toBe(1);
    expect(badFormat.stderr).toContain('SB_STRUCT_ERROR');
  });

  it('encode: a payload the framing refuses is a data error (exit 1) naming the line', async () => {
    const eof = await runCli(['encode', '--framing', 'eof'], { input: 'a\nb\n' });
    expect(eof.code).toBe(1);
    expect(eof.stderr).toContain('SB_BAD_INPUT_RECORD: input line 2:');
    expect(eof.stdout.toString()).toBe('a');
    const tagged = await runCli(['encode', '--framing', 'tagged:01=2', '--input', 'hex'], {
      input: '\n',
    });
    // A blank hex line is skipped: nothing to encode, success.
    expect(tagged.code).toBe(0);
    const hex = await runCli(['encode', '--framing', 'length:u16be', '--input', 'hex'], {
      input: '68 69\n0x00ff\n',
    });
    expect(hex.code).toBe(0);
    expect(hex.stdout.toString('hex')).toBe('00026869000200ff');
    const badHex = await runCli(['encode', '--framing', 'line', '--input', 'hex'], {
      input: 'abc\n',
    });
    expect(badHex.code).toBe(1);
    expect(badHex.stderr).toContain('SB_BAD_INPUT_RECORD: input line 1:');
  });

  it('connect --input hex and send --input hex|json send binary frames', async () => {
    const { address } = await startLocalServe('length:u16be', 'echo');
    const connected = await runCli(
      ['connect', address, '--framing', 'length:u16be', '--input', 'hex', '--output', 'hex'],
      { input: '00ff01\n\nde ad\n' },
    );
    expect(connected.code).toBe(0);
    expect(connected.stdout.toString()).toBe('00ff01\ndead\n');
    const sent = await runCli([
      'send',
      address,
      '--framing',
      'length:u16be',
      '--input',
      'json',
      '--output',
      'hex',
      '{"len":2,"hex":"0a0b"}',
    ]);
    expect(sent.code).toBe(0);
    expect(sent.stdout.toString()).toBe('0a0b\n');
    const refused = await runCli([
      'send',
      address,
      '--framing',
      'length:u16be',
      '--input',
      'hex',
      'xyz',
    ]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('SB_BAD_INPUT_RECORD: message 1:');
  });

  it('serve on a busy port says how to pick another, npm start included; the last --listen wins', async () => {
    const { port } = await startServe(['--listen', '127.0.0.1:0', '--framing', 'line']);
    const busy = await runCli(['serve', '--listen', `127.0.0.1:${port}`, '--framing', 'line']);
    expect(busy.code).toBe(3);
    expect(busy.stderr).toContain('EADDRINUSE');
    expect(busy.stderr).toContain(`npm start -- --listen 127.0.0.1:${port + 1}`);
    // `npm start -- --listen X` appends a second --listen to the start script's.
    const { port: chosen } = await startServe([
      '--listen',
      `127.0.0.1:${port}`,
      '--framing',
      'line',
      '--listen',
      '127.0.0.1:0',
    ]);
    expect(chosen).not.toBe(port);
  });

  it('serve --json --verbose is a usage error', async () => {
    const result = await runCli([
      'serve',
      '--listen',
      '127.0.0.1:0',
      '--framing',
      'line',
      '--json',
      '--verbose',
    ]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--json and --verbose');
  });

  it('bench --json spells a given address as tcp://HOST:PORT', async () => {
    const server = net.createServer((socket) => {
      socket.on('error', () => {});
      socket.pipe(socket);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const port = (server.address() as net.AddressInfo).port;
      const result = await runCli([
        'bench',
        `127.0.0.1:${port}`,
        '--framing',
        'line',
        '--duration',
        '0.2',
        '--json',
      ]);
      expect(result.code).toBe(0);
      const report = JSON.parse(result.stdout.toString()) as { address: string };
      expect(report.address).toBe(`tcp://127.0.0.1:${port}`);
    } finally {
      server.close();
    }
  });
});
