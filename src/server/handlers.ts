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

/** One member of a chat room: something frames can be delivered to. */
export interface ChatMember {
  /** Queues `frame` for this member (must not throw; a slow member is cut by its own limits). */
  deliver(frame: Uint8Array): void;
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

  /** Delivers a frame that came from the relay (another process, or the bus) to every member. */
  deliverFromRelay(frame: Uint8Array): void {
    for (const member of this.#members) {
      member.deliver(frame);
    }
  }
}
