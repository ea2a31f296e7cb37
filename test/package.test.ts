/**
 * The published package, as a new user meets it (the fresh-app check, #17):
 * `npm pack` the built package, `npm install` the tarball into an empty
 * project (offline: its one runtime dependency, re2js, is in npm's cache from
 * this checkout's install) with no warning, then
 *
 * - import it by name ("switchboard", "switchboard/testing") and run its bin;
 * - compile a strict TypeScript program against its declarations
 *   (`strict`, `exactOptionalPropertyTypes`, `skipLibCheck: false`, NodeNext),
 *   which fails if a public `.d.ts` leaks a dependency's types, and run it;
 * - type-check both entry points under moduleResolution node10 (through
 *   typesVersions, as node10 ignores `exports`), node16 and bundler;
 * - use `metrics`/`bus` without the optional peers installed: SB_MISSING_DEPENDENCY
 *   naming the package; then with `prom-client` linked in: /metrics serves.
 *
 * Only `typescript` and `@types/node` (and later `prom-client`) are linked in
 * from this checkout. `npm test` builds dist/ before the tests run.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = new URL('..', import.meta.url).pathname;
const MANIFEST = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  scripts: Record<string, string>;
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  devDependencies: Record<string, string>;
};

/** A strict consumer's tsconfig: what the new user had. */
const CONSUMER_TSCONFIG = {
  compilerOptions: {
    target: 'ES2022',
    module: 'NodeNext',
    moduleResolution: 'NodeNext',
    lib: ['ES2023'],
    types: ['node'],
    strict: true,
    exactOptionalPropertyTypes: true,
    noUncheckedIndexedAccess: true,
    skipLibCheck: false,
    outDir: 'out',
  },
  include: ['app.ts'],
};

/**
 * A program over the main entry points (servers, channels, select, codecs and
 * their stream adapters, struct, FaultProxy); it prints one line the test checks.
 */
const CONSUMER_APP = `
import {
  createServer, openChannel, connect, listen, select, parseFraming, pack, unpack, Struct,
  ERROR_CODES, isSwitchboardError, DEFAULTS, type ServerOptions, type Channel,
  decode, encode, decodeStream, encodeStream, decodeTransform, encodeTransform,
} from 'switchboard';
import { FaultProxy } from 'switchboard/testing';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

const text = (bytes: Uint8Array): string => new TextDecoder().decode(bytes);
const adapters: string[] = [];
// Web streams: frames -> bytes -> frames.
const webFrames = new ReadableStream<string>({
  start(controller) { controller.enqueue('web'); controller.close(); },
}).pipeThrough(encodeStream('length:u16be')).pipeThrough(decodeStream('length:u16be'));
for await (const frame of webFrames) adapters.push(text(frame));
// Async iterables.
for await (const frame of decode(encode(['iterable'], 'netstring'), 'netstring')) adapters.push(text(frame));
// node:stream Transforms in pipeline().
await pipeline(Readable.from(['node']), encodeTransform('line'), decodeTransform('line'),
  async (frames: AsyncIterable<Uint8Array>) => { for await (const frame of frames) adapters.push(text(frame)); });

const options: ServerOptions = { handler: 'echo', framing: 'line', listen: '127.0.0.1:0' };
const server = await createServer(options);
const proxy = await FaultProxy.start({ target: server.address });
const channel: Channel = await openChannel(proxy.address, { framing: 'line' });
await channel.send('hello');
const echoed = await channel.receive();
const reader = channel.readable.getReader();
await channel.send('readable');
const viaReadable = await reader.read();
reader.releaseLock();
await channel.close();

const listener = await listen('127.0.0.1:0');
const dialing = connect(listener.address);
const ready = await select([listener], [], { timeout: 5000 });
const client = await dialing;
const accepted = await listener.accept();
client.destroy();
accepted.destroy();
await listener.close();
await proxy.close();
await server.close();

// A server answering channel.request() next to its DATA handler (sbp).
const requestServer = await createServer({
  framing: 'sbp',
  handler: 'echo',
  onRequest: (body, context) => \`\${context.proxied ? 'proxied' : 'direct'}:\${text(body)}\`,
  heartbeat: { interval: 1000, maxOutstanding: 2 },
});
const sbpChannel = await openChannel(requestServer.address, { framing: 'sbp' });
const answered = text(await sbpChannel.request('question', { timeout: 5000 }));
await sbpChannel.close();
await requestServer.close();

const decoder = parseFraming('length:u16be').createDecoder();
const [a, b] = unpack('!HI', pack('!HI', 1, 2));
const size = new Struct('<q').size;

let missing = '';
try {
  await createServer({ handler: 'echo', metrics: '127.0.0.1:0' });
} catch (error) {
  if (isSwitchboardError(error, 'SB_MISSING_DEPENDENCY')) missing = error.message;
}
console.log(JSON.stringify({
  echoed: echoed === null ? null : text(echoed),
  viaReadable: viaReadable.value === undefined ? null : text(viaReadable.value),
  answered,
  adapters,
  selected: ready.readable.length,
  decoder: typeof decoder.next,
  unpacked: [a, b],
  size,
  codes: 'SB_MISSING_DEPENDENCY' in ERROR_CODES,
  maxFrame: DEFAULTS.maxFrame,
  missing,
}));
`;

describe('the packed package in a fresh project', () => {
  let project = '';
  let installOutput = '';

  beforeAll(() => {
    if (!existsSync(join(ROOT, 'dist', 'index.js'))) {
      throw new Error('dist/ is missing: run `npm run build` (npm test does it first)');
    }
    project = mkdtempSync(join(tmpdir(), 'sb-package-'));
    // --ignore-scripts: dist/ is already built (prepack would build it again).
    const packed = execFileSync(
      'npm',
      ['pack', '--ignore-scripts', '--json', '--pack-destination', project],
      { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 60_000 },
    );
    const [{ filename }] = JSON.parse(packed) as [{ filename: string }];
    writeFileSync(
      join(project, 'package.json'),
      '{"name":"consumer","version":"1.0.0","type":"module","private":true}',
    );
    const install = spawnSync(
      'npm',
      ['install', '--offline', '--no-audit', '--no-fund', '--loglevel=warn', `./${filename}`],
      { cwd: project, encoding: 'utf8', timeout: 120_000 },
    );
    installOutput = `${install.stdout}${install.stderr}`;
    if (install.status !== 0) {
      throw new Error(`npm install of the tarball failed:\n${installOutput}`);
    }
    for (const tool of ['typescript', '@types']) {
      symlinkSync(join(ROOT, 'node_modules', tool), join(project, 'node_modules', tool));
    }
  }, 180_000);

  afterAll(() => {
    if (project !== '') {
      rmSync(project, { recursive: true, force: true });
    }
  });

  function run(script: string, file = 'main.js'): string {
    writeFileSync(join(project, file), script);
    return execFileSync(process.execPath, [file], {
      cwd: project,
      encoding: 'utf8',
      timeout: 30_000,
    }).trim();
  }

  it('installs with no warning, no install-time script and re2js its only runtime dependency', () => {
    expect(installOutput).not.toMatch(/warn|deprecated|ERR/i);
    expect(MANIFEST.scripts.prepare).toBeUndefined();
    expect(MANIFEST.scripts.prepack).toBe('npm run build');
    expect(MANIFEST.scripts.install).toBeUndefined();
    expect(MANIFEST.scripts.postinstall).toBeUndefined();
    // re2js (pure JavaScript, no dependencies of its own) runs matchText in linear time.
    expect(Object.keys(MANIFEST.dependencies ?? {})).toEqual(['re2js']);
    expect(existsSync(join(project, 'node_modules/re2js/package.json'))).toBe(true);
    const installed = JSON.parse(
      readFileSync(join(project, 'node_modules/switchboard/package.json'), 'utf8'),
    ) as { scripts?: Record<string, string> };
    expect(installed.scripts?.prepare).toBeUndefined();
    // The optional peers were not installed with it.
    expect(existsSync(join(project, 'node_modules/prom-client'))).toBe(false);
    expect(existsSync(join(project, 'node_modules/@nats-io'))).toBe(false);
  });

  it('declares prom-client and @nats-io/transport-node as optional peers (and dev deps for the tests)', () => {
    for (const name of ['prom-client', '@nats-io/transport-node']) {
      expect(MANIFEST.peerDependencies?.[name]).toBeDefined();
      expect(MANIFEST.peerDependenciesMeta?.[name]?.optional).toBe(true);
      expect(MANIFEST.devDependencies[name]).toBeDefined();
    }
    expect(MANIFEST.devDependencies.nats).toBeUndefined();
  });

  it('imports "switchboard" by name and packs/frames as documented', () => {
    const output = run(`
      import { pack, parseFraming, NEED_DATA, ERROR_CODES } from 'switchboard';
      const framing = parseFraming('length:u16be');
      const decoder = framing.createDecoder();
      for (const chunk of framing.createEncoder().encode(new TextEncoder().encode('hi'))) decoder.push(chunk);
      const frame = decoder.next();
      console.log(Buffer.from(pack('!HI', 1, 2)).toString('hex'), frame === NEED_DATA ? 'need' : new TextDecoder().decode(frame), 'SB_FRAME_TOO_LARGE' in ERROR_CODES);
    `);
    expect(output).toBe('000100000002 hi true');
  });

  it('imports "switchboard/testing", and a matchText fault compiles (re2js resolves)', () => {
    expect(
      run(`
        import { FaultProxy } from 'switchboard/testing';
        const proxy = await FaultProxy.start({ target: '127.0.0.1:1', framing: 'line' });
        proxy.addFault('upstream', { type: 'message', action: 'drop', matchText: '(a+)+$' });
        let refused = '';
        try { proxy.addFault('upstream', { type: 'message', action: 'drop', matchText: '(a)\\\\1' }); }
        catch (error) { refused = error.code; }
        await proxy.close();
        console.log(typeof FaultProxy.start, refused);
      `),
    ).toBe('function SB_INVALID_ARGUMENT');
  });

  it('in a `node --test` file, everything closed leaves no handle and the process exits by itself', () => {
    // What docs/TESTING.md "In another project's test suite" promises: once close()
    // resolves, no timer or socket of switchboard's is left, so the runner's child exits
    // (execFileSync's timeout bounds it).
    writeFileSync(
      join(project, 'lifecycle.test.mjs'),
      `
      import { test, after } from 'node:test';
      import assert from 'node:assert/strict';
      import { createServer, openChannel } from 'switchboard';
      import { FaultProxy, ToxiproxyServer } from 'switchboard/testing';
      const baseline = new Set(process.getActiveResourcesInfo());
      test('servers on port 0 in parallel, proxied, closed', async () => {
        const servers = await Promise.all(Array.from({ length: 8 }, () =>
          createServer({ handler: 'echo', framing: 'line', listen: '127.0.0.1:0', idleTimeout: 60_000 })));
        assert.equal(new Set(servers.map((s) => s.address)).size, 8);
        const proxies = await Promise.all(servers.map((s) =>
          FaultProxy.start({ target: s.address, framing: 'line' })));
        proxies[0].addFault('upstream', { type: 'latency', ms: 5 });
        proxies[0].addFault('upstream', { type: 'message', action: 'delay', delayMs: 5, matchText: 'x' });
        const api = await ToxiproxyServer.start({ listen: '127.0.0.1:0' });
        const channel = await openChannel(proxies[0].address, { framing: 'line' });
        await channel.send('x');
        assert.equal(Buffer.from(await channel.receive({ timeout: 5000 })).toString(), 'x');
        await channel[Symbol.asyncDispose]();
        await api[Symbol.asyncDispose]();
        await Promise.all([...proxies, ...servers].map((x) => x[Symbol.asyncDispose]()));
      });
      after(() => {
        const left = process.getActiveResourcesInfo().filter((kind) => !baseline.has(kind));
        console.log('LEFT ' + JSON.stringify(left));
      });
      `,
    );
    const output = execFileSync(process.execPath, ['--test', 'lifecycle.test.mjs'], {
      cwd: project,
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(output).toMatch(/^# pass 1$/m);
    expect(output).toMatch(/LEFT \[\]/);
  });

  it('require()s from CommonJS where Node can load ES modules so, and says why where it cannot', () => {
    // The package is ES modules only. Node >= 20.19 require()s them (require(esm));
    // the exports map must let it (without a "default" condition, require() met
    // ERR_PACKAGE_PATH_NOT_EXPORTED, which reads as a broken package), and it
    // must be the same module instance an import() gets (no dual-package hazard).
    const output = run(
      `
      let outcome;
      try {
        const main = require('switchboard');
        const testing = require('switchboard/testing');
        outcome = import('switchboard').then((esm) =>
          [typeof main.createServer, typeof testing.FaultProxy.start, esm.SwitchboardError === main.SwitchboardError].join(' '));
      } catch (error) {
        outcome = Promise.resolve(error.code);
      }
      outcome.then(console.log);
    `,
      'main.cjs',
    );
    const requireEsm = (process.features as { require_module?: boolean }).require_module === true;
    expect(output).toBe(requireEsm ? 'function function true' : 'ERR_REQUIRE_ESM');
  });

  it('ships the bin, the docs, no tests, no sources and no source maps pointing at them', () => {
    const version = execFileSync(
      process.execPath,
      [join(project, 'node_modules/switchboard/dist/cli/main.js'), '--version'],
      { encoding: 'utf8', timeout: 30_000 },
    ).trim();
    expect(version).toMatch(/\d+\.\d+\.\d+/);
    const shipped = join(project, 'node_modules/switchboard');
    expect(existsSync(join(shipped, 'docs/ERRORS.md'))).toBe(true);
    expect(existsSync(join(shipped, 'test'))).toBe(false);
    expect(existsSync(join(shipped, 'src'))).toBe(false);
    const files = execFileSync('find', [join(shipped, 'dist'), '-name', '*.map'], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(files.trim()).toBe('');
    expect(readFileSync(join(shipped, 'dist/index.js'), 'utf8')).not.toContain('sourceMappingURL');
  });

  it('public declarations import no dependency and keep no @internal member', () => {
    const declarations = execFileSync(
      'grep',
      [
        '-rlE',
        `from ['"](prom-client|nats|@nats-io/[^'"]+|re2js)['"]|@internal`,
        '--include=*.d.ts',
        '.',
      ],
      { cwd: join(project, 'node_modules/switchboard/dist'), encoding: 'utf8' },
    );
    // Only the internal module that loads prom-client names it; no entry point's
    // declarations reach it (the strict compile below, with no prom-client
    // installed, would fail if one did).
    expect(declarations.trim().split('\n').sort()).toEqual(['./server/prometheus.d.ts']);
  });

  it('a strict TypeScript app (skipLibCheck false, exactOptionalPropertyTypes) compiles and runs', () => {
    writeFileSync(join(project, 'tsconfig.json'), JSON.stringify(CONSUMER_TSCONFIG, null, 2));
    writeFileSync(join(project, 'app.ts'), CONSUMER_APP);
    const compile = spawnSync(
      process.execPath,
      [join(project, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'],
      { cwd: project, encoding: 'utf8', timeout: 120_000 },
    );
    expect(`${compile.stdout}${compile.stderr}`.trim()).toBe('');
    expect(compile.status).toBe(0);
    const output = execFileSync(process.execPath, ['out/app.js'], {
      cwd: project,
      encoding: 'utf8',
      timeout: 30_000,
    });
    const result = JSON.parse(output) as Record<string, unknown>;
    expect(result).toEqual({
      echoed: 'hello',
      viaReadable: 'readable',
      answered: 'direct:question',
      adapters: ['web', 'iterable', 'node'],
      selected: 1,
      decoder: 'function',
      unpacked: [1, 2],
      size: 8,
      codes: true,
      maxFrame: 8 * 1024 * 1024,
      missing: expect.stringContaining('"prom-client"'),
    });
  }, 180_000);

  it('both entry points type-check under moduleResolution node10 (typesVersions), node16 and bundler', () => {
    // node10 ("moduleResolution": "node") ignores "exports": without typesVersions,
    // 'switchboard/testing' was TS2307 there. The strict config makes an unresolved
    // module an error rather than `any`, and the typed uses check what was found.
    writeFileSync(
      join(project, 'resolution.ts'),
      `import { createServer, type Channel, type ServerOptions } from 'switchboard';
import { FaultProxy, type FaultProxyOptions } from 'switchboard/testing';
const options: ServerOptions = { handler: 'echo', framing: 'line' };
const proxyOptions: FaultProxyOptions = { target: '127.0.0.1:1' };
export const used = [createServer, FaultProxy.start, options, proxyOptions] as const;
export type Used = Channel;
`,
    );
    const compile = (moduleResolution: string): string => {
      const module = moduleResolution === 'node16' ? 'node16' : 'esnext';
      const config = {
        compilerOptions: {
          ...CONSUMER_TSCONFIG.compilerOptions,
          module,
          moduleResolution,
          noEmit: true,
        },
        include: ['resolution.ts'],
      };
      writeFileSync(join(project, `tsconfig.${moduleResolution}.json`), JSON.stringify(config));
      const result = spawnSync(
        process.execPath,
        [
          join(project, 'node_modules/typescript/bin/tsc'),
          '-p',
          `tsconfig.${moduleResolution}.json`,
        ],
        { cwd: project, encoding: 'utf8', timeout: 120_000 },
      );
      return `${result.status}${result.stdout}${result.stderr}`.trim();
    };
    for (const moduleResolution of ['node10', 'node16', 'bundler']) {
      expect(compile(moduleResolution), moduleResolution).toBe('0');
    }
  }, 180_000);

  it('without the optional peers: SB_MISSING_DEPENDENCY names the package; npm start needs neither', () => {
    const output = run(`
      import { createServer } from 'switchboard';
      const outcomes = [];
      for (const options of [{ metrics: '127.0.0.1:0' }, { bus: 'nats://127.0.0.1:4222' }]) {
        try {
          const server = await createServer({ handler: 'chat', framing: 'line', ...options });
          await server.close();
          outcomes.push('started');
        } catch (error) {
          outcomes.push(error.code + ' ' + error.message);
        }
      }
      const plain = await createServer({ handler: 'chat', framing: 'line' });
      outcomes.push(plain.metricsUrl === null ? 'plain chat server ok' : 'metrics?');
      await plain.close();
      console.log(outcomes.join('\\n'));
    `).split('\n');
    expect(outcomes(output)).toEqual([
      ['SB_MISSING_DEPENDENCY', 'prom-client'],
      ['SB_MISSING_DEPENDENCY', '@nats-io/transport-node'],
      ['plain', 'plain chat server ok'],
    ]);
    expect(output[0]).toContain('npm install prom-client');
    // The CLI says the same, as a usage-class error (exit 2).
    const serve = spawnSync(
      process.execPath,
      [
        join(project, 'node_modules/switchboard/dist/cli/main.js'),
        'serve',
        '--listen',
        '127.0.0.1:0',
        '--framing',
        'line',
        '--mode',
        'echo',
        '--metrics',
        '127.0.0.1:0',
      ],
      { cwd: project, encoding: 'utf8', timeout: 30_000 },
    );
    expect(serve.status).toBe(2);
    expect(serve.stderr).toMatch(/^switchboard: SB_MISSING_DEPENDENCY: .*"prom-client"/m);
  });

  it('with prom-client installed, the same app serves /metrics', () => {
    mkdirSync(join(project, 'node_modules'), { recursive: true });
    symlinkSync(
      join(ROOT, 'node_modules', 'prom-client'),
      join(project, 'node_modules/prom-client'),
    );
    const output = run(`
      import { createServer } from 'switchboard';
      const server = await createServer({ handler: 'echo', metrics: '127.0.0.1:0' });
      const text = await (await fetch(server.metricsUrl)).text();
      await server.close();
      console.log(text.includes('switchboard_received_bytes_total 0'), text.includes('process_cpu_user_seconds_total'));
    `);
    expect(output).toBe('true true');
  });
});

/** Each line as [code or 'plain', the package named in it or the line]. */
function outcomes(lines: string[]): [string, string][] {
  return lines.map((line) => {
    if (!line.startsWith('SB_')) {
      return ['plain', line];
    }
    const named = /needs the package "([^"]+)"/.exec(line);
    return [line.split(' ')[0]!, named?.[1] ?? line];
  });
}
