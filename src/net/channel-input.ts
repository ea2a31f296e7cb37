/**
 * ChannelInput: a Channel's way in: the read loop ("pump") that moves bytes from the
 * socket through the decoder into the inbound queue (net/frame-queue.ts), and the
 * channel's share of a server's input budget.
 *
 * Theory of operation
 * -------------------
 * The pump runs whenever the socket reports a change, not when the user calls
 * `receive()`, so that control traffic (PING/PONG, RESPONSE, CLOSE in `sbp` mode) and
 * the idle/frame deadlines work even while the application is busy. It stops when the
 * queue holds `maxQueuedInput` bytes; the socket then fills its own bounded buffer and
 * pauses the kernel socket, so a fast peer meets TCP flow control instead of our
 * memory. A take that drains the queue to half the limit runs the pump again.
 *
 * Pump state table (one pass; repeated until it blocks):
 *
 * | state                              | action                                        | next              |
 * | ---------------------------------- | --------------------------------------------- | ----------------- |
 * | failed or input done               | nothing                                       | stop              |
 * | queue >= maxQueuedInput            | pause; a take resumes at half the limit       | stop              |
 * | FRAMES_PER_TURN frames taken since | continue from setImmediate (see below)        | stop (yielded)    |
 * |   the loop last blocked            |                                               |                   |
 * | decoder has a frame                | queue it (sbp: dispatch control envelopes)    | loop              |
 * | decoder needs data, socket has a   | push chunk, note activity (idle timer)        | loop              |
 * |   chunk                            |                                               |                   |
 * | decoder needs data, socket empty   | note whether a frame is started (frame timer);| stop (wait)       |
 * |                                    |   the turn budget starts again                |                   |
 * | socket at EOF                      | decoder.end(): leftover frames are queued;    | input done        |
 * |                                    |   a partial frame is SB_UNEXPECTED_EOF        |                   |
 * | decoder throws FrameError, socket  | fail: destroy the socket with that error      | failed            |
 * |   throws (reset), a deadline fires |                                               |                   |
 *
 * After every pass the input account (if any) learns how many input bytes the channel
 * holds, and the owner wakes its waiters.
 *
 * Fairness: a turn's work is bounded in frames, not only bytes. A 64 KiB read of empty
 * frames (a 4-byte length header of 0, a bare LF) is 16-64 Ki frames, and each costs
 * a decode, a queue slot and the handler's work; done all at once per read, a few
 * hundred such peers kept every other connection, timer and a `processes` worker's
 * heartbeat answer waiting for over a second. So after {@link FRAMES_PER_TURN} frames
 * without the loop having blocked on an empty socket, the loop stops and continues
 * from setImmediate (tokio's per-task budget, Netty's maxMessagesPerRead): the handler
 * gets those frames now, and every other callback of this event-loop turn runs before
 * the rest. Bytes that arrive meanwhile wait in the socket's bounded buffer. A peer
 * that sends less than the budget per read never meets it (the loop blocks, and the
 * budget starts again), so ordinary traffic pays nothing.
 */
import { type Decoder, NEED_DATA } from '../codec/types.js';
import { ConnectionError, type SwitchboardError, toSwitchboardError } from '../errors.js';
import type { ChannelDeadlines } from './channel-deadlines.js';
import type { Clock } from './clock.js';
import type { FrameQueue } from './frame-queue.js';
import { afterIo } from './schedule.js';
import type { Socket } from './socket.js';

/**
 * Frames the read loop takes in one go before it lets the event loop turn (see the
 * module comment). 1024: a 64 KiB read of 64-byte frames (~960) fits in one go, so a
 * normal stream never yields; an empty-frame flood yields every 4 KiB to 64 KiB read.
 */
export const FRAMES_PER_TURN = 1024;

/** The setImmediate continuation of a read loop that used up its turn (no closure per yield). */
function continueTurn(input: ChannelInput): void {
  input.continueTurn();
}

/**
 * A share of a server-wide input budget (implemented by server/input-budget.ts;
 * declared in net/ so that net/ does not import server/). Not exported from the
 * package, yet kept in the emitted `.d.ts`, because those of ChannelInput and
 * Channel name it (stripping it left them pointing at nothing).
 */
export interface InputAccount {
  /** The channel now holds `held` input bytes. */
  update(held: number): void;
  /** The channel reads no more; its bytes leave the budget. Idempotent. */
  close(): void;
}

/** What the read loop needs from its channel. */
export interface InputOwner {
  /** The channel's sticky error: a failed channel reads no more. */
  readonly error: SwitchboardError | undefined;
  /** True once close() or destroy() began: the socket ending under us is not a failure. */
  readonly isClosing: boolean;
  /** Fails the channel (a broken frame or envelope, a reset). */
  destroy(error: Error): void;
  /** A pass of the read loop ended: frames may be queued, the input may have ended. */
  inputChanged(): void;
  /** True when select() or a wait with a deadline observes the channel (a reader waits). */
  readonly observed: boolean;
  /** Output bytes not yet handed to the socket. */
  readonly unflushedOutput: number;
}

/** What the read loop uses of the sbp session (net/sbp-session.ts). */
interface InputSession {
  /** The message in `frame` (DATA), undefined (control traffic it handled), or null (CLOSE). */
  receive(frame: Uint8Array): Uint8Array | null | undefined;
  rejectPending(error: Error): void;
}

/** Received-message counters (the channel's stats). */
interface ReceiveCounters {
  framesReceived: number;
  bytesReceived: number;
}

/** One channel's read loop and input account. */
export class ChannelInput {
  private readonly owner: InputOwner;
  private readonly socket: Socket;
  private readonly decoder: Decoder;
  private readonly queue: FrameQueue;
  private readonly deadlines: ChannelDeadlines;
  private readonly session: InputSession | undefined;
  private readonly stats: ReceiveCounters;
  private readonly clock: Clock;
  private inputDone = false;
  private pumping = false;
  private repump = false;
  /** Frames the loop may still take before it yields (see FRAMES_PER_TURN). */
  private budget = FRAMES_PER_TURN;
  /** The loop used up its budget and continues from setImmediate. */
  private yielded = false;
  /**
   * Where the server's input budget learns how many input bytes this channel holds
   * (server/input-budget.ts); undefined for a channel outside a server.
   */
  private account: InputAccount | undefined;
  /** Input bytes received by this channel that its owner still holds elsewhere (see hold). */
  private heldElsewhere = 0;
  /** endWhenIdle() was called: input ends at the next idle moment (see there). */
  private endsAtIdle = false;
  /** Its quiet period (ms), the last traffic seen since (clock ms), and its timer. */
  private idleQuiet = 0;
  private quietSince = 0;
  private quietTimer: unknown;

  constructor(
    owner: InputOwner,
    socket: Socket,
    decoder: Decoder,
    queue: FrameQueue,
    deadlines: ChannelDeadlines,
    session: InputSession | undefined,
    stats: ReceiveCounters,
    clock: Clock,
  ) {
    this.owner = owner;
    this.socket = socket;
    this.decoder = decoder;
    this.queue = queue;
    this.deadlines = deadlines;
    this.session = session;
    this.stats = stats;
    this.clock = clock;
  }

  /** True once the input ended: EOF, the peer's CLOSE, our own close, or endInput(). */
  get done(): boolean {
    return this.inputDone;
  }

  /** True while the read loop runs (its end wakes the channel's waiters anyway). */
  get running(): boolean {
    return this.pumping;
  }

  /**
   * True while the loop has used up its turn and waits for its setImmediate
   * continuation: input is waiting to be decoded, so the channel is not idle.
   */
  get yielding(): boolean {
    return this.yielded;
  }

  /** Bytes of received frames the channel's owner still holds (see {@link hold}). */
  get held(): number {
    return this.heldElsewhere;
  }

  /**
   * Runs the read loop until it blocks or uses up its turn (re-entrant calls run it
   * once more). While it waits for its continuation, a call only reports and wakes:
   * the socket may have changed for the writer's sake (a drain).
   */
  pump(): void {
    if (this.pumping) {
      this.repump = true;
      return;
    }
    if (!this.yielded) {
      this.pumping = true;
      try {
        do {
          this.repump = false;
          this.pumpOnce();
        } while (this.repump && !this.yielded);
      } finally {
        this.pumping = false;
      }
    }
    if (this.account !== undefined) {
      this.reportInput();
    }
    if (this.endsAtIdle) {
      this.checkEndWhenIdle();
    }
    this.owner.inputChanged();
  }

  private pumpOnce(): void {
    const decoder = this.decoder;
    const queue = this.queue;
    if (queue.paused) {
      return;
    }
    while (this.owner.error === undefined && !this.inputDone) {
      if (queue.pauseIfFull()) {
        break;
      }
      if (this.budget <= 0) {
        this.yieldTurn();
        break;
      }
      if (this.session === undefined) {
        // Every frame is a message: decode them straight into the queue, counted once
        // per run rather than once per frame (see FrameQueue.fill).
        if (this.fill()) {
          continue;
        }
        if (this.owner.error !== undefined) {
          return;
        }
      } else {
        let frame: Uint8Array | typeof NEED_DATA;
        try {
          frame = decoder.next();
        } catch (error) {
          this.owner.destroy(toSwitchboardError(error));
          return;
        }
        if (frame !== NEED_DATA) {
          this.budget -= 1;
          this.deadlines.frameDone();
          this.deliver(frame);
          continue;
        }
      }
      let chunk: Uint8Array | null;
      try {
        chunk = this.socket.readChunk();
      } catch (error) {
        const wrapped = toSwitchboardError(error);
        if (this.owner.isClosing && wrapped.code === 'SB_CONNECTION_CLOSED') {
          // Our own close()/destroy() ended the socket: not a failure.
          this.inputDone = true;
          this.deadlines.endInput();
          return;
        }
        this.owner.destroy(wrapped);
        return;
      }
      if (chunk === null) {
        // Blocked: everything received is taken, so the next read starts a new turn.
        this.budget = FRAMES_PER_TURN;
        break;
      }
      if (chunk.length === 0) {
        this.finishInput();
        return;
      }
      this.deadlines.noteInput();
      if (this.endsAtIdle) {
        this.quietSince = this.clock.now();
      }
      decoder.push(chunk);
    }
    if (this.owner.error === undefined && !this.inputDone) {
      this.deadlines.watchFrame();
    }
  }

  /** Stops the loop for this turn; it continues from setImmediate with a new budget. */
  private yieldTurn(): void {
    this.yielded = true;
    afterIo(continueTurn, this);
  }

  /** @internal The setImmediate after {@link yieldTurn}: a new turn, a new budget. */
  continueTurn(): void {
    this.yielded = false;
    this.budget = FRAMES_PER_TURN;
    this.pump();
  }

  /**
   * Moves the frames the decoder has into the queue, up to its limit and the turn's
   * budget; true when it moved any. A decoder error fails the channel (the frames
   * before it stay queued).
   */
  private fill(): boolean {
    const queue = this.queue;
    const sizeBefore = queue.size;
    const bytesBefore = queue.bytes;
    let failure: unknown;
    try {
      queue.fill(this.decoder, this.budget);
    } catch (error) {
      failure = error;
    }
    const frames = queue.size - sizeBefore;
    this.budget -= frames;
    if (frames > 0) {
      this.stats.framesReceived += frames;
      this.stats.bytesReceived += queue.bytes - bytesBefore;
      this.deadlines.frameDone();
    }
    if (failure !== undefined) {
      this.owner.destroy(toSwitchboardError(failure));
      return false;
    }
    return frames > 0;
  }

  /** EOF from the socket: leftover complete frames are delivered, a partial one is an error. */
  private finishInput(): void {
    try {
      this.decoder.end();
      for (;;) {
        const frame = this.decoder.next();
        if (frame === NEED_DATA) {
          break;
        }
        this.deliver(frame);
        if (this.owner.error !== undefined || this.inputDone) {
          return;
        }
      }
    } catch (error) {
      this.owner.destroy(toSwitchboardError(error));
      return;
    }
    this.endInput();
  }

  /** Ends the input as at a clean EOF: nothing more is read, pending requests fail. */
  endInput(): void {
    this.inputDone = true;
    this.deadlines.endInput();
    if (this.session !== undefined) {
      this.session.rejectPending(
        new ConnectionError(
          'SB_CONNECTION_CLOSED',
          'the peer closed the channel before responding',
        ),
      );
    }
  }

  private deliver(frame: Uint8Array): void {
    const session = this.session;
    if (session === undefined) {
      this.countReceived(frame);
      this.queue.push(frame);
      return;
    }
    let message: Uint8Array | null | undefined;
    try {
      message = session.receive(frame);
    } catch (error) {
      this.owner.destroy(toSwitchboardError(error));
      return;
    }
    if (message === null) {
      this.endInput(); // the peer's CLOSE
    } else if (message !== undefined) {
      this.countReceived(message);
      this.queue.push(message);
    }
  }

  /**
   * Stats count messages, not wire frames: in `sbp` mode DATA, REQUEST and RESPONSE
   * envelopes and their bodies (PING, PONG and CLOSE are the channel's own traffic),
   * matching what `send`, `request` and `respond` count on the way out.
   */
  private countReceived(body: Uint8Array): void {
    this.stats.framesReceived += 1;
    this.stats.bytesReceived += body.length;
  }

  /** True once {@link endWhenIdle} was called. */
  get endsWhenIdle(): boolean {
    return this.endsAtIdle;
  }

  /**
   * Ends input at the first idle moment (see Channel.endInputWhenIdle): no message
   * partly received or queued, no output queued, a reader waiting, and no traffic
   * either way for `quiet` ms (counted from this call).
   */
  endWhenIdle(quiet: number): void {
    if (this.endsAtIdle) {
      return;
    }
    this.endsAtIdle = true;
    this.idleQuiet = quiet;
    this.quietSince = this.clock.now();
    this.checkEndWhenIdle();
  }

  /** A reader started waiting: the moment endWhenIdle waits for may have come. */
  readerWaits(): void {
    if (this.endsAtIdle) {
      this.checkEndWhenIdle();
    }
  }

  stopQuietTimer(): void {
    if (this.quietTimer !== undefined) {
      this.clock.clearTimeout(this.quietTimer);
      this.quietTimer = undefined;
    }
  }

  private checkEndWhenIdle(): void {
    this.stopQuietTimer();
    if (this.inputDone || this.owner.isClosing || this.owner.error !== undefined) {
      return;
    }
    const socket = this.socket;
    if (this.queue.size > 0 || this.decoder.inFrame || socket.isClosed) {
      return; // a message is queued or in progress: busy (or the socket reports its end)
    }
    const readerWaits =
      this.queue.hasParkedReader || this.queue.hasSignalWaiters || this.owner.observed;
    if (!readerWaits) {
      return; // the handler is busy with the last message; checked when it reads again
    }
    // Queued output is traffic still going on: a write's completion notifies nobody, so
    // the timer below checks again (the write timeout covers a peer that stopped reading).
    const outputQueued = this.owner.unflushedOutput > 0 || socket.writableLength > 0;
    const lastTraffic = Math.max(this.quietSince, socket.lastWriteDoneAt);
    const quietFor = outputQueued ? 0 : this.clock.now() - lastTraffic;
    if (quietFor < this.idleQuiet) {
      // Checked again after the poll phase that follows the timer (setImmediate): bytes
      // already waiting in the kernel when the timer fires (a busy event loop) are read
      // first, and count as traffic, instead of being cut off.
      this.quietTimer = this.clock.setTimeout(() => {
        this.quietTimer = undefined;
        afterIo(() => this.checkEndWhenIdle());
      }, this.idleQuiet - quietFor);
      return;
    }
    this.endInput();
    if (!this.pumping) {
      this.owner.inputChanged();
    }
  }

  /** Reports to `account` from now on (see Channel.setInputAccount). */
  setAccount(account: InputAccount): void {
    this.account = account;
    this.queue.reportsTakes = true;
    this.reportInput();
  }

  /** Counts `bytes` (negative: releases them) held by the owner (see Channel.holdInput). */
  hold(bytes: number): void {
    this.heldElsewhere += bytes;
    if (this.account !== undefined) {
      this.reportInput();
    }
  }

  /** The account closes (the connection closed, or the channel let go of it). */
  closeAccount(): void {
    this.account?.close();
  }

  /** Closes the account and reports to none from now on (detach). */
  dropAccount(): void {
    this.account?.close();
    this.account = undefined;
    this.queue.reportsTakes = false;
  }

  /**
   * Tells the input account how many input bytes this channel holds: unread in the
   * socket, in the decoder (the unfinished frame, and the room reserved for it),
   * decoded but not yet received, and held by its owner. O(1). Only with an account.
   */
  reportInput(): void {
    const account = this.account!;
    if (this.socket.isClosed) {
      // Nothing more is read; what is left goes with the channel (cleanup closes the account).
      account.close();
      return;
    }
    // `reserved`: the unfilled part of a large frame's buffer (codec/byte-queue.ts) is
    // memory too, at most as much again as the frame's bytes received.
    account.update(
      this.socket.bufferedAmount +
        this.decoder.buffered +
        (this.decoder.reserved ?? 0) +
        this.queue.heldBytes +
        this.heldElsewhere,
    );
  }
}
