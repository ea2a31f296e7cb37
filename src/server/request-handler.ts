/**
 * The server's `onRequest` contract (sbp REQUEST -> RESPONSE), the same in every
 * dispatch model.
 *
 * Theory of operation
 * -------------------
 * A server request handler is `(body, context) => reply`, where `context` is plain,
 * cloneable data about the connection, so that one contract works where the
 * connection's Channel lives (`loop`: the main thread, `processes`: the worker that
 * owns the socket) and where it does not (`threads`: the Channel stays on the main
 * thread and the body travels to a pool worker, see threads.ts). A function can be
 * given only to `loop`; every model takes a module path whose default export is the
 * handler, loaded once per thread or process (as handler modules are).
 *
 * The Channel of each connection runs the handler (net/channel.ts `onRequest`): the
 * deadline (`requestTimeout`), the bound on running requests (`maxPendingRequests`)
 * and the ERROR answer of a failure are the Channel's, so they are the same in every
 * model. The server counts each failure in `errors{code}` (`onRequestError`).
 */
import type { ChannelHeartbeatOptions } from '../net/channel.js';

/** What a request handler learns about the request's connection (plain data, cloneable). */
export interface RequestContext {
  /** The connection id (`"17"`; `"w2-17"` in process worker 2). */
  readonly connectionId: string;
  /** Client address (PROXY-aware), e.g. `tcp://203.0.113.7:51000`. */
  readonly remoteAddress: string;
  /** The server address the client reached (PROXY-aware). */
  readonly localAddress: string;
  /** True when the addresses came from a PROXY header. */
  readonly proxied: boolean;
}

/** What a request handler returns: the RESPONSE body (a string is sent as UTF-8). */
export type RequestReply = Uint8Array | string;

/**
 * Answers one sbp REQUEST of a server's connection (the `onRequest` option of
 * createServer, or the default export of its module). Throwing, rejecting or missing
 * the deadline answers the client with an ERROR envelope; the connection stays up.
 */
export type ServerRequestHandler = (
  body: Uint8Array,
  context: RequestContext,
) => RequestReply | Promise<RequestReply>;

/** The request settings a connection's Channel gets (see connection.ts; not exported from the package). */
export interface RequestSettings {
  /** Answers REQUESTs; undefined: a REQUEST is `SB_BAD_ENVELOPE`, as on any Channel. */
  readonly onRequest: ServerRequestHandler | undefined;
  readonly requestTimeout: number;
  readonly maxPendingRequests: number;
  /** Ping every connection (sbp); undefined = off. */
  readonly heartbeat: ChannelHeartbeatOptions | undefined;
}

/**
 * @internal Imports a request handler module (an absolute file URL, as
 * resolveHandlerModule gives) and returns its default export.
 * @throws TypeError when the default export is not a function.
 */
export async function loadRequestHandler(moduleUrl: string): Promise<ServerRequestHandler> {
  const loaded = (await import(moduleUrl)) as { default?: unknown };
  if (typeof loaded.default !== 'function') {
    throw new TypeError(`onRequest module ${moduleUrl} has no default export function`);
  }
  return loaded.default as ServerRequestHandler;
}
