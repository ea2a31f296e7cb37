/**
 * mulberry32: a tiny, fast, well-distributed 32-bit PRNG returning floats in [0, 1).
 * One seed replays a whole run (FaultProxy jitter, the soak, the tests' random sizes).
 * Good enough for test traffic; not for anything security-related.
 */

/** The seed FaultProxy and the Toxiproxy API use when none is given. */
export const DEFAULT_SEED = 1;

export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let mixed = Math.imul(state ^ (state >>> 15), 1 | state);
    mixed = (mixed + Math.imul(mixed ^ (mixed >>> 7), 61 | mixed)) ^ mixed;
    return ((mixed ^ (mixed >>> 14)) >>> 0) / 4294967296;
  };
}
