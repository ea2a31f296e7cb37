/**
 * Message faults: validation of {@link MessageFault}s (the engine that applies them to a
 * decoded direction lives with the pipe that forwards it).
 */
import { InvalidArgumentError } from '../errors.js';
import type { MessageFault } from './fault-proxy.js';

const ACTIONS = new Set(['drop', 'delay', 'duplicate', 'corrupt', 'truncate']);

function invalid(message: string): InvalidArgumentError {
  return new InvalidArgumentError('SB_INVALID_ARGUMENT', `FaultProxy: ${message}`);
}

/** Throws InvalidArgumentError when `fault` is not a valid message fault. */
export function validateMessageFault(fault: MessageFault): void {
  if (!ACTIONS.has(fault.action)) {
    throw invalid('a message fault needs "action": drop, delay, duplicate, corrupt or truncate');
  }
  if (fault.nth !== undefined && (!Number.isSafeInteger(fault.nth) || fault.nth < 0)) {
    throw invalid('message fault "nth" must be an integer >= 0');
  }
  if (
    fault.probability !== undefined &&
    (typeof fault.probability !== 'number' || !(fault.probability >= 0 && fault.probability <= 1))
  ) {
    throw invalid('message fault "probability" must be a number in [0, 1]');
  }
  if (
    fault.delayMs !== undefined &&
    (typeof fault.delayMs !== 'number' || !Number.isFinite(fault.delayMs) || fault.delayMs < 0)
  ) {
    throw invalid('message fault "delayMs" must be a number of ms >= 0');
  }
  if (
    fault.matchHexPrefix !== undefined &&
    (typeof fault.matchHexPrefix !== 'string' || !/^([0-9a-fA-F]{2})*$/.test(fault.matchHexPrefix))
  ) {
    throw invalid('message fault "matchHexPrefix" must be hex bytes');
  }
  if (fault.matchText !== undefined) {
    if (typeof fault.matchText !== 'string') {
      throw invalid('message fault "matchText" must be a regular expression string');
    }
    try {
      new RegExp(fault.matchText, 'u');
    } catch {
      throw invalid('message fault "matchText" is not a valid regular expression');
    }
  }
}
