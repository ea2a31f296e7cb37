/**
 * The chat bus: chat rooms that span server instances (processes or machines)
 * over NATS.
 *
 * Theory of operation
 * -------------------
 * Two pieces, so that chat depends on an interface and not on NATS:
 *
 * - {@link ChatBus}: publish a {@link BusMessage} to a room, subscribe to a room.
 *   `connectNatsBus` (nats-bus.ts) implements it with the official NATS
 *   client `@nats-io/transport-node`, an optional peer dependency loaded on
 *   first use: room `R` is the NATS subject `switchboard.chat.R`; the envelope travels in NATS
 *   headers (`Sb-Origin`, `Sb-Sender`, `Sb-Seq`) and the payload is the frame,
 *   unchanged, so `nats sub 'switchboard.chat.>'` shows the traffic as it is.
 * - {@link ChatBridge}: joins one server's {@link ChatRoom} to a bus. A frame a
 *   local client posts is delivered to the other local clients first (by the
 *   room, synchronously; it never waits for NATS) and then handed to the bus
 *   with the envelope (origin instance, sender, per-sender sequence number). A
 *   message from the bus is delivered to every local client, unless it is this
 *   instance's own (no echo back: the NATS connection is opened with `noEcho`,
 *   and the bridge also drops its own origin) or a sequence number it has
 *   already seen from that sender (at most once per client). "Already seen" is
 *   a bounded window per sender (seq-window.ts): the last 64 numbers below the
 *   highest, so a forged huge `Sb-Seq` cannot silence a real sender, and a
 *   sender whose numbers start again (a restart) is heard again.
 *
 * Trust: the bus believes every publisher on its subject. Anyone who can publish
 * there can post chat lines under any origin and sender (docs/SCALING.md "Trust
 * boundary"); the dedupe window only keeps such a publisher from silencing
 * others (each forged message can cost a real sender at most the one message
 * that carries its number). Keeping publishers out is NATS authorization's job.
 *
 * Ordering: NATS preserves the order of messages from one publisher connection
 * to one subscriber, and each instance publishes on one connection, so every
 * sender's frames reach every other instance in the order they were sent. There
 * is no order across senders (nor is there one inside a single server).
 *
 * With `processes` dispatch the bridged room is the primary's, whose members are
 * the worker processes (dispatch/processes.ts): the instance still has one NATS
 * connection and one origin, and a sender is one worker process (a replacement
 * after a crash is a new sender; the numbers live here, in the primary, so a
 * crash cannot reset them). A worker's frames reach the primary in order over
 * IPC, so one sequence per worker keeps each of its clients' order too.
 *
 * Bus states (published on `switchboard:bus:status`, and as the
 * `switchboard_bus_state` gauge):
 *
 * | state        | publish                                           | enters when                      |
 * |--------------|---------------------------------------------------|----------------------------------|
 * | connected    | written to NATS                                   | first connect; a reconnect       |
 * | reconnecting | kept in a bounded pending buffer (`maxPendingBytes`) | the connection to NATS is lost |
 * | disconnected | dropped and counted                               | `close()` (or the client gave up) |
 *
 * Why our own pending buffer: nats.js (2.x and 3.x; unlike the Go client with its
 * `ReconnectBufSize`) discards its outbound buffer at every reconnect attempt
 * and does not bound it meanwhile. So while not connected the bus keeps up to
 * `maxPendingBytes` (default 8 MiB) of messages itself, replays them in order
 * once reconnected, and drops (and counts) what does not fit. Core NATS is
 * at-most-once: messages in flight when the server died, and replayed messages
 * that reach the server before another instance has re-subscribed, are lost;
 * receivers count such holes as `gaps` in the per-sender sequence.
 *
 * Losing the bus never stops an instance: local chat goes on, the client
 * reconnects forever (`maxReconnectAttempts: -1`) every `reconnectTimeWait` ms.
 */
import { InvalidArgumentError } from '../errors.js';
import type { ChatMember, ChatRoom } from './handlers.js';
import { type SeqCounters, SeqWindow } from './seq-window.js';

/** The room every built-in `chat` server joins. */
export const DEFAULT_CHAT_ROOM = 'lobby';
/** Subject prefix: room `R` is published on `switchboard.chat.R`. */
export const DEFAULT_SUBJECT_PREFIX = 'switchboard.chat';
/** NATS header names of the envelope. */
export const BUS_HEADERS = Object.freeze({
  origin: 'Sb-Origin',
  sender: 'Sb-Sender',
  seq: 'Sb-Seq',
});

/** Connection state of a bus (see the module comment). */
export type BusState = 'connecting' | 'connected' | 'reconnecting' | 'disconnected';

/** The state values, in gauge order (`switchboard_bus_state{state=...}`). */
export const BUS_STATES: readonly BusState[] = Object.freeze([
  'connecting',
  'connected',
  'reconnecting',
  'disconnected',
]);

/** One chat message on the bus. */
export interface BusMessage {
  /** Instance id of the server it came from (`''` for a message published by a plain NATS client). */
  readonly origin: string;
  /** Sender id, unique within the origin (one per chat connection). */
  readonly sender: string;
  /** Per-sender sequence number, from 1 (0 = none: not deduplicated). */
  readonly seq: number;
  /** The frame payload, unchanged. */
  readonly payload: Uint8Array;
}

/** Counters and state of a bus. */
export interface BusStatus {
  readonly state: BusState;
  /** This instance's id (the envelope's origin). */
  readonly instanceId: string;
  /** The NATS server in use (`host:port`), or '' when not connected. */
  readonly server: string;
  /** Successful reconnects since start. */
  readonly reconnects: number;
  /** Messages handed to NATS. */
  readonly published: number;
  /** Messages received from NATS (before the bridge's filtering). */
  readonly received: number;
  /**
   * Messages dropped: pending buffer full, bus closed, or larger than the server's
   * max_payload; and received ones whose NATS headers do not parse.
   */
  readonly dropped: number;
  /** Messages waiting for a reconnect, and their bytes. */
  readonly pendingMessages: number;
  readonly pendingBytes: number;
}

/**
 * What chat needs from a bus. Implementations must call `onMessage` in the
 * order the messages of one sender were published, and never throw from `publish`.
 */
export interface ChatBus {
  /** Id of this instance; the bridge stamps it on every message as `origin`. */
  readonly instanceId: string;
  /** Current state and counters. */
  readonly status: BusStatus;
  /**
   * Publishes `message` to `room`. Never waits; a transport problem never throws
   * (the message is kept or counted in `status.dropped`). Throws
   * InvalidArgumentError only for a room that is not one subject token.
   */
  publish(room: string, message: BusMessage): void;
  /** Calls `onMessage` for every message published to `room`; returns the unsubscriber. */
  subscribe(room: string, onMessage: (message: BusMessage) => void): () => void;
  /**
   * Resolves once the bus has taken in everything sent so far, subscriptions
   * included (a round trip to the NATS server), or at once when not connected.
   * After `subscribe()` + `flush()`, messages other instances publish reach this one.
   */
  flush(): Promise<void>;
  /** Closes the bus (pending messages are flushed when connected). Idempotent. */
  close(): Promise<void>;
}

/** The bus `connectNatsBus` (nats-bus.ts) returns: a {@link ChatBus} over one NATS connection. */
export interface NatsChatBus extends ChatBus {
  /** The NATS subject of `room` (`PREFIX.room`). */
  subject(room: string): string;
}

const SUBJECT_TOKEN = /^[A-Za-z0-9_-]+$/;

/** @internal True when `token` is one NATS subject token (letters, digits, `-`, `_`). */
export function isSubjectToken(token: string): boolean {
  return SUBJECT_TOKEN.test(token);
}

/** @internal The `SB_BAD_OPTION` error of a bad bus option. */
export function badBusOption(message: string): InvalidArgumentError {
  return new InvalidArgumentError('SB_BAD_OPTION', `bus: ${message}`);
}

/** @internal Throws `SB_BAD_OPTION` unless `room` is one NATS subject token. */
export function checkRoom(room: string): void {
  if (!isSubjectToken(room)) {
    throw badBusOption(`room "${room}" must be letters, digits, "-" or "_" (one subject token)`);
  }
}

/** Counters of a {@link ChatBridge}. */
export interface ChatBridgeStats {
  /** Local frames handed to the bus. */
  readonly published: number;
  /** Remote messages delivered to the local room. */
  readonly delivered: number;
  /** Own messages received back and skipped. */
  readonly ownSkipped: number;
  /** Messages skipped because their sequence number was already seen (within the window). */
  readonly duplicates: number;
  /**
   * Sequence numbers a sender skipped (messages lost on the bus), counted when its
   * window slides past them; one that turns up later is still delivered (not uncounted).
   */
  readonly gaps: number;
  /**
   * Numbers far outside a sender's window (a restart, a hole over 2^20, or a forgery):
   * delivered, not counted as gaps.
   */
  readonly resyncs: number;
}

/**
 * Senders whose dedupe window is kept (the least recently heard forgotten first):
 * ~150 bytes each with its key, 10 MB in all.
 */
const MAX_TRACKED_SENDERS = 65_536;
/**
 * Longest `origin/sender` key remembered. A NATS header may be as long as the
 * server's max_payload (1 MiB by default), and any NATS client can publish: 65,536
 * such keys would hold gigabytes. Switchboard's own keys are far shorter (12 hex
 * digits, a counter); a longer one is delivered without deduplication.
 */
const MAX_SENDER_KEY_LENGTH = 256;

/**
 * Joins a {@link ChatRoom} to a {@link ChatBus} room (see the module comment).
 * The bridge owns `room.relay` while started.
 */
export class ChatBridge {
  readonly #room: ChatRoom;
  readonly #bus: ChatBus;
  readonly #roomName: string;
  /** Sender id and next sequence number of each local member. */
  readonly #senders = new WeakMap<ChatMember, { id: string; seq: number }>();
  #nextSender = 0;
  /**
   * Dedupe window per remote `origin/sender`, least recently heard first: each message
   * moves its sender to the end (a Map delete + set, O(1)), so a flood of made-up
   * senders evicts the quiet ones, never a sender that keeps talking.
   */
  readonly #windows = new Map<string, SeqWindow>();
  /** The windows' counters, shared: duplicates, gaps, resyncs. */
  readonly #seqCounters: SeqCounters = { duplicates: 0, gaps: 0, resyncs: 0 };
  #unsubscribe: (() => void) | null = null;
  #published = 0;
  #delivered = 0;
  #ownSkipped = 0;

  constructor(room: ChatRoom, bus: ChatBus, roomName: string = DEFAULT_CHAT_ROOM) {
    checkRoom(roomName);
    this.#room = room;
    this.#bus = bus;
    this.#roomName = roomName;
  }

  /** Counters so far. */
  get stats(): ChatBridgeStats {
    return {
      published: this.#published,
      delivered: this.#delivered,
      ownSkipped: this.#ownSkipped,
      duplicates: this.#seqCounters.duplicates,
      gaps: this.#seqCounters.gaps,
      resyncs: this.#seqCounters.resyncs,
    };
  }

  /** Starts relaying in both directions. */
  start(): void {
    if (this.#unsubscribe !== null) {
      return;
    }
    this.#room.relay = (frame, from) => this.#publish(frame, from);
    this.#unsubscribe = this.#bus.subscribe(this.#roomName, (message) => this.#receive(message));
  }

  /** Stops relaying (the bus itself stays open). Idempotent. */
  stop(): void {
    if (this.#unsubscribe === null) {
      return;
    }
    this.#room.relay = null;
    this.#unsubscribe();
    this.#unsubscribe = null;
  }

  #publish(frame: Uint8Array, from: ChatMember | null): void {
    let sender = from === null ? undefined : this.#senders.get(from);
    if (sender === undefined) {
      this.#nextSender += 1;
      sender = { id: String(this.#nextSender), seq: 0 };
      if (from !== null) {
        this.#senders.set(from, sender);
      }
    }
    sender.seq += 1;
    this.#published += 1;
    this.#bus.publish(this.#roomName, {
      origin: this.#bus.instanceId,
      sender: sender.id,
      seq: sender.seq,
      payload: frame,
    });
  }

  #receive(message: BusMessage): void {
    if (message.origin === this.#bus.instanceId) {
      this.#ownSkipped += 1;
      return;
    }
    if (message.seq > 0 && message.origin.length + message.sender.length < MAX_SENDER_KEY_LENGTH) {
      const key = `${message.origin}/${message.sender}`;
      const seqWindow = this.#windows.get(key);
      if (seqWindow === undefined) {
        // A flood of made-up senders evicts real ones; an evicted sender's next
        // message just starts a new window (deduplication lapses, nobody is silenced).
        if (this.#windows.size >= MAX_TRACKED_SENDERS) {
          const leastRecent = this.#windows.keys().next();
          if (leastRecent.done !== true) {
            this.#windows.delete(leastRecent.value);
          }
        }
        this.#windows.set(key, new SeqWindow(message.seq));
      } else {
        this.#windows.delete(key);
        this.#windows.set(key, seqWindow);
        if (!seqWindow.accept(message.seq, this.#seqCounters)) {
          return;
        }
      }
    }
    this.#delivered += 1;
    this.#room.deliverFromRelay(message.payload);
  }
}
