/**
 * Timeouts beyond what a node timer holds (2^31 - 1 ms). node runs a longer timer after
 * 1 ms (TimeoutOverflowWarning): with `proxyProtocol` and `frameTimeout: 3e9`, the
 * PROXY header deadline fired at once and every client was cut before its header
 * arrived. Every server timer is clamped to the timer's range (net/clock timerDelay).
 * Loopback, in the loop and processes models (the worker reads the header there).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { encodeProxyHeader } from '../../src/server/proxy-protocol.js';
import { Tracker } from '../server/helpers.js';

const tracker = new Tracker();
let overflow = 0;
const onWarning = (warning: Error): void => {
  if (warning.name === 'TimeoutOverflowWarning') {
    overflow += 1;
  }
};
afterEach(async () => {
  process.off('warning', onWarning);
  await tracker.cleanup();
});

const header = encodeProxyHeader({
  version: 1,
  source: { address: '192.0.2.7', port: 4000 },
  destination: { address: '192.0.2.8', port: 7070 },
});

describe.each(['loop', 'processes'] as const)('%s: timeouts of 3e9 ms', (dispatch) => {
  it('a PROXY header sent after connecting is read; the line echoes', async () => {
    overflow = 0;
    process.on('warning', onWarning);
    const server = await tracker.server({
      framing: 'line',
      handler: 'echo',
      dispatch,
      workers: 1,
      proxyProtocol: true,
      frameTimeout: 3_000_000_000,
      idleTimeout: 3_000_000_000,
    });
    const socket = await tracker.socket(server.address);
    const reply = new Promise<string>((resolve) => {
      let buffered = '';
      socket.on('data', (chunk: Buffer) => {
        buffered += chunk.toString();
        if (buffered.includes('\n')) {
          resolve(buffered);
        }
      });
      socket.on('close', () => resolve(`closed: ${buffered}`));
    });
    // The header comes in its own write, after the server accepted the connection
    // (the first echo proves the server side exists before the header is judged).
    socket.write(header);
    socket.write('hello\n');
    expect(await reply).toBe('hello\n');
    expect(overflow).toBe(0);
  });
});
