/**
 * The `loop` model's dispatcher, also used by `threads`: every connection is served
 * on the main event loop (the HOWTO's select server; node's event loop is the
 * `select`), through a {@link ConnectionSet} with one connection body.
 *
 * For `loop` the body is the user's handler (or a built-in, handlers.ts); for
 * `threads` it is a frame loop that runs each frame in the worker pool (threads.ts),
 * and closing the dispatcher stops the pool. What the body does is not this module's
 * business: it numbers connections, hands them to the set and reports the set's state.
 */
import type * as net from 'node:net';
import type { ConnectionSet } from '../connection-set.js';
import type { InputBudget } from '../input-budget.js';
import type { ProxyPreamble } from '../raw-socket.js';
import type { LiveTraffic } from './protocol.js';

/** A dispatcher that serves connections in this process (`loop`, `threads`). */
export class LocalDispatcher {
  readonly model: 'loop' | 'threads';
  readonly workerPids: readonly number[] = [];
  readonly #connections: ConnectionSet;
  readonly #release: () => Promise<void>;
  #nextId = 0;

  constructor(
    model: 'loop' | 'threads',
    connections: ConnectionSet,
    release: () => Promise<void> = async () => undefined,
  ) {
    this.model = model;
    this.#connections = connections;
    this.#release = release;
  }

  get connections(): number {
    return this.#connections.size;
  }

  get inputBudget(): InputBudget {
    return this.#connections.inputBudget;
  }

  serve(raw: net.Socket, proxy: ProxyPreamble | null): Promise<void> {
    this.#nextId += 1;
    return this.#connections.serve(raw, this.#nextId, proxy);
  }

  serveWith(
    raw: net.Socket,
    proxy: ProxyPreamble | null,
    onEnded: (tag: string) => void,
    tag: string,
  ): void {
    this.#nextId += 1;
    this.#connections.serveWith(raw, this.#nextId, proxy, onEnded, tag);
  }

  liveTraffic(): LiveTraffic {
    return this.#connections.liveStats();
  }

  drain(timeout: number): Promise<number> {
    return this.#connections.drain(timeout);
  }

  close(): Promise<void> {
    return this.#release();
  }
}
