/**
 * select's `timeout: Infinity` is "no deadline", as every other call's is: it was
 * read as 0, which for select means "poll", so it returned at once with nothing ready
 * and a `for (;;) await select(..., { timeout: Infinity })` loop spun a core.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { select } from '../../src/index.js';
import { Loopback } from '../helpers/loopback.js';

const loop = new Loopback();
afterEach(() => loop.cleanup());

function turn(): Promise<void> {
  return new Promise<void>((resolve) => setImmediate(resolve));
}

describe('select with timeout: Infinity', () => {
  it('waits until a socket is readable', async () => {
    const { client, server } = await loop.pair();
    let settled = false;
    const waiting = select([client], [], { timeout: Number.POSITIVE_INFINITY }).finally(() => {
      settled = true;
    });
    for (let i = 0; i < 5; i += 1) {
      await turn();
    }
    expect(settled).toBe(false);
    await server.sendAll('x');
    const result = await waiting;
    expect(result.readable).toEqual([client]);
  });

  it('with nothing to wait on is the same usage error as no timeout', async () => {
    await expect(select([], [], { timeout: Number.POSITIVE_INFINITY })).rejects.toMatchObject({
      code: 'SB_INVALID_ARGUMENT',
    });
  });
});
