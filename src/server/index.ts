// Curated public API of src/server.

export {
  type BusStatusMessage,
  type ConnectionCloseMessage,
  type ConnectionOpenMessage,
  DiagnosticChannel,
  diagnosticChannels,
  type FrameErrorMessage,
  type ServerCloseMessage,
  type ServerListeningMessage,
} from '../diagnostics.js';
export {
  BUS_HEADERS,
  type BusMessage,
  type BusState,
  type BusStatus,
  type ChatBus,
  connectNatsBus,
  DEFAULT_CHAT_ROOM,
  DEFAULT_SUBJECT_PREFIX,
  type NatsBusOptions,
  type NatsChatBus,
} from './bus.js';
export type { ConnectionInfo, ProxyPreamble } from './connection.js';
export type { FrameContext, FrameHandler, FrameHandlerResult } from './dispatch/frame-handler.js';
export type { ConnectionHandler, DispatchModel } from './dispatch/loop.js';
export type { CheckedHandlerSpec, HandlerModuleExtension, HandlerSpec } from './handler-spec.js';
export type { BuiltinHandlerName } from './handlers.js';
export {
  LATENCY_BUCKETS_SECONDS,
  type LatencyKind,
  type MetricsSnapshot,
  type RefusalReason,
} from './metrics.js';
export {
  crc32c,
  encodeProxyHeader,
  PROXY_TLV,
  PROXY_V1_MAX_LENGTH,
  PROXY_V2_MAX_LENGTH,
  PROXY_V2_SIGNATURE,
  type ProxyEndpoint,
  type ProxyFamily,
  type ProxyHeader,
  ProxyHeaderDecoder,
  type ProxyHeaderInit,
  type ProxyTlv,
  type ProxyTransport,
  parseProxyHeader,
} from './proxy-protocol.js';
export {
  createServer,
  type Server,
  type ServerCloseOptions,
  type ServerOptions,
  type ServerTlsOptions,
} from './server.js';
