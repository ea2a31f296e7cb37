/**
 * The raw `net.Socket` of a served connection before a switchboard `Socket` (net/socket.ts)
 * exists: reading the PROXY header, putting its leftover bytes in front of a TLS
 * handshake, and the shared listeners of a dormant connection.
 *
 * Theory of operation
 * -------------------
 * Everything here touches the kernel socket directly and hands it on in a state the
 * next owner can take over without losing a byte or an event:
 *
 * | step              | leaves the raw socket                                | hands on            |
 * |-------------------|------------------------------------------------------|---------------------|
 * | PROXY header      | paused, its own listeners removed                    | header + remainder  |
 * | prefixed stream   | flowing into a Duplex that yields the remainder first| the Duplex (TLS)    |
 * | dormant listeners | flowing, four shared listeners, no closure           | the first event     |
 *
 * A dormant connection (server/connection.ts) waits for its peer's first event with
 * no Socket, Channel or promise; its transport carries a pointer back to it in a
 * symbol-keyed slot, so the four listeners are module-level functions shared by every
 * connection of the process.
 */
import type * as net from 'node:net';
import { Duplex } from 'node:stream';
import { NEED_DATA } from '../codec/types.js';
import { FrameError, TimeoutError, toSwitchboardError } from '../errors.js';
import { type Clock, systemClock } from '../net/clock.js';
import type { InputBudget } from './input-budget.js';
import { type ProxyHeader, ProxyHeaderDecoder } from './proxy-protocol.js';

/** A PROXY header read from a connection, and the bytes that followed it. */
export interface ProxyPreamble {
  readonly header: ProxyHeader;
  readonly remainder: Uint8Array;
}

/**
 * Reads a PROXY header from a raw socket before anything else touches it. On
 * success the socket is paused, with the bytes after the header left to the
 * caller (`remainder`). Rejects with `SB_PROXY_HEADER_INVALID` (garbage, EOF
 * before the header) or `SB_FRAME_TIMEOUT` (header not complete within
 * `timeout` ms; 0 = no limit). While the header is read its bytes count in `budget`
 * (when given); a cut there rejects with `SB_MEMORY_BUDGET`.
 */
export function readProxyHeader(
  raw: net.Socket,
  timeout: number,
  clock: Clock | undefined,
  budget: InputBudget | null = null,
): Promise<ProxyPreamble> {
  const decoder = new ProxyHeaderDecoder();
  // systemClock clamps the deadline to what a node timer holds (a frameTimeout of 3e9
  // would otherwise fire after 1 ms and cut every client before its header).
  const timers = clock ?? systemClock;
  return new Promise<ProxyPreamble>((resolve, reject) => {
    let timer: unknown;
    let finished = false;
    const finish = (): void => {
      finished = true;
      raw.off('data', onData);
      raw.off('end', onEnd);
      raw.off('error', onError);
      raw.off('close', onEnd);
      account?.close();
      if (timer !== undefined) {
        timers.clearTimeout(timer);
      }
    };
    // A v2 header may be 64 KiB: without an account, 10,000 peers each holding most of
    // one would hold 640 MiB outside maxBufferedInputTotal (the budget's own cut, which
    // may pick this connection when another one grows, ends the read here).
    const account =
      budget?.open({
        destroy: (error) => {
          if (!finished) {
            finish();
            reject(error);
          }
        },
      }) ?? null;
    const onData = (chunk: Buffer): void => {
      try {
        decoder.push(chunk);
        account?.update(decoder.buffered);
        if (finished) {
          return; // cut for the budget just now
        }
        const header = decoder.next();
        if (header === NEED_DATA) {
          return;
        }
        raw.pause();
        finish();
        resolve({ header, remainder: decoder.remainder() });
      } catch (error) {
        finish();
        reject(toSwitchboardError(error));
      }
    };
    const onEnd = (): void => {
      finish();
      try {
        decoder.end();
      } catch (error) {
        reject(toSwitchboardError(error));
        return;
      }
      reject(
        new FrameError(
          'SB_PROXY_HEADER_INVALID',
          'PROXY header: connection ended before the header',
        ),
      );
    };
    const onError = (error: Error): void => {
      finish();
      reject(toSwitchboardError(error));
    };
    if (timeout > 0) {
      timer = timers.setTimeout(() => {
        finish();
        reject(
          new TimeoutError(
            'SB_FRAME_TIMEOUT',
            `PROXY header not complete within frameTimeout ${timeout} ms`,
          ),
        );
      }, timeout);
    }
    raw.on('data', onData);
    raw.on('end', onEnd);
    raw.on('close', onEnd);
    raw.on('error', onError);
  });
}

/**
 * A Duplex over `raw` whose readable side first yields `prefix`. Needed to start
 * TLS over a socket whose first bytes were already read (the PROXY header's
 * remainder): `tls.TLSSocket` on a plain `net.Socket` reads from the kernel
 * handle directly and would never see bytes put back with `unshift()`.
 */
export function prefixedDuplex(raw: net.Socket, prefix: Uint8Array): Duplex {
  const duplex = new Duplex({
    read() {
      raw.resume();
    },
    write(chunk: Buffer, _encoding, callback) {
      raw.write(chunk, callback);
    },
    final(callback) {
      raw.end(callback);
    },
    destroy(error, callback) {
      raw.destroy(error ?? undefined);
      callback(error);
    },
  });
  duplex.push(prefix);
  raw.on('data', (chunk: Buffer) => {
    if (!duplex.push(chunk)) {
      raw.pause();
    }
  });
  raw.on('end', () => duplex.push(null));
  raw.on('error', (error) => duplex.destroy(error));
  raw.on('close', () => duplex.destroy());
  return duplex;
}

/** An event of a dormant connection's transport, handed on to the Socket once it exists. */
export type DormantEvent = 'data' | 'end' | 'error' | 'close';

/** What a dormant transport wakes (the served connection). */
export interface DormantSleeper {
  wake(event: DormantEvent, argument: Buffer | Error | null): void;
}

/**
 * Where a dormant connection's transport keeps its sleeper: the transport's listeners
 * are the shared module-level functions below (EventEmitter calls them with `this` =
 * the transport), so a dormant connection costs no closures.
 */
const DORMANT_SLOT = Symbol('switchboard.dormantConnection');

interface DormantSlot {
  [DORMANT_SLOT]: DormantSleeper | undefined;
}

function onDormantData(this: net.Socket & DormantSlot, chunk: Buffer): void {
  this[DORMANT_SLOT]?.wake('data', chunk);
}

function onDormantEnd(this: net.Socket & DormantSlot): void {
  this[DORMANT_SLOT]?.wake('end', null);
}

/**
 * node's own 'end' listener, the one every net.Socket is born with (net.js
 * `onReadableStreamEnd`: it cuts writes after the peer's FIN unless allowHalfOpen),
 * learned from the first transport seen with it as its only 'end' listener.
 */
let nodeEndListener: ((this: net.Socket) => void) | undefined;

/**
 * Stands in for {@link nodeEndListener} while dormant, calling it first as the slot's
 * array would have: a second 'end' listener turns the transport's slot for it into an
 * array (~64 bytes per dormant connection, #15).
 */
function onDormantEndForNode(this: net.Socket & DormantSlot): void {
  nodeEndListener?.call(this);
  this[DORMANT_SLOT]?.wake('end', null);
}

/** Listens for 'end' while dormant, in place of node's own listener when that is the only one. */
function listenDormantEnd(transport: net.Socket): void {
  if (transport.listenerCount('end') === 1) {
    const only = transport.rawListeners('end')[0] as (this: net.Socket) => void;
    if (nodeEndListener === undefined && only.name === 'onReadableStreamEnd') {
      nodeEndListener = only;
    }
    if (only === nodeEndListener) {
      transport.removeListener('end', only);
      transport.on('end', onDormantEndForNode);
      return;
    }
  }
  transport.on('end', onDormantEnd);
}

/** Undoes {@link listenDormantEnd}: node's listener is back in its place, first in line. */
function unlistenDormantEnd(transport: net.Socket): void {
  if (nodeEndListener !== undefined && transport.listenerCount('end', onDormantEndForNode) > 0) {
    transport.removeListener('end', onDormantEndForNode);
    transport.on('end', nodeEndListener);
    return;
  }
  transport.removeListener('end', onDormantEnd);
}

function onDormantError(this: net.Socket & DormantSlot, error: Error): void {
  this[DORMANT_SLOT]?.wake('error', error);
}

function onDormantClose(this: net.Socket & DormantSlot): void {
  const error = this.errored;
  this[DORMANT_SLOT]?.wake(error === null ? 'close' : 'error', error);
}

/**
 * Installs the dormant listeners, which wake `sleeper` on the first event. No 'error'
 * listener when the transport has one already (the accept paths install a no-op): an
 * error is always followed by 'close', which finds it in `transport.errored`, and a
 * second 'error' listener would turn the transport's listener slot into an array
 * (memory per idle connection); for 'end', see {@link listenDormantEnd}.
 */
export function listenDormant(transport: net.Socket, sleeper: DormantSleeper): void {
  (transport as net.Socket & DormantSlot)[DORMANT_SLOT] = sleeper;
  transport.on('data', onDormantData);
  listenDormantEnd(transport);
  if (transport.listenerCount('error') === 0) {
    transport.on('error', onDormantError);
  }
  transport.on('close', onDormantClose);
}

/** Removes the dormant listeners and the sleeper (the Socket takes over). */
export function unlistenDormant(transport: net.Socket): void {
  transport.removeListener('data', onDormantData);
  unlistenDormantEnd(transport);
  transport.removeListener('error', onDormantError);
  transport.removeListener('close', onDormantClose);
  (transport as net.Socket & DormantSlot)[DORMANT_SLOT] = undefined;
}

/**
 * Drops node's cached local address of a plain TCP transport going back to sleep
 * (#15). The Socket read it when the connection woke (SocketCore captures both
 * endpoints), which left node's `_sockname` object and its host string, ~90 bytes
 * allocated among the wake's garbage, for the connection's life. node reads it from the
 * handle again when asked (and drops it itself on destroy).
 */
export function forgetLocalAddress(transport: net.Socket): void {
  const cached = transport as unknown as { _sockname?: unknown };
  if (cached._sockname != null) {
    cached._sockname = null;
  }
}
