/**
 * `proxy --tap` / `--record` format every message from inside the proxy's socket data
 * event: a message too large for one line (a peer's 70 MB frame of zero bytes under a
 * raised --max-frame) threw a RangeError there, which ended the proxy. Now the tap
 * line says it is too large and the record keeps the bytes (hex) without the text.
 */
import { describe, expect, it } from 'vitest';
import { RecordFormatter, TapFormatter } from '../../src/cli/tap.js';
import type { FaultProxyMessage } from '../../src/testing/index.js';

describe('tap and record of a message too large for one line', () => {
  it('json tap line says so; the record drops only the text', () => {
    const payload = new Uint8Array(70_000_000);
    const message: FaultProxyMessage = {
      connection: 3,
      direction: 'upstream',
      payload,
      wireBytes: payload.length + 1,
      raw: false,
    };
    const tap = new TapFormatter('json').message(message);
    expect(tap).toMatch(/ #3 -> 70000000 \(too large to print as one json line\)$/);
    const record = new RecordFormatter().message(message);
    expect(record.length).toBeGreaterThan(140_000_000);
    expect(record.endsWith(',"text":null}')).toBe(true);
    expect(record).toMatch(/^\{"t":[0-9.]+,"conn":3,"dir":"->","len":70000000,"hex":"0000/);
  });
});
