/**
 * The scale-out demo: nats-server + N switchboard chat instances + HAProxy in
 * front, all on loopback, all stopped by Ctrl-C (docs/SCALING.md).
 *
 *     npx tsx deploy/demo.ts [--instances N] [--port 7070] [--nats-port 4222]
 *                            [--framing line] [--balance roundrobin|leastconn]
 *                            [--workers N]   # N worker processes per instance
 *     npx tsx deploy/demo.ts --print-config     # the HAProxy config it would run
 *
 * Then, in other terminals: `nc 127.0.0.1 7070` (or
 * `npx tsx src/cli/main.ts connect 127.0.0.1:7070 --framing line`) and type.
 * Every instance serves `--mode chat --proxy-protocol --bus nats://...`, with
 * Prometheus metrics on its own port (printed at start). Kill one instance
 * (its pid is printed) to watch HAProxy move new connections to the others.
 */
import { parseArgs } from 'node:util';
import {
  ChildSet,
  freePort,
  type Instance,
  renderHaproxyConfig,
  startHaproxy,
  startInstance,
  startNats,
} from './stack.js';

const USAGE =
  'usage: npx tsx deploy/demo.ts [--instances N] [--port PORT] [--nats-port PORT]\n' +
  '                              [--framing SPEC] [--balance roundrobin|leastconn] [--workers N]\n' +
  '                              [--print-config]';

function fail(message: string): never {
  process.stderr.write(`demo: ${message}\n${USAGE}\n`);
  process.exit(2);
}

function portOption(value: string | undefined, fallback: number, name: string): number {
  if (value === undefined) {
    return fallback;
  }
  const port = Number(value);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    fail(`--${name} must be a port number 1..65535`);
  }
  return port;
}

async function main(): Promise<void> {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      options: {
        instances: { type: 'string', default: '3' },
        port: { type: 'string' },
        'nats-port': { type: 'string' },
        framing: { type: 'string', default: 'line' },
        balance: { type: 'string', default: 'roundrobin' },
        workers: { type: 'string', default: '0' },
        'print-config': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (error) {
    fail(error instanceof Error ? error.message : String(error));
  }
  if (values.help === true) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const count = Number(values.instances);
  if (!Number.isInteger(count) || count < 1 || count > 32) {
    fail('--instances must be 1..32');
  }
  const balance = values.balance;
  if (balance !== 'roundrobin' && balance !== 'leastconn') {
    fail('--balance must be roundrobin or leastconn');
  }
  // 0: each instance is one process (dispatch loop); N: N worker processes behind its primary.
  const workers = Number(values.workers);
  if (!Number.isInteger(workers) || workers < 0 || workers > 64) {
    fail('--workers must be 0..64');
  }
  const dispatchArgs =
    workers === 0 ? [] : ['--dispatch', 'processes', '--workers', String(workers)];
  const port = portOption(values.port as string | undefined, 7070, 'port');
  const natsPort = portOption(values['nats-port'] as string | undefined, 4222, 'nats-port');
  const framing = String(values.framing);

  if (values['print-config'] === true) {
    const backends = Array.from({ length: count }, (_, i) => ({
      name: `sb${i + 1}`,
      address: `127.0.0.1:${port + 1 + i}`,
    }));
    process.stdout.write(renderHaproxyConfig({ listen: `127.0.0.1:${port}`, backends, balance }));
    return;
  }

  const children = new ChildSet();
  let stopping = false;
  const stop = async (code: number): Promise<void> => {
    if (stopping) {
      return;
    }
    stopping = true;
    process.stdout.write('demo: stopping everything...\n');
    await children.stopAll(5000);
    process.stdout.write('demo: stopped\n');
    process.exit(code);
  };
  process.on('SIGINT', () => void stop(0));
  process.on('SIGTERM', () => void stop(0));

  try {
    const nats = await startNats(children, { port: natsPort });
    process.stdout.write(`demo: nats-server on ${nats.url} (pid ${nats.child.process.pid})\n`);
    const instances: Instance[] = [];
    for (let i = 1; i <= count; i += 1) {
      const metricsPort = await freePort();
      const instance = await startInstance(children, `sb${i}`, [
        '--framing',
        framing,
        '--mode',
        'chat',
        '--proxy-protocol',
        '--bus',
        nats.url,
        '--metrics',
        `127.0.0.1:${metricsPort}`,
        ...dispatchArgs,
      ]);
      instances.push(instance);
      process.stdout.write(
        `demo: ${instance.name} on ${instance.address} (pid ${instance.child.process.pid}), metrics http://127.0.0.1:${metricsPort}/metrics\n`,
      );
    }
    const haproxy = await startHaproxy(children, {
      listen: `127.0.0.1:${port}`,
      backends: instances.map((instance) => ({ name: instance.name, address: instance.address })),
      balance,
      checkIntervalMs: 1000,
      fall: 2,
      rise: 2,
    });
    process.stdout.write(
      `demo: haproxy on ${haproxy.address} (pid ${haproxy.child.process.pid})\n`,
    );
    for (const child of [nats.child, haproxy.child, ...instances.map((i) => i.child)]) {
      void child.exited.then((code) => {
        if (!stopping) {
          process.stdout.write(`demo: ${child.name} exited (${code}); the others keep running\n`);
        }
      });
    }
    process.stdout.write(
      `demo ready: connect to ${haproxy.address}, e.g. \`nc 127.0.0.1 ${port}\` in two terminals; Ctrl-C stops all\n`,
    );
  } catch (error) {
    process.stderr.write(`demo: ${error instanceof Error ? error.message : String(error)}\n`);
    await stop(1);
  }
}

void main();
