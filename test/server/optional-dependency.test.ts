import { describe, expect, it } from 'vitest';
import { isSwitchboardError } from '../../src/errors.js';
import { importOptional } from '../../src/server/optional-dependency.js';

/** What Node throws for `import('name')` when `name` is not installed (a real import). */
async function realMissingImportError(name: string): Promise<unknown> {
  try {
    await import(name);
  } catch (error) {
    return error;
  }
  throw new Error(`${name} is installed`);
}

describe('importOptional', () => {
  it('returns the module when the package is installed', async () => {
    const prom = await importOptional('prom-client', () => import('prom-client'));
    expect(typeof prom.Registry).toBe('function');
  });

  it('turns Node\'s "package not found" for the package itself into SB_MISSING_DEPENDENCY', async () => {
    const notFound = await realMissingImportError('@nats-io/transport-node-absent');
    const asIfAbsent = Object.assign(
      new Error(
        String((notFound as Error).message).replace(
          '@nats-io/transport-node-absent',
          '@nats-io/transport-node',
        ),
      ),
      {
        code: (notFound as { code?: string }).code,
      },
    );
    const failure = await importOptional('@nats-io/transport-node', () =>
      Promise.reject(asIfAbsent),
    ).catch((error: unknown) => error);
    expect(isSwitchboardError(failure, 'SB_MISSING_DEPENDENCY')).toBe(true);
    expect((failure as Error).message).toContain('"@nats-io/transport-node"');
    expect((failure as Error).message).toContain('a nats:// "bus"');
    expect((failure as Error).cause).toBe(asIfAbsent);
  });

  it('rethrows unchanged when something else is missing or broken (a dependency of the package, a bug)', async () => {
    const otherMissing = await realMissingImportError('tdigest-absent');
    await expect(importOptional('prom-client', () => Promise.reject(otherMissing))).rejects.toBe(
      otherMissing,
    );
    const broken = new SyntaxError('Unexpected token');
    await expect(importOptional('prom-client', () => Promise.reject(broken))).rejects.toBe(broken);
  });
});
