/**
 * Errors: one base class, a table of stable codes, and one subclass per party
 * at fault.
 *
 * Callers match on `error.code`, never on the message. Messages name the limit
 * and the size involved; they never contain bytes received from a peer.
 * `docs/ERRORS.md` documents every code in {@link ERROR_CODES}, and a test keeps
 * the two in agreement.
 *
 * Who is at fault:
 * - {@link FrameError}: the peer sent bytes that violate the framing (remote).
 * - {@link UnexpectedEofError}: the input ended inside a frame (remote).
 * - {@link TimeoutError}: a deadline passed (either side, or the network).
 * - {@link ConnectionError}: the connection failed or was refused (network).
 * - {@link StructError}: `pack`/`unpack` got values or bytes CPython would reject.
 * - {@link InvalidArgumentError}: the caller misused the API (local).
 *
 * Any other exception escaping a decoder is a bug in switchboard.
 */

/** Every error class name, as used in {@link ERROR_CODES}. */
export type ErrorClassName =
  | 'FrameError'
  | 'UnexpectedEofError'
  | 'TimeoutError'
  | 'ConnectionError'
  | 'StructError'
  | 'InvalidArgumentError'
  | 'SwitchboardError';

/**
 * The code table. Keys are the stable codes; `class` is the error class that
 * carries the code; `summary` is the one-line meaning, mirrored in docs/ERRORS.md.
 */
export const ERROR_CODES = {
  // Peer sent bad bytes (FrameError).
  SB_FRAME_TOO_LARGE: {
    class: 'FrameError',
    summary: 'A frame (or its declared length) exceeds maxFrame; checked at the header.',
  },
  SB_BAD_LENGTH_PREFIX: {
    class: 'FrameError',
    summary: 'A length prefix is impossible: negative after adjustment or smaller than its header.',
  },
  SB_VARINT_OVERLONG: {
    class: 'FrameError',
    summary: 'A varint length uses more than 10 bytes or does not fit in 64 bits.',
  },
  SB_UNKNOWN_TYPE_BYTE: {
    class: 'FrameError',
    summary: 'A tagged frame starts with a type byte the framing does not define.',
  },
  SB_BAD_DIGITS: {
    class: 'FrameError',
    summary: 'An ASCII decimal length field (digits, netstring) contains a non-digit.',
  },
  SB_BAD_NETSTRING: {
    class: 'FrameError',
    summary: "A netstring is malformed: missing ':' or the ',' terminator, or a leading zero.",
  },
  SB_BAD_MLLP: {
    class: 'FrameError',
    summary: 'An MLLP frame does not start with 0x0b or its end block is not 0x1c 0x0d.',
  },
  SB_BAD_HEADER: {
    class: 'FrameError',
    summary: 'A header block (Content-Length framing) is malformed, duplicated or missing.',
  },
  SB_BAD_ENVELOPE: {
    class: 'FrameError',
    summary: 'An sbp envelope has an unknown type or a body too short for its type.',
  },
  SB_PROXY_HEADER_INVALID: {
    class: 'FrameError',
    summary: 'A PROXY protocol v1/v2 header is missing, truncated or malformed.',
  },
  SB_BAD_INPUT_RECORD: {
    class: 'FrameError',
    summary:
      'CLI `encode --input json`: a line is not a `{"hex": ...}` record as `decode --output json` prints.',
  },
  // Input ended inside a frame.
  SB_UNEXPECTED_EOF: {
    class: 'UnexpectedEofError',
    summary: 'The input or connection ended inside a frame (bytes left over at end()).',
  },
  // Deadlines.
  SB_TIMEOUT: {
    class: 'TimeoutError',
    summary:
      'A call did not complete within its `timeout` (ms), or its signal was `AbortSignal.timeout()`.',
  },
  SB_CONNECT_TIMEOUT: {
    class: 'TimeoutError',
    summary: 'The connection was not established within connectTimeout.',
  },
  SB_IDLE_TIMEOUT: {
    class: 'TimeoutError',
    summary:
      'No bytes moved either way (none received, no output accepted by the peer) for idleTimeout ms; the connection was closed.',
  },
  SB_FRAME_TIMEOUT: {
    class: 'TimeoutError',
    summary: 'A started frame did not complete within frameTimeout ms (slowloris).',
  },
  SB_WRITE_TIMEOUT: {
    class: 'TimeoutError',
    summary: 'Queued output was not accepted by the peer within writeTimeout ms.',
  },
  SB_PEER_UNRESPONSIVE: {
    class: 'TimeoutError',
    summary: 'Heartbeat: maxOutstanding pings went unanswered; the peer is presumed dead.',
  },
  // Network and connection state.
  SB_CONNECTION_REFUSED: {
    class: 'ConnectionError',
    summary: 'The peer refused the connection (nothing listening).',
  },
  SB_CONNECTION_RESET: {
    class: 'ConnectionError',
    summary: 'The peer reset the connection (RST) or the pipe broke.',
  },
  SB_CONNECTION_CLOSED: {
    class: 'ConnectionError',
    summary: 'The operation needs an open connection, but it was closed.',
  },
  SB_HOST_UNREACHABLE: {
    class: 'ConnectionError',
    summary: 'The address could not be resolved or reached.',
  },
  SB_NETWORK_ERROR: {
    class: 'ConnectionError',
    summary: 'Another operating-system network error; `cause` holds the original.',
  },
  SB_AUTH_FAILED: {
    class: 'ConnectionError',
    summary:
      'The server refused our credentials (the NATS bus: wrong or missing user/password, token or .creds file).',
  },
  SB_TLS_ERROR: {
    class: 'ConnectionError',
    summary:
      'The TLS handshake failed, the peer certificate was rejected, or the client renegotiated past the limit (3 per 10 min).',
  },
  SB_TOO_MANY_CONNECTIONS: {
    class: 'ConnectionError',
    summary:
      'The server is at maxConnections (or maxConnectionsPerIp); the connection was refused.',
  },
  SB_OUTPUT_QUEUE_FULL: {
    class: 'ConnectionError',
    summary:
      'More than maxQueuedOutput bytes are waiting for a slow reader (IRC: SendQ exceeded); that connection is cut at once.',
  },
  SB_MEMORY_BUDGET: {
    class: 'ConnectionError',
    summary:
      'The server held more than maxBufferedInputTotal bytes of input; this connection held the most and was cut.',
  },
  SB_OUTPUT_BUDGET: {
    class: 'ConnectionError',
    summary:
      'The server held more than maxBufferedOutputTotal bytes of output for its peers; this connection held the most and was cut.',
  },
  SB_ABORTED: {
    class: 'ConnectionError',
    summary:
      "The call was aborted through its AbortSignal (for a reason other than a timeout), or the channel's `writable` stream was aborted (the reason is `cause`).",
  },
  SB_WORKER_CRASHED: {
    class: 'ConnectionError',
    summary: 'The worker thread or process serving the connection exited.',
  },
  SB_WORKER_UNRESPONSIVE: {
    class: 'ConnectionError',
    summary:
      'A `processes` worker left its heartbeat ping unanswered for `DEFAULTS.workerHeartbeatMaxMissed` (3) intervals: it gets no new connections and is replaced after `workerUnresponsiveTimeout`.',
  },
  // Binary packing.
  SB_STRUCT_ERROR: {
    class: 'StructError',
    summary: 'pack/unpack rejected the format, a value or the buffer, as CPython struct would.',
  },
  // Caller misuse.
  SB_INVALID_ARGUMENT: {
    class: 'InvalidArgumentError',
    summary: 'An argument has the wrong type or an out-of-range value.',
  },
  SB_BAD_OPTION: {
    class: 'InvalidArgumentError',
    summary: 'An option is unknown, renamed, or outside its documented range.',
  },
  SB_BAD_FRAMING_SPEC: {
    class: 'InvalidArgumentError',
    summary:
      'A framing spec string (e.g. `length:u16be`) cannot be parsed; the message names the bad part (quoted as a JSON string, control and bidirectional characters escaped, cut after 80 characters).',
  },
  SB_BAD_ADDRESS: {
    class: 'InvalidArgumentError',
    summary:
      'An address string (HOST:PORT, [v6]:PORT, unix:/path, ...) cannot be parsed; quoted as for `SB_BAD_FRAMING_SPEC`.',
  },
  SB_PAYLOAD_TOO_LARGE: {
    class: 'InvalidArgumentError',
    summary: 'The encoder refused a payload the peer decoder would reject (size or content).',
  },
  SB_MISSING_DEPENDENCY: {
    class: 'InvalidArgumentError',
    summary:
      'An option needs an optional peer package that is not installed (`prom-client` for metrics, `@nats-io/transport-node` for a NATS bus); the message names it.',
  },
  SB_HANDLER_ERROR: {
    class: 'SwitchboardError',
    summary:
      'A server handler threw; the connection was closed and the server keeps serving (a throwing `onRequest` answers with an sbp ERROR and the connection stays).',
  },
  SB_HANDLER_TIMEOUT: {
    class: 'TimeoutError',
    summary:
      'An `onRequest` handler did not answer within `requestTimeout` (ms); the requester got an sbp ERROR, a late answer is dropped.',
  },
  SB_TOO_MANY_REQUESTS: {
    class: 'SwitchboardError',
    summary:
      'A peer had `maxPendingRequests` REQUESTs unanswered (or a `threads` pool held `DEFAULTS.threadsMaxRequestsPerWorker` unfinished ones per worker); the next one was answered with an sbp ERROR instead of running.',
  },
  SB_REQUEST_FAILED: {
    class: 'SwitchboardError',
    summary:
      '`request()`: the peer answered with an sbp ERROR (its handler threw, timed out or was busy); the message names its code.',
  },
  SB_INTERNAL: {
    class: 'SwitchboardError',
    summary:
      'CLI: an unexpected exception (a bug, or a handler module failing); the message carries its stack.',
  },
} as const satisfies Record<string, { class: ErrorClassName; summary: string }>;

/** A stable error code: `SB_` + upper snake case. */
export type ErrorCode = keyof typeof ERROR_CODES;

/** Extra data an error may carry. */
export interface ErrorDetails {
  /** The underlying error, when this one wraps another. */
  cause?: unknown;
  /** Byte offset from the start of the input of the first byte of the failing frame. */
  offset?: number;
}

/** Base class of every error switchboard throws. Match on {@link SwitchboardError.code}. */
export class SwitchboardError extends Error {
  /** The stable code, e.g. `SB_FRAME_TOO_LARGE`. */
  readonly code: ErrorCode;
  /** For decode errors: offset of the first byte of the frame that failed. */
  readonly offset: number | undefined;

  constructor(code: ErrorCode, message: string, details: ErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.code = code;
    this.offset = details.offset;
  }

  /** The class name (e.g. `FrameError`), so stack traces and `String(error)` say who is at fault. */
  override get name(): string {
    return this.constructor.name;
  }

  /**
   * What `JSON.stringify` writes. An Error's `message` is not enumerable, so a
   * logger's `JSON.stringify({ error })` kept only the code. The cause stays out:
   * it may be another library's error quoting the peer's bytes.
   */
  toJSON(): { name: string; code: ErrorCode; message: string; offset?: number } {
    const json = { name: this.name, code: this.code, message: this.message };
    return this.offset === undefined ? json : { ...json, offset: this.offset };
  }
}

/** The peer sent bytes that violate the framing. Sticky: the decoder rethrows it. */
export class FrameError extends SwitchboardError {}
/** The input ended inside a frame. */
export class UnexpectedEofError extends SwitchboardError {
  constructor(message: string, details: ErrorDetails = {}) {
    super('SB_UNEXPECTED_EOF', message, details);
  }
}
/** A deadline passed. */
export class TimeoutError extends SwitchboardError {}
/** The connection failed, was refused, reset or closed. */
export class ConnectionError extends SwitchboardError {}
/** CPython `struct.error` equivalent. */
export class StructError extends SwitchboardError {
  constructor(message: string, details: ErrorDetails = {}) {
    super('SB_STRUCT_ERROR', message, details);
  }
}
/** The caller passed a bad argument or option. */
export class InvalidArgumentError extends SwitchboardError {}

/** True when `value` is a SwitchboardError, optionally with the given code. */
export function isSwitchboardError(value: unknown, code?: ErrorCode): value is SwitchboardError {
  return value instanceof SwitchboardError && (code === undefined || value.code === code);
}

const SYSTEM_ERROR_CODES: Record<string, ErrorCode> = {
  ECONNREFUSED: 'SB_CONNECTION_REFUSED',
  ECONNRESET: 'SB_CONNECTION_RESET',
  EPIPE: 'SB_CONNECTION_RESET',
  ECONNABORTED: 'SB_CONNECTION_RESET',
  ENOTFOUND: 'SB_HOST_UNREACHABLE',
  EHOSTUNREACH: 'SB_HOST_UNREACHABLE',
  ENETUNREACH: 'SB_HOST_UNREACHABLE',
  EAI_AGAIN: 'SB_HOST_UNREACHABLE',
  ENOENT: 'SB_CONNECTION_REFUSED',
  ETIMEDOUT: 'SB_CONNECT_TIMEOUT',
  ERR_SOCKET_CLOSED: 'SB_CONNECTION_CLOSED',
  ERR_STREAM_DESTROYED: 'SB_CONNECTION_CLOSED',
  ERR_STREAM_WRITE_AFTER_END: 'SB_CONNECTION_CLOSED',
};

/** Node's codes for a server certificate that no CA the client trusts has signed. */
const UNTRUSTED_CERTIFICATE = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
]);

/**
 * The message for a node error whose own message quotes what the peer sent, or
 * undefined. Node's ERR_TLS_CERT_ALTNAME_INVALID lists the names in the server's
 * certificate ("... is not in the cert's altnames: DNS:evil.example"), text the server
 * chose, which may hold terminal escapes the CLI would print; switchboard's messages
 * never carry peer bytes, so this names only the host the caller asked for (node's
 * `host`). The original stays the `cause` (never serialized, see toJSON).
 */
function peerFreeMessage(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) {
    return undefined;
  }
  const { code, host } = error as { code?: unknown; host?: unknown };
  if (code !== 'ERR_TLS_CERT_ALTNAME_INVALID') {
    return undefined;
  }
  const name = typeof host === 'string' ? host : 'the host connected to';
  return `the server's certificate is not valid for ${name} (connect by a name the certificate lists, or set tls.servername; CLI: --tls-servername)`;
}

/**
 * What to do about a failed connect or listen (or an untrusted TLS certificate), said after node's message (`connect ECONNREFUSED
 * 127.0.0.1:7070`), which names the errno but not its meaning: the one error every
 * newcomer meets first, by starting the client before the server or typing the port
 * wrong. The address is the caller's own target (node's `address` and `port`), never
 * anything a peer sent.
 */
function nextStep(error: unknown): string {
  if (typeof error !== 'object' || error === null) {
    return '';
  }
  const { code, syscall, address, port } = error as {
    code?: unknown;
    syscall?: unknown;
    address?: unknown;
    port?: unknown;
  };
  if (typeof code === 'string' && UNTRUSTED_CERTIFICATE.has(code)) {
    return " (no CA this client trusts signed the server's certificate: pass that CA as tls.ca; CLI: --tls-ca)";
  }
  if (syscall === 'listen' && code === 'EADDRINUSE') {
    return ' (another process is listening there: pick another port, or port 0 for a free one)';
  }
  if (syscall === 'listen' && code === 'EACCES') {
    // The HOWTO binds port 80; an unprivileged process cannot.
    return ' (ports below 1024 need privileges: use a high port, or port 0 for a free one)';
  }
  if (syscall !== 'connect' || typeof address !== 'string') {
    return '';
  }
  if (code === 'ECONNREFUSED') {
    const where = typeof port === 'number' ? `${address}:${port}` : address;
    return ` (nothing is listening at ${where}: start the server first, or check the address)`;
  }
  if (code === 'ENOENT') {
    return ` (no socket file at ${address}: start the server first, or check the path)`;
  }
  return '';
}

/**
 * Wraps an operating-system or Node error (ECONNREFUSED, ECONNRESET, TLS errors, ...)
 * in a {@link ConnectionError} with a stable code; SwitchboardErrors pass through.
 */
export function toSwitchboardError(error: unknown): SwitchboardError {
  if (error instanceof SwitchboardError) {
    return error;
  }
  const systemCode =
    typeof error === 'object' && error !== null && 'code' in error ? String(error.code) : '';
  let code: ErrorCode = SYSTEM_ERROR_CODES[systemCode] ?? 'SB_NETWORK_ERROR';
  if (
    code === 'SB_NETWORK_ERROR' &&
    /^(ERR_SSL|ERR_TLS|CERT_|UNABLE_TO|DEPTH_ZERO|SELF_SIGNED)/.test(systemCode)
  ) {
    code = 'SB_TLS_ERROR';
  }
  const message =
    peerFreeMessage(error) ??
    (error instanceof Error ? error.message : String(error)) + nextStep(error);
  if (code === 'SB_CONNECT_TIMEOUT') {
    return new TimeoutError(code, message, { cause: error });
  }
  return new ConnectionError(code, message, { cause: error });
}
