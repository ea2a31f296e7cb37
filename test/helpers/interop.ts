/**
 * The skip/require rule for interop tests against external tools (team rule):
 * a missing tool skips its tests with a printed reason, unless
 * `SWITCHBOARD_REQUIRE_INTEROP=1`, in which case a missing tool is an error, so
 * CI cannot pass by skipping.
 *
 *     const hasSocat = requireTool('socat', ['socat', '-V']);
 *     describe.skipIf(!hasSocat)('with socat', () => { ... });
 */
import { spawnSync } from 'node:child_process';

/**
 * True when `probe` (a command and its arguments) runs and exits 0 within 10 s.
 * When the tool is missing: throws if SWITCHBOARD_REQUIRE_INTEROP is '1', else
 * warns with the reason and returns false.
 */
export function requireTool(name: string, probe: readonly string[]): boolean {
  const [command, ...args] = probe;
  if (command === undefined) {
    throw new Error(`requireTool(${name}): empty probe`);
  }
  const result = spawnSync(command, args, { stdio: 'ignore', timeout: 10_000 });
  if (result.error === undefined && result.status === 0) {
    return true;
  }
  const reason = result.error?.message ?? `exit status ${result.status}`;
  const message = `${name} not available (${probe.join(' ')}: ${reason})`;
  if (process.env.SWITCHBOARD_REQUIRE_INTEROP === '1') {
    throw new Error(`${message}; SWITCHBOARD_REQUIRE_INTEROP=1 requires it`);
  }
  console.warn(`skipping ${name} interop tests: ${message}`);
  return false;
}
