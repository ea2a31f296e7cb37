/**
 * The `tls` option of connect / openChannel / startConnect, listen and createServer,
 * from plain JavaScript: anything but an object of known TLS options of their types is
 * SB_BAD_OPTION naming the option, before any socket is made. Before, `tls: 5` or
 * `tls: 'yes'` turned TLS on with defaults (and the connection hung in its handshake),
 * `rejectUnauthorized: 'no'` was taken as verifying, and a misspelt `requestcert`
 * left mutual TLS off without a word.
 */
import { describe, expect, it } from 'vitest';
import {
  createServer,
  listen,
  openChannel,
  type ServerTlsOptions,
  startConnect,
  type TlsClientOptions,
} from '../../src/index.js';

const notTls: [what: string, tls: unknown, message: RegExp][] = [
  ['a number', 5, /option "tls" must be an object/],
  ['a string', 'yes', /option "tls" must be an object/],
  ['true', true, /option "tls" must be an object/],
  ['false', false, /option "tls" must be an object/],
  ['null', null, /option "tls" must be an object/],
  ['an array', [], /option "tls" must be an object/],
  [
    'an unknown option',
    { rejectUnauthorised: false },
    /unknown option "rejectUnauthorised" \(did you mean "rejectUnauthorized"\?\)/,
  ],
  [
    'rejectUnauthorized as a string',
    { rejectUnauthorized: 'no' },
    /option "rejectUnauthorized" must be a boolean/,
  ],
  ['servername as a number', { servername: 5 }, /option "servername" must be a string/],
  ['ca as a number', { ca: 5 }, /option "ca" must be PEM text or bytes/],
  [
    'cert as a list holding a number',
    { cert: ['x', 5] },
    /option "cert" must be PEM text or bytes/,
  ],
  [
    'ALPNProtocols as a string',
    { ALPNProtocols: 'h2' },
    /option "ALPNProtocols" must be an array of strings/,
  ],
  ['minVersion as a number', { minVersion: 1.3 }, /option "minVersion" must be a string/],
];

describe('client tls option of the wrong shape', () => {
  for (const [what, tls, message] of notTls) {
    it(`${what}: SB_BAD_OPTION from startConnect and openChannel`, async () => {
      const options = { tls: tls as TlsClientOptions };
      expect(() => startConnect('127.0.0.1:1', options)).toThrow(
        expect.objectContaining({ code: 'SB_BAD_OPTION', message: expect.stringMatching(message) }),
      );
      await expect(
        openChannel('127.0.0.1:1', { framing: 'line', ...options }),
      ).rejects.toMatchObject({ code: 'SB_BAD_OPTION', message: expect.stringMatching(message) });
    });
  }
});

describe('server tls option of the wrong shape', () => {
  // Non-empty PEM text: the shape is checked before the material is loaded.
  const material = { cert: 'CERT', key: 'KEY' };
  const bad: [what: string, tls: unknown, message: RegExp][] = [
    [
      'a misspelt requestCert',
      { ...material, requestcert: true },
      /unknown option "requestcert" \(did you mean "requestCert"\?\)/,
    ],
    [
      'requestCert as a string',
      { ...material, requestCert: 'yes' },
      /option "requestCert" must be a boolean/,
    ],
    [
      'rejectUnauthorized as a number',
      { ...material, requestCert: true, rejectUnauthorized: 0 },
      /option "rejectUnauthorized" must be a boolean/,
    ],
    ['ca as an object', { ...material, ca: {} }, /option "ca" must be PEM text or bytes/],
  ];
  for (const [what, tls, message] of bad) {
    it(`${what}: SB_BAD_OPTION from listen and createServer`, async () => {
      const options = { tls: tls as ServerTlsOptions };
      const expected = { code: 'SB_BAD_OPTION', message: expect.stringMatching(message) };
      await expect(listen('127.0.0.1:0', options)).rejects.toMatchObject(expected);
      await expect(
        createServer({ listen: '127.0.0.1:0', handler: 'echo', framing: 'line', ...options }),
      ).rejects.toMatchObject(expected);
    });
  }
});
