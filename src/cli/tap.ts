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
 * "len","hex"}` for bytes after a framing error. `switchboard replay` reads it back.
 */
import type { FaultDirection, FaultProxyEvent, FaultProxyMessage } from '../testing/index.js';
import { formatFrame, type OutputFormat, toHex, utf8OrNull } from './output.js';

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
    return `${head} ${message.payload.length} ${formatFrame(message.payload, this.format)}`;
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
  | { t: number; conn: number; dir: '->' | '<-'; raw: true; len: number; hex: string };

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

  message(message: FaultProxyMessage): string {
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
          text: utf8OrNull(message.payload),
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
