/**
 * `switchboard proxy`: a loopback TCP proxy that injects faults, for trying a
 * client or server against a bad network by hand. It wraps the library's
 * `FaultProxy` (switchboard/testing); every fault given applies to both
 * directions. The first stdout line is `listening on tcp://HOST:PORT`, as for
 * `serve`, so scripts can read the port when `:0` was asked.
 */
import { FaultProxy } from '../testing/index.js';
import { booleanFlag, type CommandSpec, integerFlag, stringFlag } from './args.js';
import { EXIT, stdout } from './output.js';

/** The `proxy` command. */
export const command: CommandSpec = {
  name: 'proxy',
  usage:
    'proxy --listen ADDR --target ADDR [--latency MS] [--jitter MS] [--bandwidth BYTES_PER_S]\n' +
    '                   [--slice N] [--reset-after BYTES] [--blackhole]',
  description:
    'Listens on ADDR and forwards every connection to the target, injecting the faults\n' +
    'given (in both directions). Both addresses must be loopback (127.0.0.1, ::1, localhost)\n' +
    'or unix sockets: the proxy is a testing tool. Runs until interrupted (exit 130).',
  flags: [
    {
      name: 'listen',
      short: 'l',
      type: 'string',
      value: 'ADDR',
      description: 'where to listen, HOST:PORT (default 127.0.0.1:0, a free port)',
    },
    {
      name: 'target',
      short: 't',
      type: 'string',
      value: 'ADDR',
      description: 'where to forward: HOST:PORT, tcp://HOST:PORT or unix:/path (required)',
    },
    {
      name: 'latency',
      type: 'string',
      value: 'MS',
      description: 'delay every chunk by MS milliseconds',
    },
    {
      name: 'jitter',
      type: 'string',
      value: 'MS',
      description: 'add a uniform random +-MS to the latency (never reorders)',
    },
    {
      name: 'bandwidth',
      type: 'string',
      value: 'BYTES_PER_S',
      description: 'forward at most this many bytes per second',
    },
    {
      name: 'slice',
      type: 'string',
      value: 'N',
      description: 'deliver at most N bytes per write (1 = byte by byte)',
    },
    {
      name: 'reset-after',
      type: 'string',
      value: 'BYTES',
      description: 'reset (RST) a connection after BYTES bytes in one direction',
    },
    {
      name: 'blackhole',
      type: 'boolean',
      description: 'read and drop everything; connections stay open and silent',
    },
  ],
  positionals: { min: 0, max: 0, name: 'argument' },
  examples: [
    'proxy --listen 127.0.0.1:7071 --target 127.0.0.1:7070 --latency 50 --jitter 20',
    'proxy --listen 127.0.0.1:7071 --target 127.0.0.1:7070 --slice 1',
  ],
  async run({ args, signal }) {
    const listen = stringFlag(args, command, 'listen') ?? '127.0.0.1:0';
    const target = stringFlag(args, command, 'target', true);
    const latency = integerFlag(args, command, 'latency', { kind: 'ms' });
    const jitter = integerFlag(args, command, 'jitter', { kind: 'ms' });
    const bandwidth = integerFlag(args, command, 'bandwidth', { kind: 'bytes', min: 1 });
    const slice = integerFlag(args, command, 'slice', { kind: 'bytes', min: 1 });
    const resetAfter = integerFlag(args, command, 'reset-after', { kind: 'bytes' });
    const proxy = await FaultProxy.start({ listen, target: target.replace(/^tcp:\/\//, '') });
    try {
      if (latency !== undefined || jitter !== undefined) {
        proxy.addFault('both', { type: 'latency', ms: latency ?? 0, jitterMs: jitter ?? 0 });
      }
      if (bandwidth !== undefined) {
        proxy.addFault('both', { type: 'bandwidth', bytesPerSecond: bandwidth });
      }
      if (slice !== undefined) {
        proxy.addFault('both', { type: 'slice', maxBytes: slice });
      }
      if (resetAfter !== undefined) {
        proxy.addFault('both', { type: 'resetAfter', bytes: resetAfter });
      }
      if (booleanFlag(args, 'blackhole')) {
        proxy.addFault('both', { type: 'blackhole' });
      }
      await stdout.line(`listening on tcp://${proxy.address}`);
      await stdout.flush();
      await new Promise<void>((resolve) => {
        signal.addEventListener('abort', () => resolve(), { once: true });
      });
    } finally {
      await proxy.close();
    }
    return EXIT.interrupted;
  },
};
