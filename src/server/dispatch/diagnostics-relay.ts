/**
 * Diagnostics of `processes` workers, relayed to the primary's subscribers (#14).
 *
 * Theory of operation
 * -------------------
 * `node:diagnostics_channel` is per process (and per thread): a worker process
 * publishes `switchboard:connection:open`, `:connection:close` and `:frame:error`
 * on its own channels, which nobody in the primary can see. So, while the primary
 * has a subscriber on one of these channels, each worker subscribes to its own
 * and sends every message to the primary over IPC ({@link RelayedDiagnostic});
 * the primary publishes it on the same channel, unchanged but for the error,
 * which crosses as `{ className, code, message, offset }` and is rebuilt as the
 * same SwitchboardError class (its `cause` and stack stay in the worker).
 *
 * Cost: nothing while the primary has no subscriber. The worker learns whether
 * to relay from its `init` message and from each heartbeat ping (processes.ts),
 * so a subscriber added after the server started sees worker events from the next
 * ping on (at most `workerHeartbeatInterval` later). Order: a worker's messages
 * travel on one IPC channel, so each connection's open, errors and close arrive
 * in order, and before the primary's accounting of that connection's end.
 *
 * `threads` needs no relay: its connections live on the main thread, which
 * publishes every event itself; worker threads only run frame handlers.
 */
import {
  type ConnectionCloseMessage,
  type ConnectionOpenMessage,
  diagnosticChannels,
  type FrameErrorMessage,
} from '../../diagnostics.js';
import {
  ConnectionError,
  ERROR_CODES,
  type ErrorCode,
  FrameError,
  InvalidArgumentError,
  StructError,
  SwitchboardError,
  TimeoutError,
  UnexpectedEofError,
} from '../../errors.js';

/** An error as it crosses IPC. */
export interface RelayedError {
  readonly code: ErrorCode;
  readonly message: string;
  readonly offset: number | undefined;
}

/** One diagnostics message of a worker, as it crosses IPC. */
export type RelayedDiagnostic =
  | { readonly channel: 'connectionOpen'; readonly message: ConnectionOpenMessage }
  | {
      readonly channel: 'connectionClose';
      readonly message: Omit<ConnectionCloseMessage, 'error'> & {
        readonly error: RelayedError | null;
      };
    }
  | {
      readonly channel: 'frameError';
      readonly message: Omit<FrameErrorMessage, 'error'> & { readonly error: RelayedError };
    };

/** True when the primary has a subscriber the workers should relay to. */
export function primaryObserves(): boolean {
  return (
    diagnosticChannels.connectionOpen.hasSubscribers ||
    diagnosticChannels.connectionClose.hasSubscribers ||
    diagnosticChannels.frameError.hasSubscribers
  );
}

function toRelayed(error: SwitchboardError): RelayedError {
  return { code: error.code, message: error.message, offset: error.offset };
}

/** Rebuilds a relayed error as the class its code belongs to (docs/ERRORS.md). */
export function reviveError(relayed: RelayedError): SwitchboardError {
  const details = relayed.offset === undefined ? {} : { offset: relayed.offset };
  const entry = (ERROR_CODES as Record<string, { class: string } | undefined>)[relayed.code];
  switch (entry?.class) {
    case 'FrameError':
      return new FrameError(relayed.code, relayed.message, details);
    case 'UnexpectedEofError':
      return new UnexpectedEofError(relayed.message, details);
    case 'TimeoutError':
      return new TimeoutError(relayed.code, relayed.message, details);
    case 'ConnectionError':
      return new ConnectionError(relayed.code, relayed.message, details);
    case 'StructError':
      return new StructError(relayed.message, details);
    case 'InvalidArgumentError':
      return new InvalidArgumentError(relayed.code, relayed.message, details);
    default:
      return new SwitchboardError(relayed.code, relayed.message, details);
  }
}

/** Publishes a worker's message on the primary's channel of the same name. */
export function publishRelayed(relayed: RelayedDiagnostic): void {
  switch (relayed.channel) {
    case 'connectionOpen':
      diagnosticChannels.connectionOpen.publish(relayed.message);
      return;
    case 'connectionClose': {
      const { error, ...rest } = relayed.message;
      diagnosticChannels.connectionClose.publish({
        ...rest,
        error: error === null ? null : reviveError(error),
      });
      return;
    }
    case 'frameError':
      diagnosticChannels.frameError.publish({
        ...relayed.message,
        error: reviveError(relayed.message.error),
      });
      return;
  }
}

/**
 * The worker side: subscribed to this process's channels only while relaying is
 * on, so a worker nobody observes builds no messages at all.
 */
export class WorkerDiagnosticsRelay {
  readonly #send: (relayed: RelayedDiagnostic) => void;
  #unsubscribe: (() => void) | null = null;

  constructor(send: (relayed: RelayedDiagnostic) => void) {
    this.#send = send;
  }

  /** Turns relaying on or off (idempotent). */
  setEnabled(enabled: boolean): void {
    if (enabled && this.#unsubscribe === null) {
      const send = this.#send;
      const subscriptions = [
        diagnosticChannels.connectionOpen.subscribe((message) =>
          send({ channel: 'connectionOpen', message: { ...message } }),
        ),
        diagnosticChannels.connectionClose.subscribe((message) =>
          send({
            channel: 'connectionClose',
            message: {
              ...message,
              error: message.error === null ? null : toRelayed(message.error),
            },
          }),
        ),
        diagnosticChannels.frameError.subscribe((message) =>
          send({ channel: 'frameError', message: { ...message, error: toRelayed(message.error) } }),
        ),
      ];
      this.#unsubscribe = () => {
        for (const unsubscribe of subscriptions) {
          unsubscribe();
        }
      };
    } else if (!enabled && this.#unsubscribe !== null) {
      this.#unsubscribe();
      this.#unsubscribe = null;
    }
  }
}
