/**
 * Diagnostics of `processes` workers reach the primary's subscribers (#14 item 7).
 * Before, `serve --json --dispatch processes` printed 0 connection or error events
 * for 80 connections: diagnostics_channel is per process. Now each worker relays
 * its messages over IPC while the primary has subscribers (diagnostics-relay.ts);
 * errors arrive as the same SwitchboardError class with the same code. The CLI
 * side is in test/cli/serve.test.ts. Loopback, port 0, bounded waits.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  type ConnectionCloseMessage,
  type ConnectionOpenMessage,
  diagnosticChannels,
  type FrameErrorMessage,
} from '../../src/diagnostics.js';
import { UnexpectedEofError } from '../../src/errors.js';
import { Tracker, until } from '../server/helpers.js';

const tracker = new Tracker();
const unsubscribers: Array<() => void> = [];
afterEach(async () => {
  for (const unsubscribe of unsubscribers.splice(0)) {
    unsubscribe();
  }
  await tracker.cleanup();
});

function record() {
  const opens: ConnectionOpenMessage[] = [];
  const closes: ConnectionCloseMessage[] = [];
  const errors: FrameErrorMessage[] = [];
  unsubscribers.push(
    diagnosticChannels.connectionOpen.subscribe((message) => opens.push(message)),
    diagnosticChannels.connectionClose.subscribe((message) => closes.push(message)),
    diagnosticChannels.frameError.subscribe((message) => errors.push(message)),
  );
  return { opens, closes, errors };
}

describe('processes: worker diagnostics reach the primary (#14)', () => {
  it('open, close and frame errors of every connection, with the error class and code', async () => {
    const events = record();
    const server = await tracker.server({
      handler: 'echo',
      framing: 'length:u8',
      dispatch: 'processes',
      workers: 2,
    });
    for (let index = 0; index < 4; index++) {
      const channel = await tracker.channel(server.address, 'length:u8');
      await channel.send(`hello ${index}`);
      await channel.receive();
      await channel.close();
    }
    const bad = await tracker.socket(server.address);
    bad.end(Buffer.from([5, 1])); // 1 of 5 body bytes, then EOF
    await until(() => events.closes.length === 5, 10_000);
    expect(events.opens).toHaveLength(5);
    expect(new Set(events.opens.map((open) => open.connectionId)).size).toBe(5);
    expect(events.opens.every((open) => /^w[01]-\d+$/.test(open.connectionId))).toBe(true);
    expect(events.opens.every((open) => open.serverId === events.opens[0]!.serverId)).toBe(true);
    const failed = events.closes.filter((close) => close.code !== null);
    expect(failed.map((close) => close.code)).toEqual(['SB_UNEXPECTED_EOF']);
    expect(failed[0]!.error).toBeInstanceOf(UnexpectedEofError);
    const frameError = events.errors.find((error) => error.code === 'SB_UNEXPECTED_EOF');
    expect(frameError?.error).toBeInstanceOf(UnexpectedEofError);
    expect(frameError?.connectionId).toBe(failed[0]!.connectionId);
    // Traffic counters cross too.
    const clean = events.closes.filter((close) => close.code === null);
    expect(clean.every((close) => close.framesIn === 1 && close.framesOut === 1)).toBe(true);
  });

  it('a subscriber added after the server started sees worker events from the next heartbeat', async () => {
    const server = await tracker.server({
      handler: 'echo',
      framing: 'line',
      dispatch: 'processes',
      workers: 1,
      workerHeartbeatInterval: 50,
    });
    const events = record();
    // Bounded: each round is one served connection; the relay starts within a ping or two.
    for (let round = 0; round < 200 && events.opens.length === 0; round++) {
      const channel = await tracker.channel(server.address, 'line');
      await channel.send('hi');
      await channel.receive();
      await channel.close();
    }
    expect(events.opens.length).toBeGreaterThan(0);
  });
});
