/**
 * Collects the unhandled rejections raised while `work` runs, plus two event-loop
 * turns after it (a rejection is reported once the microtask queue drains). Ours is
 * prepended, so vitest's own handler (test/helpers/no-unhandled.ts) does not also
 * fail the test for what it expects to see.
 */
export async function unhandledDuring(work: () => Promise<void>): Promise<unknown[]> {
  const seen: unknown[] = [];
  const onUnhandled = (reason: unknown): void => {
    seen.push(reason);
  };
  process.prependListener('unhandledRejection', onUnhandled);
  try {
    await work();
    for (let turn = 0; turn < 2; turn += 1) {
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  } finally {
    process.removeListener('unhandledRejection', onUnhandled);
  }
  return seen;
}
