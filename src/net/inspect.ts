/**
 * What `util.inspect()` and `console.log()` show of a Socket, Channel or Server: a
 * short summary (state, addresses, framing, queued bytes) instead of every private
 * field, which ran to ~7 KB per channel and buried the state someone debugging in a
 * REPL wanted to see. As undici and ws objects do for the node sockets inside them.
 */
import type { InspectOptionsStylized } from 'node:util';

/** The key Node's util.inspect looks up; Symbol.for, so no import of node:util is needed. */
export const INSPECT = Symbol.for('nodejs.util.inspect.custom');

/** Node's own inspect, as passed to a custom inspect function (third argument). */
export type NodeInspectFunction = (value: unknown, options?: InspectOptionsStylized) => string;

/**
 * Renders `Name { ...summary }` with the caller's options (colours, breakLength);
 * `[Name]` once the depth is used up, as Node shows nested objects.
 */
export function inspectSummary(
  name: string,
  summary: Record<string, unknown>,
  depth: number,
  options: InspectOptionsStylized,
  inspect: NodeInspectFunction,
): string {
  if (depth < 0) {
    return options.stylize(`[${name}]`, 'special');
  }
  // `depth` is what is left at this object's level: the summary's fields are shown at
  // it, as an object's own properties are.
  return `${name} ${inspect(summary, { ...options, depth })}`;
}
