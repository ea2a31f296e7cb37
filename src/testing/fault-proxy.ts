/**
 * FaultProxy: an in-process, loopback-only TCP proxy that injects network faults
 * (toxiproxy-like) between a client and a target, for use in tests. This module is the
 * listener and the public class; the work is done by the modules it wires together.
 *
 * Theory of operation
 * -------------------
 * Every accepted client connection gets one upstream connection to the target and two
 * one-way pipes: `upstream` (client -> target) and `downstream` (target -> client).
 *
 *     client <-> ProxiedConnection (proxied-connection.ts) <-> target
 *                  |- Pipe upstream   (fault-pipe.ts) -- reads --+
 *                  `- Pipe downstream (fault-pipe.ts) -- reads --+-> FaultTable (fault-table.ts)
 *
 * - The proxy owns the fault table, the counters and the set of open connections. Each
 *   change to the table is told to every connection, whose pipes re-read it (a halfOpen
 *   fault pauses a source at once); otherwise pipes read it once per chunk.
 * - Connections are numbered from 1 in accept order; that number and the proxy's seed
 *   seed each pipe's PRNGs, so a seed replays the same jitter and toxicity rolls.
 * - Loopback only. The target and the listen address must be loopback addresses or a
 *   unix socket path (proxy-address.ts); anything else is refused with
 *   InvalidArgumentError.
 * - `close()` stops listening and destroys every connection; a connection accepted while
 *   closing is destroyed at once.
 * - At most `maxConnections` connections are open at once (until both of a connection's
 *   sockets closed); one more is destroyed as it is accepted (an `error` event says so).
 */
import net from 'node:net';
import { parseFraming } from '../codec/spec.js';
import type { Framing } from '../codec/types.js';
import { InvalidArgumentError, toSwitchboardError } from '../errors.js';
import { listeningText } from '../net/address.js';
import { afterHandlesClosed } from '../net/schedule.js';
import { resolveOptions } from '../options.js';
import {
  type EffectiveFaults,
  type FaultEntry,
  FaultTable,
  validateFault,
  validateToxicity,
} from './fault-table.js';
import {
  type AddFaultOptions,
  type Fault,
  type FaultDirection,
  type FaultDirectionSpec,
  type FaultProxyEvent,
  type FaultProxyMessage,
  type FaultProxyOptions,
  type FaultProxyStats,
  invalid,
} from './fault-types.js';
import { ProxiedConnection } from './proxied-connection.js';
import { parseHostPort, type ResolvedTarget, resolveTarget } from './proxy-address.js';
import { DEFAULT_SEED } from './seeded-random.js';

const DEFAULT_HIGH_WATER_MARK = 256 * 1024;

const OPTION_SCHEMA = {
  listen: { kind: 'string', default: '127.0.0.1:0' },
  seed: { kind: 'count', default: DEFAULT_SEED as number },
  highWaterMark: { kind: 'bytes', default: DEFAULT_HIGH_WATER_MARK, min: 1 },
  maxCondemnedConnections: { kind: 'count', default: 256 as number, min: 1 },
  maxConnections: { kind: 'count', default: 1024 as number, min: 1 },
} as const;

/**
 * A loopback TCP proxy that injects faults between a client and a target.
 *
 * @example
 * ```ts
 * import { createServer, openChannel } from 'switchboard';
 * import { FaultProxy } from 'switchboard/testing';
 *
 * await using server = await createServer({ listen: '127.0.0.1:0', framing: 'line', handler: 'echo' });
 * await using proxy = await FaultProxy.start({ target: server.address, seed: 42 });
 * // Every reply arrives one byte at a time, 20-30 ms late: framing must still hold.
 * proxy.addFault('downstream', { type: 'slice', maxBytes: 1 });
 * const id = proxy.addFault('downstream', { type: 'latency', ms: 20, jitterMs: 10 });
 * await using channel = await openChannel(proxy.address, { framing: 'line' });
 * await channel.send('through the proxy');
 * console.log(new TextDecoder().decode((await channel.receive()) ?? new Uint8Array()));
 * proxy.removeFault(id); // faults come and go while traffic flows
 * ```
 */
export class FaultProxy {
  /** The seed of the jitter PRNG. */
  readonly seed: number;
  /** Queue bound per pipe in bytes (see {@link FaultProxyOptions.highWaterMark}). */
  readonly highWaterMark: number;
  /** The framing each direction is decoded with, if any. */
  readonly framing: Framing | undefined;
  /** @internal */
  readonly onMessage: ((message: FaultProxyMessage) => void) | undefined;
  private readonly server: net.Server;
  private readonly target: ResolvedTarget;
  private readonly onEvent: ((event: FaultProxyEvent) => void) | undefined;
  private readonly faults = new FaultTable();
  private readonly connections = new Set<ProxiedConnection>();
  /** Condemned connections, oldest first (a Set keeps insertion order). */
  private readonly condemned = new Set<ProxiedConnection>();
  private readonly maxCondemned: number;
  private readonly maxConnections: number;
  private nextConnectionId = 1;
  private closing: Promise<void> | undefined;
  private readonly counters: FaultProxyStats = {
    connections: 0,
    activeConnections: 0,
    bytesUpstream: 0,
    bytesDownstream: 0,
    bytesDropped: 0,
    resets: 0,
    gracefulCloses: 0,
    framingErrors: 0,
    messagesAffected: 0,
  };

  private constructor(
    server: net.Server,
    target: ResolvedTarget,
    seed: number,
    highWaterMark: number,
    limits: { maxCondemned: number; maxConnections: number },
    onEvent: ((event: FaultProxyEvent) => void) | undefined,
    messages: {
      framing: Framing | undefined;
      onMessage: ((message: FaultProxyMessage) => void) | undefined;
    },
  ) {
    this.framing = messages.framing;
    this.onMessage = messages.onMessage;
    this.server = server;
    this.target = target;
    this.seed = seed;
    this.highWaterMark = highWaterMark;
    this.maxCondemned = limits.maxCondemned;
    this.maxConnections = limits.maxConnections;
    this.onEvent = onEvent;
    server.on('connection', (client) => this.accept(client));
    // An accept failure (EMFILE, ENFILE) must not crash the test process that uses us:
    // the client's connection fails instead, and the event says why.
    server.on('error', (error: Error) => this.emit({ type: 'error', message: error.message }));
  }

  /**
   * Starts a proxy listening on `options.listen` (default `127.0.0.1:0`) that forwards to
   * `options.target`. Rejects with InvalidArgumentError when either address is not
   * loopback, and with the listen error (e.g. EADDRINUSE) when it cannot listen.
   */
  static async start(options: FaultProxyOptions): Promise<FaultProxy> {
    if (typeof options !== 'object' || options === null) {
      throw invalid('options must be an object with a "target"');
    }
    const resolved = resolveOptions('FaultProxy', OPTION_SCHEMA, options, {}, [
      'target',
      'onEvent',
      'framing',
      'onMessage',
    ]);
    const framing =
      options.framing === undefined
        ? undefined
        : typeof options.framing === 'string'
          ? parseFraming(options.framing)
          : options.framing;
    if (options.onMessage !== undefined && typeof options.onMessage !== 'function') {
      throw new InvalidArgumentError(
        'SB_BAD_OPTION',
        'FaultProxy: option "onMessage" must be a function',
      );
    }
    const target = resolveTarget(options.target);
    const listen = parseHostPort(resolved.listen, 'listen');
    if (options.onEvent !== undefined && typeof options.onEvent !== 'function') {
      throw new InvalidArgumentError(
        'SB_BAD_OPTION',
        'FaultProxy: option "onEvent" must be a function',
      );
    }
    // allowHalfOpen: a FIN from the client must not close our side towards it (proxied-connection.ts).
    const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true });
    await new Promise<void>((resolve, reject) => {
      // A listen failure (EADDRINUSE, EACCES) is the library's ConnectionError (the
      // node error is its `cause`), as listen()'s is.
      const onError = (error: Error): void => reject(toSwitchboardError(error));
      server.once('error', onError);
      server.listen({ host: listen.host, port: listen.port }, () => {
        server.off('error', onError);
        resolve();
      });
    });
    return new FaultProxy(
      server,
      target,
      resolved.seed,
      resolved.highWaterMark,
      {
        maxCondemned: resolved.maxCondemnedConnections,
        maxConnections: resolved.maxConnections,
      },
      options.onEvent,
      { framing, onMessage: options.onMessage },
    );
  }

  /** The listening port. */
  get port(): number {
    const address = this.server.address();
    return typeof address === 'object' && address !== null ? address.port : 0;
  }

  /** The listening address as `HOST:PORT` (`[v6]:PORT` for IPv6), ready for connect(). */
  get address(): string {
    return listeningText(this.server.address());
  }

  /** A snapshot of the counters. */
  get stats(): FaultProxyStats {
    return { ...this.counters, activeConnections: this.connections.size };
  }

  /**
   * Adds a fault to one direction (or both) and returns its id. Applies to existing and
   * future connections from the next chunk on. Throws InvalidArgumentError on a bad fault.
   */
  addFault(direction: FaultDirectionSpec, fault: Fault, options: AddFaultOptions = {}): number {
    if (direction !== 'upstream' && direction !== 'downstream' && direction !== 'both') {
      throw invalid('direction must be "upstream", "downstream" or "both"');
    }
    validateFault(fault);
    if (fault.type === 'message' && this.framing === undefined) {
      throw invalid('a message fault needs a proxy started with a "framing"');
    }
    const toxicity = validateToxicity(options);
    const directions: FaultDirection[] =
      direction === 'both' ? ['upstream', 'downstream'] : [direction];
    const id = this.faults.add(directions, fault, toxicity);
    this.notifyFaultsChanged();
    return id;
  }

  /**
   * Replaces the fault `id` by `fault` (same directions), keeping its byte budgets and
   * toxicity rolls, as a Toxiproxy toxic update does. Returns false when no such fault
   * exists. Throws InvalidArgumentError on a bad fault.
   */
  updateFault(id: number, fault: Fault, options: AddFaultOptions = {}): boolean {
    const entry = this.faults.get(id);
    if (entry === undefined) {
      return false;
    }
    validateFault(fault);
    const toxicity = options.toxicity === undefined ? entry.toxicity : validateToxicity(options);
    this.faults.replace(entry, fault, toxicity);
    this.notifyFaultsChanged();
    return true;
  }

  /** Removes a fault by id. Returns false when no such fault exists. */
  removeFault(id: number): boolean {
    const removed = this.faults.delete(id);
    if (removed) {
      this.notifyFaultsChanged();
    }
    return removed;
  }

  /** Removes every fault. */
  clearFaults(): void {
    this.faults.clear();
    this.notifyFaultsChanged();
  }

  /**
   * Stops listening and destroys every proxied connection. Idempotent: later calls return
   * the same promise.
   */
  close(): Promise<void> {
    if (this.closing === undefined) {
      this.closing = new Promise<void>((resolve) => {
        // The proxied sockets are destroyed below; afterHandlesClosed lets node free
        // their handles and the listener's before close() resolves.
        this.server.close(() => void afterHandlesClosed().then(resolve));
        for (const connection of this.connections) {
          connection.destroy();
        }
      });
    }
    return this.closing;
  }

  /** `await using proxy = await FaultProxy.start(...)` closes the proxy at scope exit. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** @internal */
  faultEntries(): IterableIterator<FaultEntry> {
    return this.faults.values();
  }

  /** @internal */
  hasFault(type: Fault['type'], applies: (entry: FaultEntry) => boolean): boolean {
    return this.faults.hasFault(type, applies);
  }

  /** @internal Merges the faults that apply to one pipe (fault-table.ts). */
  effectiveFaults(applies: (entry: FaultEntry) => boolean): EffectiveFaults {
    return this.faults.effectiveFaults(applies);
  }

  /** @internal */
  emit(event: FaultProxyEvent): void {
    this.onEvent?.(event);
  }

  /** @internal */
  countForwarded(direction: FaultDirection, bytes: number): void {
    if (direction === 'upstream') {
      this.counters.bytesUpstream += bytes;
    } else {
      this.counters.bytesDownstream += bytes;
    }
  }

  /** @internal */
  countDropped(bytes: number): void {
    this.counters.bytesDropped += bytes;
  }

  /** @internal */
  countFramingError(): void {
    this.counters.framingErrors += 1;
  }

  /** @internal */
  countMessageAffected(): void {
    this.counters.messagesAffected += 1;
  }

  /** @internal */
  countReset(): void {
    this.counters.resets += 1;
  }

  /** @internal */
  countGracefulClose(): void {
    this.counters.gracefulCloses += 1;
  }

  /**
   * @internal A fault has condemned `connection` (see maxCondemnedConnections); past the
   * cap the oldest condemned connection is reset now.
   */
  condemn(connection: ProxiedConnection): void {
    if (this.condemned.has(connection) || !this.connections.has(connection)) {
      return;
    }
    this.condemned.add(connection);
    if (this.condemned.size > this.maxCondemned) {
      const oldest = this.condemned.values().next().value as ProxiedConnection;
      this.condemned.delete(oldest);
      this.emit({ type: 'evict', connection: oldest.id });
      oldest.evict();
    }
  }

  /** @internal */
  connectionClosed(connection: ProxiedConnection): void {
    this.condemned.delete(connection);
    if (this.connections.delete(connection)) {
      this.emit({ type: 'close', connection: connection.id });
    }
  }

  private notifyFaultsChanged(): void {
    for (const connection of this.connections) {
      connection.faultsChanged();
    }
  }

  private accept(client: net.Socket): void {
    if (this.closing !== undefined) {
      client.destroy();
      return;
    }
    if (this.connections.size >= this.maxConnections) {
      // Each connection holds two sockets, two pipes and their queues: without a cap a
      // client that opens connections in a loop exhausts memory or file descriptors.
      client.destroy();
      this.emit({
        type: 'error',
        message: `connection refused: maxConnections ${this.maxConnections} are open`,
      });
      return;
    }
    const id = this.nextConnectionId;
    this.nextConnectionId += 1;
    this.counters.connections += 1;
    const upstream =
      this.target.kind === 'tcp'
        ? net.connect({ host: this.target.host, port: this.target.port, allowHalfOpen: true })
        : net.connect({ path: this.target.path, allowHalfOpen: true });
    const connection = new ProxiedConnection(this, id, client, upstream);
    this.connections.add(connection);
    this.emit({ type: 'open', connection: id });
    // pauseOnConnect: the pipe's listeners are in place now, so no byte is missed.
    client.resume();
    // A halfOpen fault present before the connection pauses its source right away.
    connection.faultsChanged();
  }
}
