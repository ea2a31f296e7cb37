// Curated public API of src/net.
export {
  type Address,
  formatAddress,
  parseAddress,
  type TcpAddress,
  type UnixAddress,
} from './address.js';
export {
  Channel,
  type ChannelHeartbeatOptions,
  type ChannelOptions,
  type ChannelStats,
  type OpenChannelOptions,
  openChannel,
  type RequestHandler,
} from './channel.js';
export type { CallOptions, Clock } from './clock.js';
export { type ConnectOptions, connect, startConnect } from './connect.js';
export { Heartbeat, type HeartbeatHost, type HeartbeatOptions } from './heartbeat.js';
export { Listener, type ListenOptions, listen } from './listener.js';
export { decodeTransform, encodeTransform, type FramingTransformOptions } from './node-streams.js';
export {
  type Selectable,
  type SelectOptions,
  type SelectResult,
  select,
  type WriteSelectable,
} from './select.js';
export {
  type CloseOptions,
  type RecvUntilOptions,
  Socket,
  type SocketOptions,
  type SocketTransport,
  type SocketTuningOptions,
} from './socket.js';
export {
  buildTlsClientOptions,
  buildTlsServerOptions,
  type PemInput,
  type TlsClientOptions,
  type TlsServerOptions,
  type TlsVersion,
} from './tls.js';
