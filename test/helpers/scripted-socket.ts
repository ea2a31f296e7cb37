/**
 * A scripted fake transport (tokio `mock!` style) for Socket and Channel unit tests.
 *
 * The read side plays a queue of steps in order, each on its own microtask:
 * - `data(bytes)`: one 'data' event with these bytes (a string is UTF-8);
 * - `pending()`: stop until the test calls `release()` (simulates "nothing yet");
 * - `eof()`: the peer shut down its write side ('end');
 * - `error(code)`: the connection breaks with that system code ('error' then 'close').
 * Delivery honours `pause()`/`resume()`, so read-side backpressure is observable.
 *
 * The write side records every write (copied) for `written`/`expectWritten`. With
 * `stallWrites`, writes stay queued (`writableLength` grows, callbacks are held) until
 * `flushWrites()`, which simulates a peer that stops reading.
 */
import { EventEmitter } from 'node:events';
import type { SocketTransport } from '../../src/net/socket-options.js';

/** One scripted read-side event. */
export type Step =
  | { readonly kind: 'data'; readonly bytes: Uint8Array }
  | { readonly kind: 'pending' }
  | { readonly kind: 'eof' }
  | { readonly kind: 'error'; readonly code: string };

/** Delivers `bytes` (UTF-8 for a string) as one chunk. */
export function data(bytes: Uint8Array | string): Step {
  return {
    kind: 'data',
    bytes: typeof bytes === 'string' ? new TextEncoder().encode(bytes) : bytes,
  };
}
/** Stops delivery until `release()`. */
export function pending(): Step {
  return { kind: 'pending' };
}
/** The peer shuts down its write side. */
export function eof(): Step {
  return { kind: 'eof' };
}
/** The connection breaks with a system error code such as ECONNRESET. */
export function error(code = 'ECONNRESET'): Step {
  return { kind: 'error', code };
}
/** Splits bytes into one `data` step per byte. */
export function bytewise(bytes: Uint8Array | string): Step[] {
  const all = typeof bytes === 'string' ? new TextEncoder().encode(bytes) : bytes;
  return Array.from(all, (byte) => data(Uint8Array.of(byte)));
}

/** Options of {@link ScriptedTransport}. */
export interface ScriptedOptions {
  /** Write high-water mark in bytes. Default 16 KiB (node's default). */
  highWaterMark?: number;
  /** Start "connecting"; call `connect()` to complete. Default false. */
  connecting?: boolean;
  /** Hold writes (and their callbacks) until `flushWrites()`. Default false. */
  stallWrites?: boolean;
}

/** The fake transport. See the module comment. */
export class ScriptedTransport extends EventEmitter implements SocketTransport {
  readonly writes: Uint8Array[] = [];
  readonly writableHighWaterMark: number;
  writableLength = 0;
  destroyed = false;
  connecting: boolean;
  paused = false;
  writeEnded = false;
  /** Times pause() was called (read-side backpressure). */
  pauseCount = 0;
  /** cork()/uncork() calls seen. */
  corks = 0;
  remoteAddress: string | undefined = '127.0.0.1';
  remotePort: number | undefined = 40000;
  localAddress: string | undefined = '127.0.0.1';
  localPort: number | undefined = 7070;
  stallWrites: boolean;
  private readonly steps: Step[];
  private blocked = false;
  private scheduled = false;
  private peerEnded = false;
  private stalled: Array<{
    bytes: number;
    callback: ((error?: Error | null) => void) | undefined;
  }> = [];

  constructor(steps: Step[] = [], options: ScriptedOptions = {}) {
    super();
    this.steps = [...steps];
    this.writableHighWaterMark = options.highWaterMark ?? 16 * 1024;
    this.connecting = options.connecting ?? false;
    this.stallWrites = options.stallWrites ?? false;
    this.schedule();
  }

  /** Appends steps to the script (and continues delivery). */
  push(...steps: Step[]): void {
    this.steps.push(...steps);
    this.schedule();
  }

  /** Continues past a `pending()` step. */
  release(): void {
    this.blocked = false;
    this.schedule();
  }

  /** Steps not yet delivered. */
  get remaining(): number {
    return this.steps.length;
  }

  /** Completes a connecting transport ('connect'). */
  connect(): void {
    this.connecting = false;
    this.emit('connect');
    this.schedule();
  }

  private schedule(): void {
    if (this.scheduled) {
      return;
    }
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      this.deliverOne();
    });
  }

  private deliverOne(): void {
    if (this.destroyed || this.paused || this.blocked || this.connecting) {
      return;
    }
    const step = this.steps.shift();
    if (step === undefined) {
      return;
    }
    switch (step.kind) {
      case 'data':
        this.emit('data', Buffer.from(step.bytes));
        break;
      case 'pending':
        this.blocked = true;
        return;
      case 'eof':
        this.peerEnded = true;
        this.emit('end');
        this.maybeAutoClose();
        break;
      case 'error': {
        const failure = Object.assign(new Error(`scripted ${step.code}`), { code: step.code });
        this.destroy(failure);
        return;
      }
    }
    this.schedule();
  }

  private maybeAutoClose(): void {
    // Like node's autoDestroy: both directions finished -> 'close'.
    if (this.peerEnded && this.writeEnded && this.writableLength === 0) {
      this.destroy();
    }
  }

  write(chunk: Uint8Array, callback?: (error?: Error | null) => void): boolean {
    if (this.destroyed || this.writeEnded) {
      const failure = Object.assign(new Error('write after end'), {
        code: 'ERR_STREAM_WRITE_AFTER_END',
      });
      queueMicrotask(() => callback?.(failure));
      return false;
    }
    this.writes.push(Uint8Array.from(chunk));
    if (this.stallWrites) {
      this.writableLength += chunk.length;
      this.stalled.push({ bytes: chunk.length, callback });
    } else {
      queueMicrotask(() => callback?.(null));
    }
    return this.writableLength < this.writableHighWaterMark;
  }

  /**
   * Completes the oldest held write only (the peer read a little: a slow reader's
   * writes do progress); emits 'drain' if that emptied a full queue. False when none is held.
   */
  completeWrite(): boolean {
    const write = this.stalled.shift();
    if (write === undefined) {
      return false;
    }
    const wasFull = this.writableLength >= this.writableHighWaterMark;
    this.writableLength -= write.bytes;
    write.callback?.(null);
    if (wasFull && this.writableLength === 0) {
      this.emit('drain');
    }
    return true;
  }

  /** Completes held writes (the peer read them); emits 'drain' if the queue was full. */
  flushWrites(): void {
    const wasFull = this.writableLength >= this.writableHighWaterMark;
    const held = this.stalled.splice(0);
    this.writableLength = 0;
    for (const write of held) {
      write.callback?.(null);
    }
    if (wasFull) {
      this.emit('drain');
    }
    if (this.writeEnded) {
      this.emit('finish');
      this.maybeAutoClose();
    }
  }

  end(callback?: () => void): this {
    if (this.writeEnded) {
      return this;
    }
    this.writeEnded = true;
    queueMicrotask(() => {
      if (this.writableLength === 0) {
        this.emit('finish');
        callback?.();
        this.maybeAutoClose();
      } else if (callback !== undefined) {
        this.once('finish', callback);
      }
    });
    return this;
  }

  destroy(failure?: Error): this {
    if (this.destroyed) {
      return this;
    }
    this.destroyed = true;
    for (const write of this.stalled.splice(0)) {
      write.callback?.(Object.assign(new Error('destroyed'), { code: 'ERR_STREAM_DESTROYED' }));
    }
    queueMicrotask(() => {
      if (failure !== undefined) {
        this.emit('error', failure);
      }
      this.emit('close', failure !== undefined);
    });
    return this;
  }

  pause(): this {
    if (!this.paused) {
      this.pauseCount += 1;
    }
    this.paused = true;
    return this;
  }

  resume(): this {
    this.paused = false;
    this.schedule();
    return this;
  }

  cork(): void {
    this.corks += 1;
  }

  uncork(): void {}

  /** Everything written so far, concatenated. */
  get written(): Uint8Array {
    return Buffer.concat(this.writes);
  }

  /** Everything written so far as UTF-8 text. */
  get writtenText(): string {
    return Buffer.concat(this.writes).toString('utf8');
  }

  /** Throws unless the bytes written so far equal `expected` exactly. */
  expectWritten(expected: Uint8Array | string): void {
    const want =
      typeof expected === 'string' ? Buffer.from(expected, 'utf8') : Buffer.from(expected);
    const got = Buffer.from(this.written);
    if (!got.equals(want)) {
      throw new Error(
        `written bytes differ: expected ${want.toString('hex')}, got ${got.toString('hex')}`,
      );
    }
  }
}

/**
 * Lets scripted steps play out: rounds of microtasks and `process.nextTick` callbacks
 * (Channel flushes batched writes on nextTick). Neither is faked by vi.useFakeTimers's
 * defaults, so this works under fake timers too. Bounded.
 */
export async function settle(rounds = 20): Promise<void> {
  for (let round = 0; round < rounds; round += 1) {
    await Promise.resolve();
    await new Promise<void>((resolve) => process.nextTick(resolve));
  }
}
