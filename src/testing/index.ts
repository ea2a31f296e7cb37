/**
 * Public API of "switchboard/testing": fault-injection tools for users' own tests.
 */
export {
  type AddFaultOptions,
  type Fault,
  type FaultDirection,
  type FaultDirectionSpec,
  FaultProxy,
  type FaultProxyEvent,
  type FaultProxyOptions,
  type FaultProxyStats,
  type FaultProxyTcpTarget,
} from './fault-proxy.js';
