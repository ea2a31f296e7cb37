/**
 * Entry of a `processes` dispatch worker: receives its configuration, then
 * connection handles from the primary, and serves each with the `loop` model.
 * See processes.ts for the division of work, protocol.ts for the messages.
 */

import type * as net from 'node:net';
import { parseFraming } from '../../codec/spec.js';
import { ConnectionError, type SwitchboardError } from '../../errors.js';
import { afterIo } from '../../net/schedule.js';
import { buildTlsServerOptions, tlsAcceptor } from '../../net/tls.js';
import { ConnectionSet } from '../connection-set.js';
import { loadFailure } from '../handler-module.js';
import { ChatRoom, connectionBody } from '../handlers.js';
import {
  type MetricsDelta,
  NO_LIVE_TRAFFIC,
  reportConnectionError,
  ServerMetrics,
} from '../metrics.js';
import { type ProxyPreamble, readProxyHeader } from '../raw-socket.js';
import { loadRequestHandler } from '../request-handler.js';
import { WorkerDiagnosticsRelay } from './diagnostics-relay.js';
import { FrameBatch, sendChatBatch, unpackFrames } from './processes.js';
import type {
  LiveTraffic,
  PrimaryMessage,
  ProcessWorkerConfig,
  ProcessWorkerMessage,
} from './protocol.js';

/** How often a worker reports metric deltas and live traffic, ms. */
const REPORT_INTERVAL_MS = 250;

function sendNow(message: ProcessWorkerMessage): void {
  if (process.connected) {
    // With a callback, a send that fails because the primary just died (EPIPE) is
    // reported to it rather than thrown as the process's uncaught 'error'; the
    // 'disconnect' that follows ends this worker the clean way.
    process.send?.(message, ignoreSendError);
  }
}

function ignoreSendError(): void {}

/**
 * Chat frames of this worker's clients, on their way to the primary. Not bounded
 * here: the primary reads for every worker, and cutting this worker's clients
 * would not make it read faster (docs/SCALING.md §6).
 */
const chatOut = new FrameBatch(
  (frames, written) => sendChatBatch(process, frames, written),
  Number.POSITIVE_INFINITY,
  () => undefined,
);

/** Sends `message` after any batched chat frames: e.g. `drained` must not overtake them. */
function send(message: ProcessWorkerMessage): void {
  chatOut.flush();
  sendNow(message);
}

let connections: ConnectionSet | null = null;
let config: ProcessWorkerConfig | null = null;
const metrics = new ServerMetrics();
const room = new ChatRoom();
room.relay = (frame) => chatOut.deliver(frame);
// Diagnostics go to the primary's subscribers (diagnostics-relay.ts). Not after
// batched chat: they are independent of it, and sendNow keeps them in event order.
const diagnostics = new WorkerDiagnosticsRelay((relayed) =>
  sendNow({ type: 'diagnostic', relayed }),
);

/** Counter increments since the last report, and the traffic of connections still open. */
function report(): { delta: MetricsDelta; live: LiveTraffic } {
  return {
    delta: metrics.takeDelta(),
    live: connections?.liveStats() ?? NO_LIVE_TRAFFIC,
  };
}

async function init(received: ProcessWorkerConfig): Promise<void> {
  config = received;
  diagnostics.setEnabled(received.relayDiagnostics);
  const framing = parseFraming(received.framing, { maxFrame: received.maxFrame });
  const body = await connectionBody(received.handler, room);
  const requests = received.requests;
  const requestModule = requests?.onRequest ?? null;
  const onRequest = requestModule === null ? undefined : await loadRequestHandler(requestModule);
  const tlsOptions = received.tls === null ? null : buildTlsServerOptions(received.tls);
  connections = new ConnectionSet(
    {
      serverId: received.serverId,
      framing,
      limits: received.limits,
      tls: tlsOptions === null ? null : tlsAcceptor(tlsOptions),
      metrics,
      ...(received.unixAddress === null ? {} : { unixAddress: received.unixAddress }),
      ...(requests === null ? {} : { requests: { ...requests, onRequest } }),
    },
    body,
  );
  const reporter = setInterval(() => {
    if (
      connections !== null &&
      (connections.size > 0 || metrics.framesIn + metrics.framesOut > 0)
    ) {
      send({ type: 'metrics', ...report() });
    }
  }, REPORT_INTERVAL_MS);
  reporter.unref();
}

async function serveConnection(id: string, socket: net.Socket | undefined): Promise<void> {
  if (socket === undefined || connections === null || config === null) {
    send({ type: 'closed', id, ...report(), refusedProxyHeader: false });
    return;
  }
  // Sockets received over IPC are created without allowHalfOpen; the server needs it
  // to answer a client that has shut down its write side (eof framing).
  socket.allowHalfOpen = true;
  socket.on('error', () => undefined);
  let proxy: ProxyPreamble | null = null;
  if (config.proxyProtocol) {
    try {
      proxy = await readProxyHeader(
        socket,
        config.limits.frameTimeout,
        undefined,
        connections.inputBudget,
      );
    } catch (error) {
      reportConnectionError(
        metrics,
        { serverId: config.serverId, connectionId: id, remoteAddress: '' },
        error as SwitchboardError,
      );
      socket.destroy();
      send({ type: 'closed', id, ...report(), refusedProxyHeader: true });
      return;
    }
  }
  await connections.serve(socket, id, proxy);
  // The primary's connectionsOpen/Accepted are authoritative; only traffic and errors travel.
  send({ type: 'closed', id, ...report(), refusedProxyHeader: false });
}

process.on('message', (message: PrimaryMessage, handle: unknown) => {
  switch (message.type) {
    case 'init':
      init(message.config).then(
        () => send({ type: 'ready' }),
        (error: unknown) => {
          send({ type: 'load-error', ...loadFailure(error) });
          process.exitCode = 1;
          // The primary may have disconnected first (it saw the report, or another
          // worker's): a second disconnect() would be this process's uncaught 'error'.
          if (process.connected) {
            process.disconnect();
          }
        },
      );
      return;
    case 'connection':
      // serveConnection never rejects by design; should it, the connection is still
      // reported closed, or the primary would keep its slot forever (#14).
      serveConnection(message.id, handle as net.Socket | undefined).catch(() => {
        send({ type: 'closed', id: message.id, ...report(), refusedProxyHeader: false });
      });
      return;
    case 'chat':
      room.deliverRunFromRelay(unpackFrames(message));
      return;
    case 'ping':
      // Answered from the event loop: a worker that is stopped or stuck does not answer.
      diagnostics.setEnabled(message.relayDiagnostics);
      sendNow({ type: 'pong' });
      return;
    case 'drain':
      (connections?.drain(message.timeout) ?? Promise.resolve(0)).then(
        (destroyed) => send({ type: 'drained', destroyed }),
        () => send({ type: 'drained', destroyed: 0 }),
      );
      return;
    case 'exit':
      // Not synchronously: when 'exit' is among the messages node replays to the
      // first 'message' listener (a replacement told to exit as it starts), a
      // disconnect inside that replay makes node throw (channel gone mid-loop).
      afterIo(() => {
        if (process.connected) {
          process.disconnect();
        }
      });
      return;
  }
});

// When the primary goes away, so do we: connections held here would be orphans.
process.on('disconnect', () => {
  setTimeout(() => process.exit(0), 50).unref();
  void connections
    ?.destroyAll(new ConnectionError('SB_WORKER_CRASHED', 'the primary process went away'))
    .finally(() => process.exit(0));
});
