import diagnosticsChannel from 'node:diagnostics_channel';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type ConnectionOpenMessage,
  diagnosticChannels,
  type ServerCloseMessage,
  type ServerListeningMessage,
} from '../../src/diagnostics.js';
import { Tracker, until } from './helpers.js';

const tracker = new Tracker();
afterEach(() => tracker.cleanup());

describe('diagnostics channels', () => {
  it('have the documented names and publish nothing without subscribers', () => {
    expect(Object.values(diagnosticChannels).map((channel) => channel.name)).toEqual(
      expect.arrayContaining([
        'switchboard:connection:open',
        'switchboard:connection:close',
        'switchboard:frame:error',
        'switchboard:server:listening',
        'switchboard:server:close',
      ]),
    );
    for (const channel of Object.values(diagnosticChannels)) {
      expect(channel.hasSubscribers).toBe(false);
    }
  });

  it('server:listening, connection:open and server:close carry the documented payloads', async () => {
    const listening: ServerListeningMessage[] = [];
    const opened: ConnectionOpenMessage[] = [];
    const closed: ServerCloseMessage[] = [];
    // Plain node subscribers (as the CLI uses them) see the same messages.
    const onListening = (message: unknown): void => {
      listening.push(message as ServerListeningMessage);
    };
    diagnosticsChannel.subscribe('switchboard:server:listening', onListening);
    const stopOpen = diagnosticChannels.connectionOpen.subscribe((message) => opened.push(message));
    const stopClose = diagnosticChannels.serverClose.subscribe((message) => closed.push(message));
    try {
      const server = await tracker.server({
        handler: 'echo',
        framing: 'line',
        metrics: '127.0.0.1:0',
      });
      expect(listening).toEqual([
        {
          serverId: expect.any(Number),
          address: server.address,
          dispatch: 'loop',
          metricsAddress: server.metricsUrl,
        },
      ]);
      const channel = await tracker.channel(server.address, 'line');
      await channel.send('x');
      await channel.receive();
      await until(() => opened.length === 1);
      expect(opened[0]).toEqual({
        serverId: listening[0]!.serverId,
        connectionId: '1',
        remoteAddress: channel.socket.localAddress,
        localAddress: server.address,
        proxied: false,
      });
      await channel.close();
      await server.close();
      expect(closed).toHaveLength(1);
      expect(closed[0]).toMatchObject({
        address: server.address,
        destroyed: 0,
        metrics: { framesIn: 1, framesOut: 1 },
      });
    } finally {
      diagnosticsChannel.unsubscribe('switchboard:server:listening', onListening);
      stopOpen();
      stopClose();
    }
    expect(diagnosticChannels.serverListening.hasSubscribers).toBe(false);
  });
});
