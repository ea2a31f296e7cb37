/**
 * Public API of "switchboard/testing": fault-injection tools for users' own tests.
 *
 * @module switchboard/testing
 */
export { FaultProxy } from './fault-proxy.js';
export type {
  AddFaultOptions,
  Fault,
  FaultDirection,
  FaultDirectionSpec,
  FaultProxyEvent,
  FaultProxyMessage,
  FaultProxyOptions,
  FaultProxyStats,
  FaultProxyTcpTarget,
} from './fault-types.js';
export type { MessageAction, MessageFault } from './message-faults.js';
export type { ToxicJson } from './toxics.js';
export {
  TOXIPROXY_API_VERSION,
  type ToxiproxyProxy,
  ToxiproxyServer,
  type ToxiproxyServerOptions,
} from './toxiproxy-api.js';
export type { ProxyJson } from './toxiproxy-state.js';
