// `npm start` on a clone: build dist/ first when it is missing or older than the
// sources (the package is built by `prepack` for the tarball, not on every install).
// Missing alone was not enough: after a `git pull` or an edit, `npm start` served the
// old build, and a newcomer trying a fix saw nothing change. Stale means a file under
// src/, or a file the build reads (package.json, tsconfig*.json), is newer than
// dist/cli/main.js, which every build writes anew (prebuild removes dist/ first).
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;

/** The newest modification time (ms) under `path`, a file or a directory. */
function newest(path) {
  const stat = statSync(path, { throwIfNoEntry: false });
  if (stat === undefined) {
    return 0;
  }
  if (!stat.isDirectory()) {
    return stat.mtimeMs;
  }
  let latest = 0;
  for (const entry of readdirSync(path)) {
    latest = Math.max(latest, newest(join(path, entry)));
  }
  return latest;
}

/** Why dist/ needs building, or undefined when it is up to date. */
function staleReason() {
  const built = statSync(join(root, 'dist/cli/main.js'), { throwIfNoEntry: false });
  if (built === undefined) {
    return 'dist/ is missing';
  }
  const inputs = ['src', 'package.json', 'tsconfig.json', 'tsconfig.build.json'];
  const changed = inputs.find((input) => newest(join(root, input)) > built.mtimeMs);
  return changed === undefined ? undefined : `${changed} changed since dist/ was built`;
}

const reason = staleReason();
if (reason !== undefined) {
  console.error(`${reason}: building it first (npm run build)`);
  const build = spawnSync('npm', ['run', 'build'], {
    cwd: root,
    stdio: 'inherit',
    shell: process.platform === 'win32',
  });
  process.exit(build.status ?? 1);
}
