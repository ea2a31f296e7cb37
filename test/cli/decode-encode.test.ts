/**
 * `decode` and `encode` as black boxes: frames before bad input are printed,
 * the error names its code and byte offset, exit 1; `decode --output json |
 * encode --input json` reproduces the input for many framings.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { CLI_TEST_TIMEOUT_MS, killAll, runCli } from './cli-process.js';

// Spawning under load can take many seconds; cli-process.ts deadlines catch hangs.
vi.setConfig({ testTimeout: CLI_TEST_TIMEOUT_MS, hookTimeout: CLI_TEST_TIMEOUT_MS });

afterEach(killAll);

function u32be(length: number): Buffer {
  const header = Buffer.alloc(4);
  header.writeUInt32BE(length);
  return header;
}

function lengthFrame(payload: string): Buffer {
  return Buffer.concat([u32be(Buffer.byteLength(payload)), Buffer.from(payload)]);
}

describe('switchboard decode', () => {
  const good = Buffer.concat([lengthFrame('one'), lengthFrame(''), lengthFrame('three')]);

  it('prints 3 good frames, then a lying header as an error with its byte offset, exit 1', async () => {
    // The 4th header claims 1000 bytes; only 3 follow.
    const input = Buffer.concat([good, u32be(1000), Buffer.from('abc')]);
    const result = await runCli(['decode', '--framing', 'length:u32be'], { input });
    expect(result.stdout.toString()).toBe('one\n\nthree\n');
    expect(result.stderr).toBe(
      `switchboard: SB_UNEXPECTED_EOF: ${/SB_UNEXPECTED_EOF: (.*) \(at byte/.exec(result.stderr)?.[1]} (at byte ${good.length})\n`,
    );
    expect(result.code).toBe(1);
  });

  it('a header over --max-frame fails at the header, not after buffering the body', async () => {
    const input = Buffer.concat([good, u32be(0xffffffff), Buffer.from('x')]);
    const result = await runCli(
      ['decode', '--framing', 'length', '--max-frame', '1k', '-o', 'hex'],
      {
        input,
      },
    );
    expect(result.stdout.toString()).toBe('6f6e65\n\n7468726565\n');
    expect(result.stderr).toMatch(
      new RegExp(`^switchboard: SB_FRAME_TOO_LARGE: .*1024.* \\(at byte ${good.length}\\)\\n$`),
    );
    expect(result.code).toBe(1);
  });

  it('an unterminated last line is SB_UNEXPECTED_EOF at the offset of that line', async () => {
    const result = await runCli(['decode', '--framing', 'line'], { input: 'a\r\nbb\nccc' });
    expect(result.stdout.toString()).toBe('a\nbb\n');
    expect(result.stderr).toMatch(/^switchboard: SB_UNEXPECTED_EOF: .* \(at byte 6\)\n$/);
    expect(result.code).toBe(1);
  });

  it('--output json prints {"len","hex","text"} per frame; text is null for non-UTF-8', async () => {
    const input = Buffer.concat([lengthFrame('hi "there"'), u32be(2), Buffer.from([0xff, 0x00])]);
    const result = await runCli(['decode', '--framing', 'length:u32be', '--output', 'json'], {
      input,
    });
    expect(result.code).toBe(0);
    const lines = result.stdout
      .toString()
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(lines).toEqual([
      { len: 10, hex: Buffer.from('hi "there"').toString('hex'), text: 'hi "there"' },
      { len: 2, hex: 'ff00', text: null },
    ]);
  });

  it('--output text keeps one frame per line by escaping control characters', async () => {
    const input = Buffer.concat([lengthFrame('a\nb\tc')]);
    const result = await runCli(['decode', '--framing', 'length'], { input });
    expect(result.stdout.toString()).toBe('a\\x0ab\tc\n');
  });

  it('--output text escapes C1 controls and line separators too (a peer cannot drive the terminal)', async () => {
    // U+009B is CSI and U+009D OSC for a terminal that takes 8-bit controls; U+0085 (NEL),
    // U+2028 and U+2029 end a line for many line readers. All came through unescaped.
    const input = lengthFrame('a\u009b2Jb\u0085c\u2028d\u2029e\u009d52;c;eA==\u009cf\u00a0g');
    const result = await runCli(['decode', '--framing', 'length'], { input });
    expect(result.stdout.toString()).toBe(
      'a\\x9b2Jb\\x85c\\u2028d\\u2029e\\x9d52;c;eA==\\x9cf\u00a0g\n',
    );
  });

  it('reads a FILE argument as well as stdin', async () => {
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(join(tmpdir(), 'sb-cli-'));
    const file = join(dir, 'input.bin');
    writeFileSync(file, 'x\ny\n');
    const result = await runCli(['decode', '--framing', 'line', '-o', 'hex', file]);
    expect(result.stdout.toString()).toBe('78\n79\n');
    expect(result.code).toBe(0);
  });
});

describe('switchboard encode', () => {
  it('--input lines: one payload per line, a final LF makes no extra frame', async () => {
    const result = await runCli(['encode', '--framing', 'netstring'], { input: 'ab\n\nc\n' });
    expect(result.stdout.toString()).toBe('2:ab,0:,1:c,');
    const unterminated = await runCli(['encode', '--framing', 'netstring'], { input: 'ab\nc' });
    expect(unterminated.stdout.toString()).toBe('2:ab,1:c,');
    expect(unterminated.code).toBe(0);
  });

  it('--input json rejects a bad record with SB_BAD_INPUT_RECORD naming the line, exit 1', async () => {
    const input = '{"len":1,"hex":"61","text":"a"}\n{"hex":"6"}\n';
    const result = await runCli(['encode', '--framing', 'netstring', '--input', 'json'], { input });
    expect(result.stdout.toString()).toBe('1:a,');
    expect(result.stderr).toMatch(/^switchboard: SB_BAD_INPUT_RECORD: input line 2: /);
    expect(result.code).toBe(1);
  });

  it('a payload the framing cannot carry is a data error (exit 1)', async () => {
    const result = await runCli(['encode', '--framing', 'length:u8'], {
      input: `${'x'.repeat(300)}\n`,
    });
    expect(result.stderr).toMatch(/^switchboard: SB_PAYLOAD_TOO_LARGE: /);
    expect(result.code).toBe(1);
  });

  // Each framing with payloads it can carry; lines in, frames out, then
  // decode --output json | encode --input json must give the same bytes back.
  const cases: Array<[string, string]> = [
    ['line', 'alpha\n\nbeta gamma\n'],
    ['line:crlf', 'alpha\nbeta\n'],
    ['delim:00', 'a\nbc\n\n'],
    ['delim:0d0a', 'x\ny\n'],
    ['fixed:4', 'abcd\nefgh\n'],
    ['length', 'one\n\nthree\n'],
    ['length:u16le', 'one\ntwo\n'],
    ['length:u64be', 'big\n'],
    ['digits:5', 'hello\n\nworld\n'],
    ['varint', `${'v'.repeat(200)}\n\nw\n`],
    ['netstring', 'a,b\n\n:\n'],
    ['mllp', 'MSH|^~\\&|\nPID|1\n'],
    ['content-length', '{"jsonrpc":"2.0"}\n{}\n'],
    ['eof', 'the whole message\n'],
    ['tagged:01=3,02=length:u8', '\u0001abc\n\u0002hello\n'],
  ];
  it.each(cases)('decode | encode reproduces %s', async (framing, lines) => {
    const encoded = await runCli(['encode', '--framing', framing], { input: lines });
    expect(encoded.stderr).toBe('');
    expect(encoded.code).toBe(0);
    const json = await runCli(['decode', '--framing', framing, '--output', 'json'], {
      input: encoded.stdout,
    });
    expect(json.stderr).toBe('');
    expect(json.code).toBe(0);
    const payloads = json.stdout
      .toString()
      .trimEnd()
      .split('\n')
      .map((line) => Buffer.from(JSON.parse(line).hex, 'hex').toString());
    const expected = lines.endsWith('\n') ? lines.slice(0, -1).split('\n') : lines.split('\n');
    expect(payloads).toEqual(framing === 'eof' ? [lines.slice(0, -1)] : expected);
    const again = await runCli(['encode', '--framing', framing, '--input', 'json'], {
      input: json.stdout,
    });
    expect(again.code).toBe(0);
    expect(again.stdout.equals(encoded.stdout)).toBe(true);
  });
});
