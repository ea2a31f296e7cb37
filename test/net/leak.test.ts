/**
 * A Socket garbage-collected while open emits a process warning naming where it was
 * created (FinalizationRegistry + the stack captured at construction).
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { Socket } from '../../src/net/socket.js';
import { pending, ScriptedTransport } from '../helpers/scripted-socket.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function abandonSocket(transport: ScriptedTransport): void {
  // The only reference to the Socket dies with this frame.
  Socket.from(transport);
}

function closeSocket(transport: ScriptedTransport): Promise<void> {
  const socket = Socket.from(transport);
  socket.destroy();
  return socket.closed.then(() => undefined);
}

async function collectWarnings(run: () => Promise<void> | void): Promise<Error[]> {
  const warnings: Error[] = [];
  const onWarning = (warning: Error): void => {
    warnings.push(warning);
  };
  process.on('warning', onWarning);
  try {
    await run();
    // Bounded: a few GC cycles with turns of the event loop for the finalizers.
    for (let round = 0; round < 20 && warnings.length === 0; round += 1) {
      gc();
      await new Promise((resolve) => setImmediate(resolve));
    }
  } finally {
    process.off('warning', onWarning);
  }
  return warnings;
}

describe('leak warning', () => {
  it('warns with the creation stack when an open Socket is collected, and destroys it', async () => {
    const transport = new ScriptedTransport([pending()]);
    const warnings = await collectWarnings(() => abandonSocket(transport));
    const leak = warnings.find(
      (warning) => (warning as { code?: string }).code === 'SB_SOCKET_LEAK',
    );
    expect(leak?.message).toMatch(/garbage-collected while open/);
    expect(leak?.message).toMatch(/abandonSocket/);
    expect(transport.destroyed).toBe(true);
  });

  it('stays silent for a socket that was closed', async () => {
    const transport = new ScriptedTransport([pending()]);
    const warnings = await collectWarnings(() => closeSocket(transport));
    expect(
      warnings.filter((warning) => (warning as { code?: string }).code === 'SB_SOCKET_LEAK'),
    ).toEqual([]);
  });
});
