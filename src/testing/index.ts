/**
 * Public API of "switchboard/testing": fault-injection tools for users' own tests.
 *
 * @module switchboard/testing
 */
export {
  type AddFaultOptions,
  type Fault,
  type FaultDirection,
  type FaultDirectionSpec,
  FaultProxy,
  type FaultProxyEvent,
  type FaultProxyMessage,
  type FaultProxyOptions,
  type FaultProxyStats,
  type FaultProxyTcpTarget,
  type MessageAction,
  type MessageFault,
} from './fault-proxy.js';
export type { ToxicJson } from './toxics.js';
export {
  TOXIPROXY_API_VERSION,
  type ToxiproxyProxy,
  ToxiproxyServer,
  type ToxiproxyServerOptions,
} from './toxiproxy-api.js';
export type { ProxyJson } from './toxiproxy-state.js';
