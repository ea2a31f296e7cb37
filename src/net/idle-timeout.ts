/**
 * The idle rule's error: the one place `SB_IDLE_TIMEOUT` is built.
 *
 * Two timer structures enforce `idleTimeout`: the Channel's own idle timer (a live
 * connection, net/channel-deadlines.ts) and the server's deadline queue for dormant connections,
 * which have no Channel yet (server/connection.ts). A dormant connection that idles
 * out must fail exactly as a live one would, so both take their error from here.
 */
import { TimeoutError } from '../errors.js';

/** The error a connection fails with once nothing moved for `idleTimeout` ms. */
export function idleTimeoutError(idleTimeout: number): TimeoutError {
  return new TimeoutError(
    'SB_IDLE_TIMEOUT',
    `no bytes received or sent for idleTimeout ${idleTimeout} ms`,
  );
}
