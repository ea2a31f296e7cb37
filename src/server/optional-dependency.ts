/**
 * Optional peer packages, loaded on first use.
 *
 * `prom-client` (the `/metrics` endpoint) and `@nats-io/transport-node` (a NATS
 * chat bus) are optional peer dependencies: a server that uses neither, such as
 * `npm start`, never loads them, and an application that never asks for them
 * need not install them. They are imported with `import()` when the option that
 * needs them is first used; when the package is not installed the caller gets
 * `SB_MISSING_DEPENDENCY` naming the package and the option, not Node's
 * `ERR_MODULE_NOT_FOUND` from deep inside the server.
 *
 * Only the package's own absence is translated: a package that is installed but
 * fails to load (a missing dependency of its own, a syntax error) is rethrown as
 * it is, since hiding that cause would mislead.
 */
import { InvalidArgumentError } from '../errors.js';

/** The optional peer packages, and the option each one serves. */
export const OPTIONAL_PACKAGES = Object.freeze({
  'prom-client': 'the "metrics" option (the /metrics endpoint)',
  '@nats-io/transport-node': 'a nats:// "bus"',
});

/** Name of an optional peer package. */
export type OptionalPackage = keyof typeof OPTIONAL_PACKAGES;

/** True when `error` is Node's "package not found" for `name` itself. */
function isMissingPackage(error: unknown, name: string): boolean {
  if (error === null || typeof error !== 'object') {
    return false;
  }
  const { code, message } = error as { code?: unknown; message?: unknown };
  return (
    (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') &&
    typeof message === 'string' &&
    message.includes(`'${name}'`)
  );
}

/**
 * Runs `load` (an `import()` of `name`, written at the call site so the module
 * specifier stays a literal that TypeScript types) and returns its module.
 * @throws InvalidArgumentError `SB_MISSING_DEPENDENCY` when `name` is not installed.
 */
export async function importOptional<Module>(
  name: OptionalPackage,
  load: () => Promise<Module>,
): Promise<Module> {
  try {
    return await load();
  } catch (error) {
    if (isMissingPackage(error, name)) {
      throw new InvalidArgumentError(
        'SB_MISSING_DEPENDENCY',
        `${OPTIONAL_PACKAGES[name]} needs the package "${name}", which is not installed: run \`npm install ${name}\``,
        { cause: error },
      );
    }
    throw error;
  }
}
