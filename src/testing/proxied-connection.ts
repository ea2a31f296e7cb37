/**
 * One proxied connection: the accepted client socket, its upstream socket to the target,
 * and the two pipes between them (fault-pipe.ts), and how the pair ends.
 *
 * Theory of operation
 * -------------------
 * Both sockets use allowHalfOpen, so a FIN travels through its pipe like data and the
 * other direction keeps flowing. When one socket closes, the pipe towards it stops (it
 * has nowhere to deliver) and the pipe towards the survivor delivers what it holds and
 * then ends it; once both pipes are done, both sockets are ended and destroyed after
 * flushing. A socket error tears the connection down; ECONNRESET from one side becomes
 * a RST to the other. A `resetAfter` cut RSTs both sides; a `closeAfter` cut FINs both
 * and destroys them after GRACEFUL_CLOSE_GRACE_MS if a peer never answers. `abort` ends
 * every wait of both pumps at teardown; the proxy hears of the close once both sockets
 * have closed.
 */
import type net from 'node:net';
import { realClearTimeout, realSetTimeout } from '../net/schedule.js';
import { Pipe, type PipeProxy } from './fault-pipe.js';
import type { FaultDirection } from './fault-types.js';

/** What a connection needs from its proxy, beyond what its pipes need. */
export interface ConnectionProxy extends PipeProxy {
  condemn(connection: ProxiedConnection): void;
  countReset(): void;
  countGracefulClose(): void;
  connectionClosed(connection: ProxiedConnection): void;
}

/** After a `closeAfter` FIN, sockets whose peer never answers with FIN are destroyed after this. */
const GRACEFUL_CLOSE_GRACE_MS = 5_000;

function destroyWithReset(socket: net.Socket): void {
  if (socket.destroyed) {
    return;
  }
  // resetAndDestroy() only works on TCP handles; a unix socket has no RST, so it is
  // simply destroyed. Without a handle yet, destroy() is the reset equivalent too.
  try {
    socket.resetAndDestroy();
  } catch {
    socket.destroy();
  }
}

/** A client connection, its upstream connection and the two pipes between them. */
export class ProxiedConnection {
  readonly abort = new AbortController();
  private readonly upstreamPipe: Pipe;
  private readonly downstreamPipe: Pipe;
  private closedSockets = 0;
  private tornDown = false;
  private graceTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly proxy: ConnectionProxy,
    readonly id: number,
    readonly client: net.Socket,
    readonly upstream: net.Socket,
  ) {
    for (const socket of [client, upstream]) {
      socket.setNoDelay(true);
      socket.on('error', (error: NodeJS.ErrnoException) => this.onSocketError(socket, error));
      socket.on('close', () => this.onSocketClose());
    }
    this.upstreamPipe = new Pipe(this, 'upstream', client, upstream);
    this.downstreamPipe = new Pipe(this, 'downstream', upstream, client);
  }

  faultsChanged(): void {
    this.upstreamPipe.faultsChanged();
    this.downstreamPipe.faultsChanged();
  }

  private other(socket: net.Socket): net.Socket {
    return socket === this.client ? this.upstream : this.client;
  }

  private onSocketError(socket: net.Socket, error: NodeJS.ErrnoException): void {
    // A reset on one side is shown to the other side as a reset; other errors just close.
    if (error.code === 'ECONNRESET') {
      destroyWithReset(this.other(socket));
    }
    this.destroy();
  }

  private onSocketClose(): void {
    this.closedSockets += 1;
    if (this.closedSockets === 2) {
      this.finish();
      return;
    }
    // One side is gone: nothing more can be delivered to it. The pipe towards the
    // surviving socket still delivers what it holds, then ends it (pipeFinished).
    if (this.client.destroyed) {
      this.downstreamPipe.stop();
    }
    if (this.upstream.destroyed) {
      this.upstreamPipe.stop();
    }
    this.pipeFinished();
  }

  /** Called when a pipe is done; once both are, the sockets are closed after flushing. */
  pipeFinished(): void {
    if (!this.upstreamPipe.done || !this.downstreamPipe.done) {
      return;
    }
    for (const socket of [this.client, this.upstream]) {
      if (!socket.destroyed) {
        socket.end(() => socket.destroy());
      }
    }
  }

  /** Stops both pipes (nothing more is forwarded); the sockets stay as they are. */
  stopPipes(): void {
    this.upstreamPipe.stop();
    this.downstreamPipe.stop();
  }

  /** A fault has decided to end this connection; the proxy caps how many wait (condemn). */
  condemn(): void {
    if (!this.tornDown) {
      this.proxy.condemn(this);
    }
  }

  /** Reset now: the proxy holds too many condemned connections and this is the oldest. */
  evict(): void {
    this.proxy.countReset();
    destroyWithReset(this.client);
    destroyWithReset(this.upstream);
    this.destroy();
  }

  reset(direction: FaultDirection): void {
    this.proxy.countReset();
    this.proxy.emit({ type: 'reset', connection: this.id, direction });
    destroyWithReset(this.client);
    destroyWithReset(this.upstream);
    this.destroy();
  }

  closeGracefully(direction: FaultDirection): void {
    if (this.graceTimer !== undefined || this.tornDown) {
      return;
    }
    this.proxy.countGracefulClose();
    this.proxy.emit({ type: 'closeAfter', connection: this.id, direction });
    this.condemn();
    this.upstreamPipe.stop();
    this.downstreamPipe.stop();
    this.client.end();
    this.upstream.end();
    // A peer that never answers our FIN would keep the socket forever: bound it.
    this.graceTimer = realSetTimeout(() => this.destroy(), GRACEFUL_CLOSE_GRACE_MS);
    this.graceTimer.unref();
  }

  /** Destroys both sockets now (idempotent). */
  destroy(_reason?: unknown): void {
    if (this.tornDown) {
      return;
    }
    this.tornDown = true;
    this.abort.abort();
    this.upstreamPipe.stop();
    this.downstreamPipe.stop();
    this.client.destroy();
    this.upstream.destroy();
  }

  private finish(): void {
    if (this.graceTimer !== undefined) {
      realClearTimeout(this.graceTimer);
    }
    this.tornDown = true;
    this.abort.abort();
    this.proxy.connectionClosed(this);
  }
}
