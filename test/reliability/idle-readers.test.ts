/**
 * The idle rule counts both directions (issue #14, item 12): a chat client that only
 * reads is alive as long as the server's output to it keeps being accepted, as with
 * HAProxy's `timeout client`. Before, only inbound bytes counted and such a reader was
 * cut with `SB_IDLE_TIMEOUT` after idleTimeout. Time is a ManualClock (no sleeps).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { diagnosticChannels, type FrameErrorMessage } from '../../src/diagnostics.js';
import { ManualClock, Tracker, until } from '../server/helpers.js';

const IDLE_TIMEOUT = 1000;
const tracker = new Tracker();
let errors: FrameErrorMessage[] = [];
let unsubscribe: () => void = () => undefined;

beforeEach(() => {
  errors = [];
  unsubscribe = diagnosticChannels.frameError.subscribe((message) => errors.push(message));
});
afterEach(async () => {
  unsubscribe();
  await tracker.cleanup();
});

describe('idle timeout with a reader that never sends (#14)', () => {
  it('a chat member that only reads stays connected while it accepts output', async () => {
    const clock = new ManualClock();
    const server = await tracker.server({
      handler: 'chat',
      framing: 'line',
      idleTimeout: IDLE_TIMEOUT,
      clock,
    });
    const reader = await tracker.channel(server.address, 'line');
    const writer = await tracker.channel(server.address, 'line');
    await until(() => server.connections === 2);
    // 10 lines, 600 ms apart: 6 idle timeouts' worth of time without a byte from the reader.
    for (let round = 0; round < 10; round++) {
      await writer.send(`line ${round}`);
      expect(new TextDecoder().decode((await reader.receive())!)).toBe(`line ${round}`);
      clock.advance(600);
    }
    expect(errors).toEqual([]);
    expect(server.connections).toBe(2);
  });

  it('the same reader is cut once output stops too: idleTimeout after the last accepted write', async () => {
    const clock = new ManualClock();
    const server = await tracker.server({
      handler: 'chat',
      framing: 'line',
      idleTimeout: IDLE_TIMEOUT,
      clock,
    });
    const reader = await tracker.channel(server.address, 'line');
    const writer = await tracker.channel(server.address, 'line');
    await until(() => server.connections === 2);
    clock.advance(600);
    await writer.send('last');
    expect(new TextDecoder().decode((await reader.receive())!)).toBe('last');
    clock.advance(600); // 1200 since the reader's connection opened, 600 since the write
    expect(errors).toEqual([]);
    clock.advance(400); // 1000 since the write (and since the writer's last byte)
    await until(() => errors.length === 2);
    expect(errors.map((error) => error.code)).toEqual(['SB_IDLE_TIMEOUT', 'SB_IDLE_TIMEOUT']);
    expect(await reader.receive()).toBeNull();
  });
});
