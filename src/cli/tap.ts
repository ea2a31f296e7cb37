/**
 * The framed tap and the recording of `switchboard proxy --framing SPEC --tap/--record`:
 * turns FaultProxy's messages and events into tap lines and JSON-lines records.
 *
 * Tap line:  `HH:MM:SS.mmm #CONN DIR SIZE PAYLOAD` with DIR `->` (client to target) or
 * `<-` (target to client) and PAYLOAD as `decode --output` prints a frame (text escaped,
 * hex, or `{"len","hex","text"}`). Also `#CONN open`, `#CONN close`,
 * `#CONN DIR framing error CODE: MESSAGE (bytes only from here)`, and after that
 * `#CONN DIR SIZE bytes` for each chunk of that direction.
 *
 * Record: one JSON object per line. The first is a header,
 * `{"type":"switchboard-record","version":1,"framing":SPEC,"target":ADDR}`; then
 * `{"t":MS,"conn":N,"dir":"->","len":N,"hex":HEX,"text":TEXT|null}` per message (`t` in ms
 * since the proxy started, 3 decimals), `{"t","conn","event":"open"|"close"}`,
 * `{"t","conn","dir","event":"framing-error","code"}` and `{"t","conn","dir","raw":true,
 * "len","hex"}` for bytes after a framing error. A message too large for one line is
 * written with `"text":null`, or past that as `{"t","conn","dir","event":"too-large","len"}`
 * (which replay cannot send). `switchboard replay` reads it back.
 */

import { FrameError } from '../index.js';
import type { FaultDirection, FaultProxyEvent, FaultProxyMessage } from '../testing/index.js';
import { formatFrame, isStringTooLong, type OutputFormat, toHex, utf8OrNull } from './output.js';

/** `->` for client to target, `<-` for target to client. */
export function arrow(direction: FaultDirection): '->' | '<-' {
  return direction === 'upstream' ? '->' : '<-';
}

function clock(now: Date): string {
  return now.toISOString().slice(11, 23);
}

/** Formats tap lines. */
export class TapFormatter {
  constructor(private readonly format: OutputFormat) {}

  message(message: FaultProxyMessage, now = new Date()): string {
    const head = `${clock(now)} #${message.connection} ${arrow(message.direction)}`;
    if (message.raw) {
      return `${head} ${message.payload.length} bytes`;
    }
    try {
      return `${head} ${message.payload.length} ${formatFrame(message.payload, this.format)}`;
    } catch (error) {
      // A message too large for one line (under a raised --max-frame) is the peer's
      // doing: it must not end the proxy, which is called from its socket's data event.
      if (error instanceof FrameError && error.code === 'SB_FRAME_TOO_LARGE') {
        return `${head} ${message.payload.length} (too large to print as one ${this.format} line)`;
      }
      throw error;
    }
  }

  /** A line for the events the tap shows, or undefined for the others. */
  event(event: FaultProxyEvent, now = new Date()): string | undefined {
    switch (event.type) {
      case 'open':
      case 'close':
        return `${clock(now)} #${event.connection} ${event.type}`;
      case 'framingError':
        return `${clock(now)} #${event.connection} ${arrow(event.direction)} framing error ${event.code}: ${event.message} (bytes only from here)`;
      default:
        return undefined;
    }
  }
}

/** One record of a recording (see the module header). */
export type RecordLine =
  | { type: 'switchboard-record'; version: 1; framing: string; target: string }
  | { t: number; conn: number; dir: '->' | '<-'; len: number; hex: string; text: string | null }
  | { t: number; conn: number; event: 'open' | 'close' }
  | { t: number; conn: number; dir: '->' | '<-'; event: 'framing-error'; code: string }
  | { t: number; conn: number; dir: '->' | '<-'; raw: true; len: number; hex: string }
  | { t: number; conn: number; dir: '->' | '<-'; event: 'too-large'; len: number };

/** Formats record lines, with times relative to its creation. */
export class RecordFormatter {
  private readonly started = performance.now();

  header(framing: string, target: string): string {
    const line: RecordLine = { type: 'switchboard-record', version: 1, framing, target };
    return JSON.stringify(line);
  }

  private t(): number {
    return Math.round((performance.now() - this.started) * 1000) / 1000;
  }

  /**
   * The record of `message`. One whose line would pass the longest string (a frame of
   * ~67 MB of control bytes, or ~268 MB of any, under a raised --max-frame) is written
   * with `text: null` when its hex still fits, else as a `too-large` event with its
   * length: a RangeError here, inside the proxy's data event, ended the proxy.
   */
  message(message: FaultProxyMessage): string {
    try {
      return this.fullMessage(message, true);
    } catch (first) {
      if (!isStringTooLong(first)) {
        throw first;
      }
    }
    try {
      return this.fullMessage(message, false);
    } catch (second) {
      if (!isStringTooLong(second)) {
        throw second;
      }
    }
    const line: RecordLine = {
      t: this.t(),
      conn: message.connection,
      dir: arrow(message.direction),
      event: 'too-large',
      len: message.payload.length,
    };
    return JSON.stringify(line);
  }

  private fullMessage(message: FaultProxyMessage, withText: boolean): string {
    const dir = arrow(message.direction);
    const line: RecordLine = message.raw
      ? {
          t: this.t(),
          conn: message.connection,
          dir,
          raw: true,
          len: message.payload.length,
          hex: toHex(message.payload),
        }
      : {
          t: this.t(),
          conn: message.connection,
          dir,
          len: message.payload.length,
          hex: toHex(message.payload),
          text: withText ? utf8OrNull(message.payload) : null,
        };
    return JSON.stringify(line);
  }

  event(event: FaultProxyEvent): string | undefined {
    switch (event.type) {
      case 'open':
      case 'close':
        return JSON.stringify({ t: this.t(), conn: event.connection, event: event.type });
      case 'framingError':
        return JSON.stringify({
          t: this.t(),
          conn: event.connection,
          dir: arrow(event.direction),
          event: 'framing-error',
          code: event.code,
        });
      default:
        return undefined;
    }
  }
}
