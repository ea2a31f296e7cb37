/**
 * Built-in handlers: `echo`, `chat`, `discard`; and how a {@link HandlerChoice}
 * becomes the code that serves a connection or a frame.
 *
 * Each exists in two shapes: a connection body (`(channel, info)`, for the `loop` and
 * `processes` models, and `chat` under `threads`) and, where it makes sense, a frame
 * handler (`(frame, context)`, run in worker threads by the `threads` model). `chat`
 * has no frame-handler form: relaying to other clients needs their sockets, which
 * live on the main thread, so under `threads` chat is relayed on the main thread
 * (see docs/SERVER.md).
 *
 * Chat rooms: every connection of a server joins one {@link ChatRoom}. In the
 * `processes` model each worker has its own room, and a relay (the primary)
 * forwards each frame to the other workers' rooms.
 */
import type { Channel } from '../net/channel.js';
import {
  type ConnectionBody,
  type ConnectionHandler,
  markInputFirst,
} from './connection-handler.js';
import type { BuiltinFrameHandlerName, FrameHandler, PoolHandler } from './dispatch/protocol.js';
import { EXPECTED_CONNECTION_HANDLER, importHandlerModule } from './handler-module.js';
import type { BuiltinHandlerName, HandlerChoice } from './handler-spec.js';

/**
 * `echo`: every frame is sent back, in order. Input-first (it does nothing before the
 * first frame), so its connections start dormant: see markInputFirst.
 */
export const echoBody = markInputFirst(async (channel: Channel): Promise<void> => {
  // One await per batch of queued frames (batches()), not one per frame; and a send is
  // awaited only when its promise is not one already known to be fulfilled. Why that
  // is enough: below the socket's high-water mark send() returns one shared settled
  // promise, so after it was awaited once, the same object needs no await (a settled
  // promise stays settled); a drain wait or a failure is a new promise, awaited, so
  // backpressure and errors work as with `await channel.send()` per frame.
  let fulfilled: Promise<void> | undefined;
  for await (const frames of channel.batches()) {
    for (const frame of frames) {
      const sent = channel.send(frame);
      if (sent !== fulfilled) {
        await sent;
        fulfilled = sent;
      }
    }
  }
});

/** `discard`: frames are read and dropped, a batch per await. Input-first, like echo. */
export const discardBody = markInputFirst(async (channel: Channel): Promise<void> => {
  for await (const frames of channel.batches()) {
    // Reading is the point: it keeps the peer's writes flowing and the idle timer fed.
    frames.length = 0;
  }
});

/**
 * `chat`: each frame goes to every other member of `room`, in order.
 *
 * Fan-out cost (#14, #15): the body takes every frame queued on its channel at once
 * (`batches()`), and the room hands that run to each member as one chunk of wire
 * bytes, encoded once and shared: one queued chunk per receiver per run, no promise,
 * closure or observer per message. A member whose queued output
 * passes `maxQueuedOutput` (a client that does not read) is cut at once with
 * `SB_OUTPUT_QUEUE_FULL`; the others are unaffected and lose nothing.
 */
function chatBody(room: ChatRoom): ConnectionBody {
  return async (channel: Channel) => {
    const member: ChatMember = {
      deliver(frame) {
        member.deliverRun!(new FrameRun([frame]));
      },
      deliverRun(run) {
        // Without the frames this framing cannot carry (FrameRun.wireFor): remote input
        // must not close every local connection.
        const carried = run.wireFor(channel.framing, (frames) => channel.encodeRun(frames));
        if (carried.frames > 0) {
          // False when the channel failed or closed (its own serve() reports why), or
          // was just cut for passing maxQueuedOutput.
          channel.writeEncoded(carried.wire, carried.frames, carried.payloadBytes);
        }
      },
    };
    room.join(member);
    try {
      // Every frame queued at once (batches(): one take, one input-budget report per run,
      // not one per frame); a failure behind them is thrown by the next step only.
      for await (const frames of channel.batches()) {
        room.postRun(member, frames);
      }
    } finally {
      room.leave(member);
    }
  };
}

/** The connection body of a built-in handler (`chat` needs the server's room). */
function builtinBody(name: BuiltinHandlerName, room: ChatRoom): ConnectionBody {
  switch (name) {
    case 'echo':
      return echoBody;
    case 'discard':
      return discardBody;
    case 'chat':
      return chatBody(room);
  }
}

/** Loads a module whose default export is a {@link ConnectionHandler}. */
async function loadConnectionHandler(moduleUrl: string): Promise<ConnectionHandler> {
  return (await importHandlerModule(
    'handler',
    moduleUrl,
    EXPECTED_CONNECTION_HANDLER,
  )) as ConnectionHandler;
}

/** The connection body of a handler choice: a built-in's (`chat` joins `room`), or the module's default export. */
export async function connectionBody(
  choice: HandlerChoice,
  room: ChatRoom,
): Promise<ConnectionBody> {
  return 'builtin' in choice
    ? builtinBody(choice.builtin, room)
    : loadConnectionHandler(choice.module);
}

/** The frame handler a pool worker runs: a built-in's frame form, or the module's default export. */
export async function loadFrameHandler(spec: PoolHandler): Promise<FrameHandler> {
  if ('builtin' in spec) {
    return BUILTIN_FRAME_HANDLERS[spec.builtin];
  }
  return (await importHandlerModule(
    'handler',
    spec.module,
    'a function (frame, context) returning the replies, for dispatch "threads"',
  )) as FrameHandler;
}

/** Frame-handler forms of the built-ins (run in worker threads). */
const BUILTIN_FRAME_HANDLERS: Readonly<Record<BuiltinFrameHandlerName, FrameHandler>> =
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
  #carried: CarriedRun | undefined;

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
   * one Framing object). When `encode` throws, the framing cannot carry one of the
   * frames: a local member's frames always re-encode (the built-in encoders write back
   * whatever they decode), so it came from the bus, where any NATS client may publish
   * (a LF inside a line, a frame over maxFrame). The frames are then encoded one by one
   * and those that throw are left out, once for every caller with that framing, not
   * once per member (a hostile message must not cost one failed encode per client).
   */
  wireFor(framing: object, encode: (frames: readonly Uint8Array[]) => Uint8Array): CarriedRun {
    if (this.#framing === framing) {
      return this.#carried!;
    }
    let carried: CarriedRun;
    try {
      carried = {
        wire: encode(this.frames),
        frames: this.frames.length,
        payloadBytes: this.payloadBytes,
      };
    } catch {
      carried = carriable(this.frames, encode);
    }
    if (this.#framing === undefined) {
      this.#framing = framing;
      this.#carried = carried;
    }
    return carried;
  }
}

/** What {@link FrameRun.wireFor} gives a receiver: wire bytes, and the frames and payload bytes in them. */
export interface CarriedRun {
  readonly wire: Uint8Array;
  readonly frames: number;
  readonly payloadBytes: number;
}

/** The frames `encode` accepts one by one, in order, as one buffer. */
function carriable(
  frames: readonly Uint8Array[],
  encode: (frames: readonly Uint8Array[]) => Uint8Array,
): CarriedRun {
  const wires: Uint8Array[] = [];
  let payloadBytes = 0;
  for (const frame of frames) {
    try {
      wires.push(encode([frame]));
    } catch {
      continue;
    }
    payloadBytes += frame.length;
  }
  return { wire: Buffer.concat(wires), frames: wires.length, payloadBytes };
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
