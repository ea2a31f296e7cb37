/**
 * The worker entry files must work from the compiled package too (no tsx): a
 * plain `node` process imports dist/index.js and runs echo under `threads` and
 * `processes`. `npm test` builds dist/ first; run `npm run build` before running
 * this file alone. A dist/ older than src/ would test stale code, so it is skipped
 * with a warning then (unless SWITCHBOARD_REQUIRE_INTEROP=1).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DIST_ENTRY = `${ROOT}dist/index.js`;
/** Every server source: dist must have been built after the last change to any of them. */
const SERVER_SOURCES = ['src/server', 'src/server/dispatch'].flatMap((directory) =>
  readdirSync(`${ROOT}${directory}`)
    .filter((name) => name.endsWith('.ts'))
    .map((name) => `${directory}/${name}`),
);

function distIsFresh(): boolean {
  if (!existsSync(DIST_ENTRY)) {
    return false;
  }
  const built =
    statSync(`${ROOT}dist/server/dispatch/processes.js`, { throwIfNoEntry: false })?.mtimeMs ?? 0;
  return SERVER_SOURCES.every((source) => statSync(`${ROOT}${source}`).mtimeMs <= built);
}

const fresh = distIsFresh();
if (!fresh) {
  const message = 'dist/ is missing or older than src/server (run `npm run build`)';
  if (process.env.SWITCHBOARD_REQUIRE_INTEROP === '1') {
    throw new Error(`${message}; SWITCHBOARD_REQUIRE_INTEROP=1 requires it`);
  }
  console.warn(`skipping dist worker-entry test: ${message}`);
}

const SCRIPT = `
import net from 'node:net';
import { createServer } from ${JSON.stringify(DIST_ENTRY)};
for (const dispatch of ['threads', 'processes']) {
  const server = await createServer({ handler: 'echo', framing: 'line', dispatch, workers: 1 });
  const port = Number(server.address.split(':').at(-1));
  const reply = await new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let text = '';
    socket.on('data', (chunk) => { text += chunk; if (text.endsWith('\\n')) { socket.end(); resolve(text.trim()); } });
    socket.on('error', reject);
    socket.write('from dist via ' + dispatch + '\\n');
  });
  console.log(reply);
  await server.close({ timeout: 2000 });
}
`;

describe.skipIf(!fresh)('compiled package (dist/)', () => {
  it('threads and processes start their .js worker entries without tsx', () => {
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', SCRIPT], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 30_000,
      env: { ...process.env, NODE_OPTIONS: '' },
    });
    expect(run.stderr).toBe('');
    expect(run.stdout.trim().split('\n')).toEqual([
      'from dist via threads',
      'from dist via processes',
    ]);
    expect(run.status).toBe(0);
  });
});
