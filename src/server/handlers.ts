/**
 * Built-in handlers: `echo`, `chat`, `discard`.
 *
 * Each exists in two shapes: a connection handler (`(channel, info)`, for the
 * `loop` and `processes` models) and, where it makes sense, a frame handler
 * (`(frame, context)`, run in worker threads by the `threads` model). `chat`
 * has no frame-handler form: relaying to other clients needs their sockets, which
 * live on the main thread, so under `threads` chat is relayed on the main thread
 * (see docs/SERVER.md).
 *
 * Chat rooms: every connection of a server joins one {@link ChatRoom}. In the
 * `processes` model each worker has its own room, and a relay (the primary)
 * forwards each frame to the other workers' rooms.
 */
import type { BuiltinFrameHandlerName, FrameHandler } from './dispatch/frame-handler.js';

export type { BuiltinFrameHandlerName };

/** Names accepted as a built-in `handler`. */
export type BuiltinHandlerName = 'echo' | 'chat' | 'discard';

/** The built-in names, for validation. */
export const BUILTIN_HANDLER_NAMES: readonly BuiltinHandlerName[] = Object.freeze([
  'echo',
  'chat',
  'discard',
]);

/** Frame-handler forms of the built-ins (run in worker threads). */
export const BUILTIN_FRAME_HANDLERS: Readonly<Record<BuiltinFrameHandlerName, FrameHandler>> =
  Object.freeze({
    echo: (frame: Uint8Array) => frame,
    discard: () => undefined,
  });

/**
 * A run of frames posted together (what one read from the sender yielded), with its
 * wire bytes encoded at most once per framing and shared by every receiver: fan-out
 * then costs one encoding per run plus one queued chunk per receiver, whatever the
 * number of frames in it.
 */
export class FrameRun {
  /** The frames, oldest first. */
  readonly frames: readonly Uint8Array[];
  #payloadBytes = -1;
  #framing: object | undefined;
  #wire: Uint8Array | undefined;

  constructor(frames: readonly Uint8Array[]) {
    this.frames = frames;
  }

  /** Sum of the frames' lengths. */
  get payloadBytes(): number {
    if (this.#payloadBytes < 0) {
      let total = 0;
      for (const frame of this.frames) {
        total += frame.length;
      }
      this.#payloadBytes = total;
    }
    return this.#payloadBytes;
  }

  /**
   * The run's wire bytes in `framing`: `encode(frames)` on first use, and the same
   * bytes for every later caller with that framing (the members of one server share
   * one Framing object). Throws what `encode` throws.
   */
  wireFor(framing: object, encode: (frames: readonly Uint8Array[]) => Uint8Array): Uint8Array {
    if (this.#framing === framing) {
      return this.#wire!;
    }
    const wire = encode(this.frames);
    if (this.#framing === undefined) {
      this.#framing = framing;
      this.#wire = wire;
    }
    return wire;
  }
}

/** One member of a chat room: something frames can be delivered to. */
export interface ChatMember {
  /** Queues `frame` for this member (must not throw; a slow member is cut by its own limits). */
  deliver(frame: Uint8Array): void;
  /**
   * Optional: queues a whole run at once (e.g. as one shared chunk of wire bytes).
   * Without it the room calls {@link ChatMember.deliver} for each frame. Must not throw.
   */
  deliverRun?(run: FrameRun): void;
}

/**
 * The set of connections that receive each other's frames. `relay`, when set, is
 * told about every frame posted locally (the processes model forwards it to the
 * other workers).
 */
export class ChatRoom {
  readonly #members = new Set<ChatMember>();
  /** Told about every locally posted frame and its sender (`from`; null when posted by the server itself). */
  relay: ((frame: Uint8Array, from: ChatMember | null) => void) | null = null;

  /** Members now in the room. */
  get size(): number {
    return this.#members.size;
  }

  join(member: ChatMember): void {
    this.#members.add(member);
  }

  leave(member: ChatMember): void {
    this.#members.delete(member);
  }

  /** Delivers `frame` to every member except `from`, and to the relay. */
  post(from: ChatMember | null, frame: Uint8Array): void {
    for (const member of this.#members) {
      if (member !== from) {
        member.deliver(frame);
      }
    }
    this.relay?.(frame, from);
  }

  /** Delivers a run of frames, in order, to every member except `from`, and to the relay. */
  postRun(from: ChatMember | null, frames: readonly Uint8Array[]): void {
    if (frames.length === 0) {
      return;
    }
    this.#deliverRun(from, new FrameRun(frames));
    const relay = this.relay;
    if (relay !== null) {
      for (const frame of frames) {
        relay(frame, from);
      }
    }
  }

  /** Delivers a frame that came from the relay (another process, or the bus) to every member. */
  deliverFromRelay(frame: Uint8Array): void {
    for (const member of this.#members) {
      member.deliver(frame);
    }
  }

  /** Delivers a run of frames that came from the relay to every member, in order. */
  deliverRunFromRelay(frames: readonly Uint8Array[]): void {
    if (frames.length > 0) {
      this.#deliverRun(null, new FrameRun(frames));
    }
  }

  #deliverRun(from: ChatMember | null, run: FrameRun): void {
    for (const member of this.#members) {
      if (member === from) {
        continue;
      }
      if (member.deliverRun !== undefined) {
        member.deliverRun(run);
      } else {
        for (const frame of run.frames) {
          member.deliver(frame);
        }
      }
    }
  }
}
