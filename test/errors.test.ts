import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  ERROR_CODES,
  FrameError,
  InvalidArgumentError,
  isSwitchboardError,
  StructError,
  SwitchboardError,
  toSwitchboardError,
  UnexpectedEofError,
} from '../src/errors.js';

describe('error code table', () => {
  const doc = readFileSync(new URL('../docs/ERRORS.md', import.meta.url), 'utf8');
  const documented = new Map<string, { cls: string; summary: string }>();
  for (const match of doc.matchAll(/^\| `(SB_[A-Z0-9_]+)` \| (\w+) \| (.*) \|$/gm)) {
    documented.set(match[1]!, { cls: match[2]!, summary: match[3]!.replaceAll('\\|', '|') });
  }

  it('docs/ERRORS.md lists exactly the codes in ERROR_CODES, with the same class and summary', () => {
    expect([...documented.keys()].sort()).toEqual(Object.keys(ERROR_CODES).sort());
    for (const [code, entry] of Object.entries(ERROR_CODES)) {
      expect(documented.get(code), code).toEqual({ cls: entry.class, summary: entry.summary });
    }
  });

  it('every code is SB_ plus upper snake case', () => {
    for (const code of Object.keys(ERROR_CODES)) {
      expect(code).toMatch(/^SB_[A-Z0-9]+(_[A-Z0-9]+)*$/);
    }
  });

  it('the SPEC names are all present', () => {
    for (const code of [
      'SB_FRAME_TOO_LARGE',
      'SB_BAD_LENGTH_PREFIX',
      'SB_VARINT_OVERLONG',
      'SB_UNKNOWN_TYPE_BYTE',
      'SB_UNEXPECTED_EOF',
      'SB_IDLE_TIMEOUT',
      'SB_FRAME_TIMEOUT',
      'SB_WRITE_TIMEOUT',
      'SB_PEER_UNRESPONSIVE',
      'SB_TOO_MANY_CONNECTIONS',
      'SB_PROXY_HEADER_INVALID',
      'SB_STRUCT_ERROR',
    ]) {
      expect(ERROR_CODES).toHaveProperty(code);
    }
  });
});

describe('error classes', () => {
  it('carry code, offset, cause and a class name', () => {
    const cause = new Error('inner');
    const error = new FrameError('SB_FRAME_TOO_LARGE', 'too big', { offset: 7, cause });
    expect(error).toBeInstanceOf(SwitchboardError);
    expect(error.code).toBe('SB_FRAME_TOO_LARGE');
    expect(error.offset).toBe(7);
    expect(error.cause).toBe(cause);
    expect(error.name).toBe('FrameError');
    expect(new UnexpectedEofError('eof').code).toBe('SB_UNEXPECTED_EOF');
    expect(new StructError('bad').code).toBe('SB_STRUCT_ERROR');
    expect(isSwitchboardError(error, 'SB_FRAME_TOO_LARGE')).toBe(true);
    expect(isSwitchboardError(error, 'SB_TIMEOUT')).toBe(false);
    expect(isSwitchboardError(new Error('x'))).toBe(false);
    expect(new InvalidArgumentError('SB_BAD_OPTION', 'x')).toBeInstanceOf(SwitchboardError);
  });

  it('JSON.stringify gives name, code, message and offset, never the cause', () => {
    // An Error's message is not enumerable: without toJSON a logger's
    // JSON.stringify({ error }) kept only the code. The cause stays out, as it may
    // be another library's error quoting the peer's bytes.
    const cause = new SyntaxError("Unexpected token '\x1b' in JSON");
    const error = new FrameError('SB_FRAME_TOO_LARGE', 'too big', { offset: 7, cause });
    expect(JSON.parse(JSON.stringify({ error }))).toEqual({
      error: { name: 'FrameError', code: 'SB_FRAME_TOO_LARGE', message: 'too big', offset: 7 },
    });
    expect(JSON.parse(JSON.stringify(new StructError('bad')))).toEqual({
      name: 'StructError',
      code: 'SB_STRUCT_ERROR',
      message: 'bad',
    });
  });

  it('maps system errors to stable codes', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    expect(toSwitchboardError(refused).code).toBe('SB_CONNECTION_REFUSED');
    const reset = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
    expect(toSwitchboardError(reset).code).toBe('SB_CONNECTION_RESET');
    expect(toSwitchboardError(new Error('odd')).code).toBe('SB_NETWORK_ERROR');
    const tls = Object.assign(new Error('bad cert'), { code: 'ERR_SSL_WRONG_VERSION_NUMBER' });
    expect(toSwitchboardError(tls).code).toBe('SB_TLS_ERROR');
  });

  it('a refused connect says what to do next, naming the address it tried', async () => {
    const { connect } = await import('../src/net/connect.js');
    const { listen } = await import('../src/net/listener.js');
    // A port that was just free: listened on, then closed.
    const listener = await listen('127.0.0.1:0');
    const port = listener.address.kind === 'tcp' ? listener.address.port : 0;
    await listener.close();
    await expect(connect(`127.0.0.1:${port}`)).rejects.toMatchObject({
      code: 'SB_CONNECTION_REFUSED',
      message: `connect ECONNREFUSED 127.0.0.1:${port} (nothing is listening at 127.0.0.1:${port}: start the server first, or check the address)`,
    });
    const path = join(tmpdir(), `sb-no-such-${process.pid}.sock`);
    await expect(connect(`unix:${path}`)).rejects.toMatchObject({
      code: 'SB_CONNECTION_REFUSED',
      message: `connect ENOENT ${path} (no socket file at ${path}: start the server first, or check the path)`,
    });
    // A busy port: the second listen says how to get another.
    const first = await listen('127.0.0.1:0');
    const taken = first.address.kind === 'tcp' ? first.address.port : 0;
    await expect(listen(`127.0.0.1:${taken}`)).rejects.toMatchObject({
      code: 'SB_NETWORK_ERROR',
      message: expect.stringMatching(
        /^listen EADDRINUSE: .* \(another process is listening there: pick another port, or port 0 for a free one\)$/,
      ),
    });
    await first.close();
    // The HOWTO's port 80 without privileges (root may bind it, so node's error is made here).
    const denied = Object.assign(new Error('listen EACCES: permission denied 0.0.0.0:80'), {
      code: 'EACCES',
      syscall: 'listen',
    });
    expect(toSwitchboardError(denied).message).toBe(
      'listen EACCES: permission denied 0.0.0.0:80 (ports below 1024 need privileges: use a high port, or port 0 for a free one)',
    );
    // Without node's syscall and address nothing is added: no guess at what happened.
    const bare = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    expect(toSwitchboardError(bare).message).toBe('connect ECONNREFUSED');
  });
});
