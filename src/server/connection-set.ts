/**
 * The connections one server (or one process worker) is serving: the
 * {@link ConnectionSet} that starts each {@link ServedConnection} (connection.ts),
 * holds the server-wide queues they share, and drains them on close.
 *
 * Theory of operation
 * -------------------
 * One set per server (per worker process with `processes`). It owns what would cost
 * memory per connection if each held its own: the deadline clock ({@link SharedTimers}),
 * the idle deadlines of dormant connections and the sleep checks of running ones (two
 * {@link DeadlineQueue}s, input-first bodies only), and the input and output budgets. Connections
 * reach them only through the narrow {@link ConnectionHost} the set gives them.
 *
 * Shutdown: `drain(timeout)` aborts every connection's `info.signal` (handlers that
 * loop forever should watch it), ends idle connections at once and busy ones when
 * their frame in progress is done, and after `timeout` ms destroys what is left.
 */
import type * as net from 'node:net';
import { ConnectionError, type SwitchboardError } from '../errors.js';
import { systemClock } from '../net/clock.js';
import { DEFAULTS } from '../options.js';
import {
  addTraffic,
  type ConnectionHost,
  type ConnectionSettings,
  ServedConnection,
} from './connection.js';
import { type ConnectionBody, isInputFirst } from './connection-handler.js';
import type { LiveTraffic } from './dispatch/protocol.js';
import { InputBudget } from './input-budget.js';
import { OutputBudget } from './output-budget.js';
import type { ProxyPreamble } from './raw-socket.js';
import { DeadlineQueue, SharedTimers } from './timers.js';

/** The connections one server (or one process worker) is serving. */
export class ConnectionSet {
  /** What every connection of this set reaches it through (one object per set). */
  readonly #host: ConnectionHost;
  readonly #inputBudget: InputBudget;
  readonly #outputBudget: OutputBudget;
  readonly #live = new Set<ServedConnection>();
  readonly #idle = new Set<() => void>();
  /** Idle deadlines of dormant connections (null when idleTimeout is off). */
  readonly #deadlines: DeadlineQueue<ServedConnection> | null;
  /** Sleep checks of running connections of an input-first body (see onSleepCheck). */
  readonly #sleepChecks: DeadlineQueue<ServedConnection> | null;
  #draining = false;

  constructor(settings: ConnectionSettings, body: ConnectionBody) {
    // A heartbeat pings from the start: a connection that waits for input first would
    // never detect a silent peer.
    const inputFirst = isInputFirst(body) && settings.requests?.heartbeat === undefined;
    const metrics = settings.metrics;
    const timers = new SharedTimers(settings.clock ?? systemClock);
    const idleTimeout = settings.limits.idleTimeout;
    this.#inputBudget = new InputBudget(settings.limits.maxBufferedInputTotal);
    this.#outputBudget = new OutputBudget(settings.limits.maxBufferedOutputTotal);
    const deadlines =
      inputFirst && idleTimeout > 0
        ? new DeadlineQueue<ServedConnection>(timers, idleTimeout, (connection) =>
            connection.onDeadline(),
          )
        : null;
    const sleepChecks = inputFirst
      ? new DeadlineQueue<ServedConnection>(timers, DEFAULTS.sleepCheckInterval, (connection) =>
          connection.onSleepCheck(),
        )
      : null;
    this.#deadlines = deadlines;
    this.#sleepChecks = sleepChecks;
    const set = this;
    this.#host = {
      settings,
      body,
      inputFirst,
      get draining() {
        return set.#draining;
      },
      reportRequestError: (error: SwitchboardError) => metrics.recordError(error.code),
      timers,
      inputBudget: this.#inputBudget,
      outputBudget: this.#outputBudget,
      scheduleDeadline: (connection) => (deadlines === null ? -1 : deadlines.add(connection)),
      cancelDeadline: (slot) => {
        if (slot >= 0) {
          deadlines?.cancel(slot);
        }
      },
      scheduleSleepCheck: (connection) => {
        if (sleepChecks === null) {
          return false;
        }
        sleepChecks.add(connection);
        return true;
      },
      ended: (connection) => this.#ended(connection),
    };
  }

  /** The input budget every connection of this set counts in (a PROXY header being read, too). */
  get inputBudget(): InputBudget {
    return this.#inputBudget;
  }

  /** The output budget every connection's channel counts in. */
  get outputBudget(): OutputBudget {
    return this.#outputBudget;
  }

  /** Connections being served. */
  get size(): number {
    return this.#live.size;
  }

  /** Connections dormant now (no Socket or Channel). O(n): for tests and diagnosis. */
  get dormant(): number {
    let count = 0;
    for (const connection of this.#live) {
      if (connection.dormant) {
        count += 1;
      }
    }
    return count;
  }

  /** True once `drain()` has started (late `info.signal` reads come back aborted). */
  get draining(): boolean {
    return this.#draining;
  }

  /** Frames and bytes of live connections (not yet folded into the totals). */
  liveStats(): LiveTraffic {
    const sum = {
      framesIn: 0,
      framesOut: 0,
      bytesIn: 0,
      bytesOut: 0,
      bufferedInput: this.#inputBudget.total,
      bufferedOutput: this.#outputBudget.total,
    };
    for (const connection of this.#live) {
      const stats = connection.traffic ?? undefined;
      if (stats !== undefined) {
        addTraffic(sum, stats);
      }
    }
    return sum;
  }

  /**
   * Serves one admitted connection to its end. Never rejects: failures are
   * counted, published and end the connection only.
   */
  serve(raw: net.Socket, id: string | number, proxy: ProxyPreamble | null): Promise<void> {
    return new Promise<void>((resolve) => {
      this.serveWith(raw, id, proxy, () => resolve(), '');
    });
  }

  /**
   * {@link serve} without a promise: calls `onEnded(tag)` once the connection has
   * ended and been accounted for. A promise per connection, its resolve function and
   * the caller's reaction closure cost ~300 bytes per idle connection (#8); a
   * server-wide `onEnded` and a tag (the admission IP) cost two fields.
   */
  serveWith(
    raw: net.Socket,
    id: string | number,
    proxy: ProxyPreamble | null,
    onEnded: (tag: string) => void,
    tag: string,
  ): void {
    const connection = new ServedConnection(
      this.#host,
      raw,
      id,
      proxy?.header ?? null,
      onEnded,
      tag,
    );
    this.#live.add(connection);
    connection.start(proxy?.remainder ?? null);
  }

  /** A connection was accounted for (through the host). */
  #ended(connection: ServedConnection): void {
    this.#live.delete(connection);
    if (this.#live.size === 0) {
      this.#deadlines?.clear();
      this.#sleepChecks?.clear();
      for (const wake of this.#idle) {
        wake();
      }
    }
  }

  /**
   * Graceful end: aborts every handler's signal, waits until every connection
   * ended or `timeout` ms passed (0 = no limit), then destroys the rest.
   * Resolves with the number destroyed.
   */
  async drain(timeout: number): Promise<number> {
    this.#draining = true;
    for (const connection of this.#live) {
      connection.abort?.abort();
    }
    // Idle connections end now; busy ones as soon as their frame in progress is done.
    for (const connection of [...this.#live]) {
      connection.endWhenIdle();
    }
    if (this.#live.size === 0) {
      return 0;
    }
    let wake: () => void = () => undefined;
    const allDone = new Promise<void>((resolve) => {
      wake = resolve;
      this.#idle.add(resolve);
    });
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<'expired'>((resolve) => {
      if (timeout > 0) {
        timer = setTimeout(() => resolve('expired'), timeout);
      }
    });
    const outcome = await Promise.race([allDone.then(() => 'done' as const), expired]);
    clearTimeout(timer);
    this.#idle.delete(wake);
    if (outcome === 'done') {
      return 0;
    }
    return this.destroyAll(
      new ConnectionError(
        'SB_CONNECTION_CLOSED',
        `server closed; connection outlived closeTimeout ${timeout} ms`,
      ),
    );
  }

  /** Destroys every live connection at once; resolves with how many there were. */
  async destroyAll(error: SwitchboardError): Promise<number> {
    const victims = [...this.#live];
    for (const connection of victims) {
      connection.destroy(error);
    }
    if (this.#live.size > 0) {
      await new Promise<void>((resolve) => {
        this.#idle.add(resolve);
      });
    }
    return victims.length;
  }
}
