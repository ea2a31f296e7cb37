/**
 * ToxiproxyServer: Toxiproxy's HTTP API (v2 shapes, JSON) over node:http, driving
 * {@link FaultProxy}s, so Toxiproxy clients (toxiproxy-node-client, the Go client,
 * Testcontainers) can run against switchboard in-process or from `switchboard proxy --api`.
 *
 * Theory of operation
 * -------------------
 * The router matches `METHOD /path` against the table below (as Toxiproxy's api.go
 * routes them), reads the JSON body (bounded), and runs the handler on the
 * {@link ProxyCollection}. Handlers run one at a time (a promise chain): each request
 * sees the collection as the previous one left it, as Toxiproxy's locks give.
 *
 * | route                                   | methods            | success       |
 * |-----------------------------------------|--------------------|---------------|
 * | /version                                | GET                | 200 {version} |
 * | /reset                                  | POST               | 204           |
 * | /populate                               | POST               | 201 {proxies} |
 * | /proxies                                | GET, POST          | 200 map / 201 |
 * | /proxies/{proxy}                        | GET, POST/PATCH, DELETE | 200 / 200 / 204 |
 * | /proxies/{proxy}/toxics                 | GET, POST          | 200 list / 200 |
 * | /proxies/{proxy}/toxics/{toxic}         | GET, POST/PATCH, DELETE | 200 / 200 / 204 |
 *
 * Every error is `{"error": message, "status": code}` with that status: 400 bad JSON,
 * a bad field or an unknown toxic type; 404 a missing proxy or toxic (or route); 405 a
 * wrong method; 409 a duplicate name; 500 a listen failure. A request whose User-Agent
 * starts with `Mozilla/` gets 403, as Toxiproxy refuses browsers (a page must not drive
 * the API). Deliberate differences: the API and every proxy bind loopback only (a
 * non-loopback `listen` or `upstream` is 400), and proxies may carry a `framing`.
 */

import http from 'node:http';
import type { Socket } from 'node:net';
import { checkOptionsObject } from '../arguments.js';
import { InvalidArgumentError, toSwitchboardError } from '../errors.js';
import { listeningText } from '../net/address.js';
import { afterHandlesClosed } from '../net/schedule.js';
import { resolveOptions } from '../options.js';
import type { FaultProxy } from './fault-proxy.js';
import type { FaultProxyEvent } from './fault-types.js';
import { validateProxyAddresses } from './proxy-address.js';
import { DEFAULT_SEED } from './seeded-random.js';
import {
  ApiError,
  ERR_BAD_REQUEST_BODY,
  type ManagedProxy,
  ProxyCollection,
  readProxyInput,
} from './toxiproxy-state.js';

/** The version `/version` reports: the Toxiproxy API version this server follows. */
export const TOXIPROXY_API_VERSION = '2.12.0';
/** Largest request body read, in bytes; a larger one is 413 and the connection closes. */
export const MAX_BODY_BYTES = 1024 * 1024;
/**
 * Request bodies held at once by all connections together (read so far, or read and
 * waiting for their turn), in bytes. One more byte is 413 for the request that brings it,
 * and its connection closes: connections times body size would otherwise be the bound.
 */
export const MAX_BODIES_TOTAL_BYTES = 16 * MAX_BODY_BYTES;
/** A request must arrive whole within this (Toxiproxy's read timeout is 15 s). */
const REQUEST_TIMEOUT_MS = 15_000;
/**
 * Node checks requestTimeout and headersTimeout on this interval (default 30 s, which
 * would let a slow request live 45 s): 1 s keeps the deadline near 15 s.
 */
const TIMEOUT_CHECK_INTERVAL_MS = 1_000;
/** Largest request head (request line and headers): past it node answers 431 and closes. */
export const MAX_HEADER_BYTES = 8 * 1024;
/**
 * Connections the API keeps open at once. One more closes the oldest connection with no
 * request in flight (silent, idle keep-alive, or still sending its head), or itself when
 * every connection has one: 64 silent sockets cannot lock clients out for the 15 s
 * until node's timeouts close them.
 */
export const MAX_API_CONNECTIONS = 64;
/**
 * Requests of one connection whose answer has not finished. Node parses pipelined
 * requests as fast as they arrive and only queues their answers, so without this a client
 * that never reads could queue requests (and their handlers) without bound; past it the
 * connection is closed. No Toxiproxy client pipelines at all.
 */
export const MAX_PIPELINED_REQUESTS = 16;

/**
 * The server's own defaults table (as FaultProxy keeps its own): Toxiproxy has no such
 * caps, but without them a client can POST proxies or toxics until memory (or file
 * descriptors: a proxy is a listening socket) runs out.
 */
const OPTION_SCHEMA = {
  listen: { kind: 'string', default: '127.0.0.1:8474' },
  seed: { kind: 'count', default: DEFAULT_SEED as number },
  /** Proxies the collection holds; one more is refused with 507. */
  maxProxies: { kind: 'count', default: 256 as number, min: 1 },
  /** Toxics one proxy holds; one more is refused with 507. */
  maxToxicsPerProxy: { kind: 'count', default: 64 as number, min: 1 },
  /** Each proxy's FaultProxy `maxConnections`. */
  maxConnectionsPerProxy: { kind: 'count', default: 1024 as number, min: 1 },
  /** Each proxy's FaultProxy `maxCondemnedConnections`. */
  maxCondemnedConnections: { kind: 'count', default: 256 as number, min: 1 },
} as const;

/** Options of {@link ToxiproxyServer.start}. */
export interface ToxiproxyServerOptions {
  /** Where the API listens, `HOST:PORT` on a loopback host. Default `127.0.0.1:8474`. */
  listen?: string;
  /** PRNG seed of every proxy (jitter, toxicity, message probabilities). Default 1. */
  seed?: number;
  /**
   * Proxies the server holds at once (default 256); creating one more is answered 507
   * `{"error": "too many proxies", "status": 507}`.
   */
  maxProxies?: number;
  /**
   * Toxics one proxy holds at once (default 64); adding one more is answered 507
   * `{"error": "too many toxics", "status": 507}`.
   */
  maxToxicsPerProxy?: number;
  /**
   * Connections each proxy holds open at once (its FaultProxy's `maxConnections`, default
   * 1024); one more is closed as it is accepted.
   */
  maxConnectionsPerProxy?: number;
  /** Each proxy's FaultProxy `maxCondemnedConnections` (default 256). */
  maxCondemnedConnections?: number;
  /** Called for each proxy's events, with the proxy's name. Must not throw. */
  onEvent?: (proxy: string, event: FaultProxyEvent) => void;
}

/** One proxy of a {@link ToxiproxyServer}, as {@link ToxiproxyServer.proxies} shows it in process. */
export interface ToxiproxyProxy {
  /** The proxy's name in the API. */
  readonly name: string;
  /** Where it listens, `HOST:PORT`. */
  readonly listen: string;
  /** Where it forwards to. */
  readonly upstream: string;
  /** Whether it is running (a disabled proxy has no `faultProxy`). */
  readonly enabled: boolean;
  /** The running FaultProxy (while enabled), for its `stats` and events. */
  readonly faultProxy: FaultProxy | undefined;
}

interface Route {
  pattern: RegExp;
  handlers: Partial<
    Record<string, (params: string[], body: unknown) => Promise<[number, unknown]>>
  >;
}

/**
 * A Toxiproxy-compatible API server.
 *
 * ```ts
 * await using api = await ToxiproxyServer.start({ listen: '127.0.0.1:0' });
 * const toxiproxy = new Toxiproxy(api.url); // toxiproxy-node-client
 * ```
 */
export class ToxiproxyServer {
  private readonly server: http.Server;
  private readonly collection: ProxyCollection;
  private readonly routes: Route[];
  private queue: Promise<unknown> = Promise.resolve();
  /** Body bytes held by all requests together (see MAX_BODIES_TOTAL_BYTES). */
  private bodyBytes = 0;
  /** Per connection: requests whose answer has not finished (see MAX_PIPELINED_REQUESTS). */
  private readonly inFlight = new WeakMap<object, number>();
  /** Open connections, oldest first (see MAX_API_CONNECTIONS). */
  private readonly sockets = new Set<Socket>();
  private closing: Promise<void> | undefined;

  private constructor(server: http.Server, collection: ProxyCollection) {
    this.server = server;
    this.collection = collection;
    this.routes = this.buildRoutes();
    server.on('request', (request, response) => this.handle(request, response));
    server.on('connection', (socket: Socket) => this.admit(socket));
  }

  /** Keeps at most MAX_API_CONNECTIONS open: the oldest one without a request makes room. */
  private admit(socket: Socket): void {
    if (this.sockets.size >= MAX_API_CONNECTIONS) {
      let idle: Socket | undefined;
      for (const open of this.sockets) {
        if ((this.inFlight.get(open) ?? 0) === 0) {
          idle = open;
          break;
        }
      }
      if (idle === undefined) {
        socket.destroy();
        return;
      }
      this.sockets.delete(idle);
      idle.destroy();
    }
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
  }

  /** Starts the API. Rejects on a non-loopback listen address or a listen error. */
  static async start(given: ToxiproxyServerOptions = {}): Promise<ToxiproxyServer> {
    const options = checkOptionsObject('ToxiproxyServer', given) ?? {};
    if (options.onEvent !== undefined && typeof options.onEvent !== 'function') {
      throw new InvalidArgumentError(
        'SB_BAD_OPTION',
        'ToxiproxyServer: option "onEvent" must be a function',
      );
    }
    const resolved = resolveOptions('ToxiproxyServer', OPTION_SCHEMA, options, {}, ['onEvent']);
    const { listen, seed } = resolved;
    if (!Number.isSafeInteger(seed)) {
      throw new InvalidArgumentError(
        'SB_BAD_OPTION',
        'ToxiproxyServer: option "seed" must be a safe integer >= 0',
      );
    }
    validateProxyAddresses(listen, '127.0.0.1:1');
    const colon = listen.lastIndexOf(':');
    const host = listen.slice(0, colon).replace(/^\[|\]$/g, '');
    const port = Number(listen.slice(colon + 1));
    const server = http.createServer({
      requestTimeout: REQUEST_TIMEOUT_MS,
      headersTimeout: REQUEST_TIMEOUT_MS,
      connectionsCheckingInterval: TIMEOUT_CHECK_INTERVAL_MS,
      maxHeaderSize: MAX_HEADER_BYTES,
    });
    // A connection silent this long (none of the request deadlines cover a connection
    // that never starts a request) is destroyed: node's default for an unheard 'timeout'.
    server.timeout = REQUEST_TIMEOUT_MS;
    await new Promise<void>((resolve, reject) => {
      // A listen failure (EADDRINUSE, EACCES) is the library's ConnectionError, as listen()'s is.
      const onError = (error: Error): void => reject(toSwitchboardError(error));
      server.once('error', onError);
      server.listen({ host, port }, () => {
        server.off('error', onError);
        resolve();
      });
    });
    const limits = {
      maxProxies: resolved.maxProxies,
      maxToxicsPerProxy: resolved.maxToxicsPerProxy,
      maxConnectionsPerProxy: resolved.maxConnectionsPerProxy,
      maxCondemnedConnections: resolved.maxCondemnedConnections,
    };
    return new ToxiproxyServer(server, new ProxyCollection(seed, options.onEvent, limits));
  }

  /** The listening address as `HOST:PORT`. */
  get address(): string {
    return listeningText(this.server.address());
  }

  /** The base URL for clients, `http://HOST:PORT`. */
  get url(): string {
    return `http://${this.address}`;
  }

  /** The managed proxies, for in-process use (e.g. a proxy's `faultProxy.stats`). */
  proxies(): readonly ToxiproxyProxy[] {
    return this.collection.all();
  }

  /** Stops the API and every proxy (closing their connections). Idempotent. */
  close(): Promise<void> {
    if (this.closing === undefined) {
      this.closing = (async () => {
        const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
        this.server.closeAllConnections();
        await this.queue.catch(() => undefined);
        await this.collection.closeAll();
        await closed;
        await afterHandlesClosed();
      })();
    }
    return this.closing;
  }

  /** `await using server = await ToxiproxyServer.start(...)` closes it at scope exit. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  private buildRoutes(): Route[] {
    const c = this.collection;
    const json = (proxy: ManagedProxy): unknown => proxy.toJSON();
    return [
      {
        pattern: /^\/version$/,
        handlers: { GET: async () => [200, { version: TOXIPROXY_API_VERSION }] },
      },
      {
        pattern: /^\/reset$/,
        handlers: {
          POST: async () => {
            await c.reset();
            return [204, undefined];
          },
        },
      },
      {
        pattern: /^\/populate$/,
        handlers: {
          POST: async (_params, body) => {
            const { proxies, error } = await c.populate(body);
            const list = proxies.map(json);
            if (error !== undefined) {
              return [error.status, { error: error.message, status: error.status, proxies: list }];
            }
            return [201, { proxies: list }];
          },
        },
      },
      {
        pattern: /^\/proxies$/,
        handlers: {
          GET: async () => [200, Object.fromEntries(c.all().map((p) => [p.name, json(p)]))],
          POST: async (_params, body) => [201, json(await c.add(readProxyInput(body)))],
        },
      },
      {
        pattern: /^\/proxies\/([^/]+)$/,
        handlers: {
          GET: async ([name]) => [200, json(c.get(name!))],
          POST: async ([name], body) => this.updateProxy(name!, body),
          PATCH: async ([name], body) => this.updateProxy(name!, body),
          DELETE: async ([name]) => {
            await c.remove(name!);
            return [204, undefined];
          },
        },
      },
      {
        pattern: /^\/proxies\/([^/]+)\/toxics$/,
        handlers: {
          GET: async ([name]) => [200, c.get(name!).toxicList()],
          POST: async ([name], body) => [200, c.get(name!).addToxic(body)],
        },
      },
      {
        pattern: /^\/proxies\/([^/]+)\/toxics\/([^/]+)$/,
        handlers: {
          GET: async ([name, toxic]) => [200, c.get(name!).getToxic(toxic!)],
          POST: async ([name, toxic], body) => [200, c.get(name!).updateToxic(toxic!, body)],
          PATCH: async ([name, toxic], body) => [200, c.get(name!).updateToxic(toxic!, body)],
          DELETE: async ([name, toxic]) => {
            c.get(name!).removeToxic(toxic!);
            return [204, undefined];
          },
        },
      },
    ];
  }

  private async updateProxy(name: string, body: unknown): Promise<[number, unknown]> {
    const proxy = this.collection.get(name);
    await proxy.update(body);
    return [200, proxy.toJSON()];
  }

  /** The node server, for tests of its limits. @internal */
  get httpServer(): http.Server {
    return this.server;
  }

  private handle(request: http.IncomingMessage, response: http.ServerResponse): void {
    const socket = request.socket;
    const inFlight = (this.inFlight.get(socket) ?? 0) + 1;
    this.inFlight.set(socket, inFlight);
    let held = 0;
    response.once('close', () => {
      this.inFlight.set(socket, (this.inFlight.get(socket) ?? 1) - 1);
      this.bodyBytes -= held;
      held = 0;
    });
    if (inFlight > MAX_PIPELINED_REQUESTS) {
      socket.destroy();
      return;
    }
    const hold = (bytes: number): boolean => {
      if (this.bodyBytes + bytes > MAX_BODIES_TOTAL_BYTES) {
        return false;
      }
      this.bodyBytes += bytes;
      held += bytes;
      return true;
    };
    const run = async (): Promise<[number, unknown]> => {
      if ((request.headers['user-agent'] ?? '').startsWith('Mozilla/')) {
        throw new ApiError(403, 'User agent not allowed');
      }
      const path = (request.url ?? '/').split('?')[0]!;
      const method = request.method ?? 'GET';
      for (const route of this.routes) {
        const match = route.pattern.exec(path);
        if (match === null) {
          continue;
        }
        const handler = route.handlers[method];
        if (handler === undefined) {
          throw new ApiError(405, 'method not allowed');
        }
        const params = match.slice(1).map(decodePathPart);
        const body = await readJsonBody(request, hold);
        // One request at a time over the collection (see the module header).
        const result = this.queue.then(() => handler(params, body));
        this.queue = result.catch(() => undefined);
        return await result;
      }
      throw new ApiError(404, 'not found');
    };
    run().then(
      ([status, body]) => send(response, status, body),
      (error: unknown) => {
        const apiError = error instanceof ApiError ? error : new ApiError(500, 'internal error');
        if (apiError.status === 413) {
          // The rest of the body is not read: the connection cannot carry another request.
          response.shouldKeepAlive = false;
        }
        send(response, apiError.status, { error: apiError.message, status: apiError.status });
      },
    );
  }
}

/** A route parameter, percent-decoded; a bad escape is 400, as Go's URL parser refuses it. */
function decodePathPart(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw new ApiError(400, 'invalid URL escape in the path');
  }
}

const bodyTooLarge = (): ApiError =>
  new ApiError(413, `${ERR_BAD_REQUEST_BODY}: larger than ${MAX_BODY_BYTES} bytes`);

/**
 * Reads and parses the body; an empty body is `undefined` (a POST /reset has none).
 * `hold(bytes)` charges the server-wide budget and says whether it had room. A body
 * over MAX_BODY_BYTES is refused on its Content-Length, before a byte of it is read.
 */
async function readJsonBody(
  request: http.IncomingMessage,
  hold: (bytes: number) => boolean,
): Promise<unknown> {
  const declared = Number(request.headers['content-length'] ?? 0);
  if (declared > MAX_BODY_BYTES) {
    throw bodyTooLarge();
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) {
      throw bodyTooLarge();
    }
    if (!hold(chunk.length)) {
      throw new ApiError(413, `${ERR_BAD_REQUEST_BODY}: the server holds too many request bodies`);
    }
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim().length === 0) {
    // No body: handlers that need one refuse `undefined` with 400, as Toxiproxy's
    // decoder refuses EOF; POST /reset needs none.
    return undefined;
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new ApiError(400, `${ERR_BAD_REQUEST_BODY}: invalid JSON`);
  }
}

function send(response: http.ServerResponse, status: number, body: unknown): void {
  if (response.headersSent || response.destroyed) {
    return;
  }
  if (body === undefined) {
    response.writeHead(status);
    response.end();
    return;
  }
  const text = `${JSON.stringify(body)}\n`;
  response.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
  });
  response.end(text);
}
