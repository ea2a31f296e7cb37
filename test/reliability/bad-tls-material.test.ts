/**
 * A certificate, key or CA that OpenSSL cannot load ("no start line", a key that does
 * not match) reached the caller as node's raw Error, which the CLI reports as
 * SB_INTERNAL with a stack trace (exit 1, "a bug"). It is the caller's configuration:
 * InvalidArgumentError SB_BAD_OPTION, naming no file content.
 */
import { describe, expect, it } from 'vitest';
import { isSwitchboardError } from '../../src/errors.js';
import { connect } from '../../src/net/connect.js';
import { listen } from '../../src/net/listener.js';
import { createServer } from '../../src/server/server.js';

const NOT_PEM = 'QXECHOXQ this is not a PEM block';

async function failure(run: () => Promise<unknown>): Promise<unknown> {
  try {
    const value = (await run()) as { close?: () => Promise<void>; destroy?: () => void };
    await value.close?.();
    value.destroy?.();
    return undefined;
  } catch (error) {
    return error;
  }
}

describe('unusable TLS material is SB_BAD_OPTION', () => {
  const cases: [string, () => Promise<unknown>][] = [
    [
      'createServer',
      () =>
        createServer({
          framing: 'line',
          handler: 'echo',
          listen: '127.0.0.1:0',
          tls: { cert: NOT_PEM, key: NOT_PEM },
        }),
    ],
    ['listen', () => listen('127.0.0.1:0', { tls: { cert: NOT_PEM, key: NOT_PEM } })],
    // Empty files (`serve --tls-cert /dev/null --tls-key /dev/null`): node skips an empty
    // cert/key, so the server listened and failed every handshake.
    [
      'createServer, empty cert and key',
      () =>
        createServer({
          framing: 'line',
          handler: 'echo',
          listen: '127.0.0.1:0',
          tls: { cert: '', key: '' },
        }),
    ],
    ['listen, empty cert and key', () => listen('127.0.0.1:0', { tls: { cert: '', key: [] } })],
    [
      'connect (client cert)',
      () => connect('tls://127.0.0.1:1', { tls: { cert: NOT_PEM, key: NOT_PEM } }),
    ],
  ];
  for (const [name, run] of cases) {
    it(name, async () => {
      const error = await failure(run);
      expect(isSwitchboardError(error, 'SB_BAD_OPTION'), String(error)).toBe(true);
      expect((error as Error).message).not.toContain('QXECHOXQ');
    });
  }
});
