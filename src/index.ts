/**
 * switchboard: message-oriented socket programming for Node.js.
 *
 * This file is the public API, named export by export: a name a user can import
 * appears here and nowhere else, so adding one is a visible change (and
 * test/exports.test.ts pins the runtime list). Modules export more than this
 * for each other and for the CLI; those names are internal. Exports are
 * sorted by module path, so each area (binary, codec, errors, net, server)
 * reads as one block.
 *
 * @module switchboard
 */

export {
  type BigUintBits,
  type Endianness,
  HOST_ENDIANNESS,
  htonl,
  htons,
  ntohl,
  ntohs,
  readBigUint,
  readUint,
  type UintBits,
  writeBigUint,
  writeUint,
} from './binary/byteorder.js';
export {
  calcsize,
  iterUnpack,
  pack,
  packInto,
  Struct,
  type StructValue,
  unpack,
  unpackFrom,
} from './binary/struct.js';
export type {
  MaxParsedFormatLength,
  StructByteOrder,
  Unpacked,
} from './binary/struct-types.js';
export {
  decodeBigVarint,
  decodeVarint,
  encodeVarint,
  encodeVarintInto,
  MAX_VARINT_BYTES,
  type VarintReading,
  varintLength,
} from './binary/varint.js';
export { type ContentLengthFramingOptions, contentLengthFraming } from './codec/content-length.js';
export { type DelimFramingOptions, delimFraming } from './codec/delim.js';
export { digitsFraming } from './codec/digits.js';
export { eofFraming } from './codec/eof.js';
export { fixedFraming } from './codec/fixed.js';
export type {
  CheckedFramingSpec,
  FramingSpec,
  LengthFieldOrder,
  LengthFieldWidthName,
  LengthFramingSpec,
} from './codec/framing-spec.js';
export {
  type LengthFieldWidth,
  type LengthFramingOptions,
  lengthFraming,
} from './codec/length.js';
export { type LineFramingOptions, lineFraming } from './codec/line.js';
export { mllpFraming } from './codec/mllp.js';
export { netstringFraming } from './codec/netstring.js';
// The sbp envelope codec (docs/PROTOCOL.md); its decoder is reached through
// sbpFraming() or parseFraming('sbp'), like every other framing's.
export {
  type Envelope,
  encodeEnvelope,
  parseEnvelope,
  SbpType,
  type SbpTypeCode,
  sbpFraming,
} from './codec/sbp.js';
export { parseFraming } from './codec/spec.js';
export {
  decode,
  decodeStream,
  encode,
  encodeStream,
  type FramePayload,
  type FramingArgument,
  type FramingStreamOptions,
} from './codec/streams.js';
export { type TaggedBody, type TaggedTypes, taggedFraming } from './codec/tagged.js';
export type {
  Decoder,
  Encoder,
  Framing,
  FramingOptions,
  NeedData,
} from './codec/types.js';
export { NEED_DATA } from './codec/types.js';
export { varintFraming } from './codec/varint.js';
export {
  type BusStatusMessage,
  type ConnectionCloseMessage,
  type ConnectionOpenMessage,
  type DiagnosticChannel,
  diagnosticChannels,
  type FrameErrorMessage,
  type ServerCloseMessage,
  type ServerListeningMessage,
} from './diagnostics.js';
export {
  ConnectionError,
  ERROR_CODES,
  type ErrorClassName,
  type ErrorCode,
  type ErrorDetails,
  FrameError,
  InvalidArgumentError,
  isSwitchboardError,
  StructError,
  SwitchboardError,
  TimeoutError,
  UnexpectedEofError,
} from './errors.js';
export {
  type Address,
  formatAddress,
  parseAddress,
  type TcpAddress,
  type UnixAddress,
} from './net/address.js';
export {
  Channel,
  type ChannelHeartbeatOptions,
  type ChannelOptions,
  type ChannelStats,
  type OpenChannelOptions,
  openChannel,
  type RequestHandler,
} from './net/channel.js';
export type { CallOptions, Clock } from './net/clock.js';
export { type ConnectOptions, connect, startConnect } from './net/connect.js';
export { Heartbeat, type HeartbeatHost, type HeartbeatOptions } from './net/heartbeat.js';
export { Listener, type ListenOptions, listen } from './net/listener.js';
export {
  decodeTransform,
  encodeTransform,
  type FramingTransformOptions,
} from './net/node-streams.js';
export {
  type Selectable,
  type SelectOptions,
  type SelectResult,
  select,
  type WriteSelectable,
} from './net/select.js';
export { Socket } from './net/socket.js';
export type {
  CloseOptions,
  RecvUntilOptions,
  SocketOptions,
  SocketTransport,
  SocketTuningOptions,
} from './net/socket-options.js';
export type { PemInput, TlsClientOptions, TlsServerOptions, TlsVersion } from './net/tls.js';
export { DEFAULTS } from './options.js';
export {
  BUS_HEADERS,
  type BusMessage,
  type BusState,
  type BusStatus,
  type ChatBus,
  DEFAULT_CHAT_ROOM,
  DEFAULT_SUBJECT_PREFIX,
  type NatsChatBus,
} from './server/bus.js';
export type { ConnectionHandler, ConnectionInfo } from './server/connection-handler.js';
export type { DispatchModel } from './server/dispatch/dispatcher.js';
export type {
  FrameContext,
  FrameHandler,
  FrameHandlerResult,
} from './server/dispatch/protocol.js';
export type {
  BuiltinHandlerName,
  CheckedHandlerSpec,
  HandlerModuleExtension,
  HandlerSpec,
} from './server/handler-spec.js';

export type { LatencyKind, MetricsSnapshot, RefusalReason } from './server/metrics.js';
export { connectNatsBus, type NatsBusOptions, type NatsBusTlsOptions } from './server/nats-bus.js';
// The PROXY protocol codec, for users' own proxies and tests (docs/SERVER.md).
export {
  encodeProxyHeader,
  PROXY_TLV,
  type ProxyEndpoint,
  type ProxyFamily,
  type ProxyHeader,
  ProxyHeaderDecoder,
  type ProxyHeaderInit,
  type ProxyTlv,
  type ProxyTransport,
  parseProxyHeader,
} from './server/proxy-protocol.js';
export type { ProxyPreamble } from './server/raw-socket.js';
export type {
  RequestContext,
  RequestReply,
  ServerRequestHandler,
} from './server/request-handler.js';
export {
  createServer,
  type Server,
  type ServerCloseOptions,
  type ServerOptions,
  type ServerTlsOptions,
} from './server/server.js';
