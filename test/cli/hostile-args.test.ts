/**
 * CLI commands with arguments found by the hostile campaign to escape as SB_INTERNAL
 * (an uncaught exception with a stack trace) instead of a coded error:
 * - `iter-unpack 999999999999I` expanded the format's repeat count into an array
 *   before checking the input (RangeError: Invalid array length);
 * - `serve`/`send` with a --tls-cert/--tls-key that is not PEM (OpenSSL's error).
 * Black-box against dist/ (run `npm run build` first).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { CLI_TEST_TIMEOUT_MS, killAll, runCli } from './cli-process.js';

vi.setConfig({ testTimeout: CLI_TEST_TIMEOUT_MS, hookTimeout: CLI_TEST_TIMEOUT_MS });

const dirs: string[] = [];
afterEach(() => {
  killAll();
  for (const dir of dirs.splice(0)) {
    rmSync(dir, { recursive: true, force: true });
  }
});

function notPem(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sb-hostile-'));
  dirs.push(dir);
  const file = join(dir, 'garbage.pem');
  writeFileSync(file, 'not a PEM block\n');
  return file;
}

/** `serve` on a free loopback port with `file` as both the TLS certificate and key. */
function serveWithTls(file: string) {
  return runCli([
    'serve',
    '--listen',
    '127.0.0.1:0',
    '--framing',
    'line',
    '--tls-cert',
    file,
    '--tls-key',
    file,
  ]);
}

describe('CLI arguments that once escaped as SB_INTERNAL', () => {
  it('iter-unpack with a huge repeat count is SB_STRUCT_ERROR (exit 1)', async () => {
    const result = await runCli(['iter-unpack', '999999999999I', '00']);
    expect(result.stderr).toContain('SB_STRUCT_ERROR');
    expect(result.stderr).not.toContain('SB_INTERNAL');
    expect(result.code).toBe(1);
  });

  it('pack of a format past 64 MiB is SB_STRUCT_ERROR (exit 1), before packing', async () => {
    // Its hex is longer than a string can be: SB_INTERNAL ("Cannot create a string longer
    // than 0x1fffffe8 characters"), after allocating the bytes.
    const result = await runCli(['pack', '@1000000000x']);
    expect(result.stderr).toContain('SB_STRUCT_ERROR');
    expect(result.stderr).not.toContain('SB_INTERNAL');
    expect(result.code).toBe(1);
  });

  it('serve with a certificate that is not PEM is SB_BAD_OPTION (exit 2)', async () => {
    const file = notPem();
    const result = await serveWithTls(file);
    expect(result.stderr).toContain('SB_BAD_OPTION');
    expect(result.stderr).not.toContain('SB_INTERNAL');
    expect(result.code).toBe(2);
  });

  it('a PEM or recording file past its size cap is a usage error, found without reading it all', async () => {
    // Both were read whole first: serve --tls-cert /dev/zero grew to 16 GB in a
    // synchronous read that not even SIGTERM could stop.
    const dir = mkdtempSync(join(tmpdir(), 'sb-hostile-'));
    dirs.push(dir);
    const big = join(dir, 'big.pem');
    writeFileSync(big, Buffer.alloc(4 * 1024 * 1024 + 1, 0x41));
    for (const file of [big, '/dev/zero']) {
      const result = await serveWithTls(file);
      expect(result.stderr).toContain('is larger than 4194304 bytes');
      expect(result.code).toBe(2);
    }
    const replay = await runCli(['replay', '/dev/zero', '--target', '127.0.0.1:1']);
    expect(replay.stderr).toContain('is larger than');
    expect(replay.code).toBe(2);
  });

  it('bench --size past maxFrame is a usage error before the payload is allocated', async () => {
    // 99999999999 escaped as SB_INTERNAL (RangeError: Invalid typed array length);
    // 2000000000 allocated 2 GB before the framing refused it.
    for (const size of ['99999999999', '2000000000']) {
      const result = await runCli(['bench', '--self', '--framing', 'line', '--size', size]);
      expect(result.stderr).toContain('does not fit the framing');
      expect(result.stderr).not.toContain('SB_INTERNAL');
      expect(result.code).toBe(2);
    }
  });

  it('send with a client certificate that is not PEM is SB_BAD_OPTION (exit 2)', async () => {
    const file = notPem();
    const result = await runCli(
      ['send', 'tls://127.0.0.1:1', '--framing', 'line', '--tls-cert', file, '--tls-key', file],
      { input: 'hi\n' },
    );
    expect(result.stderr).toContain('SB_BAD_OPTION');
    expect(result.stderr).not.toContain('SB_INTERNAL');
    expect(result.code).toBe(2);
  });
});
