/**
 * `serve --metrics ADDR` on a taken metrics address: the hint names --metrics and the
 * next metrics port, not --listen (the main port was free; changing it fixes nothing).
 * Black-box against dist/ (run `npm run build` first).
 */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { CLI_TEST_TIMEOUT_MS, killAll, runCli } from './cli-process.js';

afterEach(() => killAll());

describe('serve with a busy --metrics address', () => {
  it(
    'says to pick another --metrics address',
    async () => {
      const holder = net.createServer();
      await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
      const port = (holder.address() as net.AddressInfo).port;
      try {
        const busy = await runCli([
          'serve',
          '--listen',
          '127.0.0.1:0',
          '--framing',
          'line',
          '--metrics',
          `127.0.0.1:${port}`,
        ]);
        expect(busy.code).toBe(3);
        expect(busy.stderr).toContain('EADDRINUSE');
        expect(busy.stderr).toContain(`--metrics 127.0.0.1:${port + 1}`);
        expect(busy.stderr).toContain(`npm start -- --metrics 127.0.0.1:${port + 1}`);
        expect(busy.stderr).not.toContain('--listen');
      } finally {
        await new Promise<void>((resolve) => holder.close(() => resolve()));
      }
    },
    CLI_TEST_TIMEOUT_MS,
  );
});
