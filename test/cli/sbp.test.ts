/**
 * `--framing sbp` on every command that frames bytes (#16): `encode` writes DATA
 * envelopes, `decode` prints their bodies (and names a bad envelope's offset), and
 * `send`/`connect` talk to `serve --framing sbp` through them.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { CLI_TEST_TIMEOUT_MS, killAll, runCli, startLocalServe } from './cli-process.js';

// Spawning under load can take many seconds; cli-process.ts deadlines catch hangs.
vi.setConfig({ testTimeout: CLI_TEST_TIMEOUT_MS, hookTimeout: CLI_TEST_TIMEOUT_MS });

afterEach(killAll);

/** DATA envelopes of `bodies`, as docs/PROTOCOL.md draws them. */
function dataEnvelopes(...bodies: string[]): Buffer {
  return Buffer.concat(
    bodies.map((body) => {
      const header = Buffer.alloc(5);
      header.writeUInt32BE(1 + Buffer.byteLength(body));
      return Buffer.concat([header, Buffer.from(body)]);
    }),
  );
}

describe('--framing sbp', () => {
  it('encode writes one DATA envelope per line; decode prints the bodies back', async () => {
    const encoded = await runCli(['encode', '--framing', 'sbp'], { input: 'hi\n\nthere\n' });
    expect(encoded.stderr).toBe('');
    expect(encoded.code).toBe(0);
    expect(encoded.stdout.toString('hex')).toBe(dataEnvelopes('hi', '', 'there').toString('hex'));
    const decoded = await runCli(['decode', '--framing', 'sbp'], { input: encoded.stdout });
    expect(decoded.stderr).toBe('');
    expect(decoded.code).toBe(0);
    expect(decoded.stdout.toString()).toBe('hi\n\nthere\n');
  });

  it('decode skips PING and CLOSE, and reports a bad envelope with its byte offset (exit 1)', async () => {
    const ping = Buffer.from('000000050300000007', 'hex');
    const close = Buffer.from('0000000105', 'hex');
    const unknownType = Buffer.from('0000000109', 'hex');
    const input = Buffer.concat([dataEnvelopes('one'), ping, close, unknownType]);
    const result = await runCli(['decode', '--framing', 'sbp'], { input });
    expect(result.stdout.toString()).toBe('one\n');
    expect(result.stderr).toMatch(
      new RegExp(`^switchboard: SB_BAD_ENVELOPE: .* \\(at byte ${input.length - 5}\\)\\n$`),
    );
    expect(result.code).toBe(1);
  });

  it('--max-frame bounds the envelope body at the header', async () => {
    const result = await runCli(['decode', '--framing', 'sbp', '--max-frame', '2'], {
      input: dataEnvelopes('ok', 'too long'),
    });
    expect(result.stdout.toString()).toBe('ok\n');
    expect(result.stderr).toMatch(/^switchboard: SB_FRAME_TOO_LARGE: .* \(at byte 7\)\n$/);
    expect(result.code).toBe(1);
  });

  it('send and connect talk to serve --framing sbp --mode echo', async () => {
    const { address } = await startLocalServe('sbp', 'echo');
    const sent = await runCli(['send', address, '--framing', 'sbp', 'hello', 'world']);
    expect(sent.stderr).toBe('');
    expect(sent.code).toBe(0);
    expect(sent.stdout.toString()).toBe('hello\nworld\n');
    const connected = await runCli(['connect', address, '--framing', 'sbp', '--output', 'hex'], {
      input: 'ab\n\ncd\n',
    });
    expect(connected.stderr).toBe('');
    expect(connected.code).toBe(0);
    expect(connected.stdout.toString()).toBe('6162\n\n6364\n');
  });
});
