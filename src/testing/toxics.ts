/**
 * The toxic registry: Toxiproxy's toxic types (names, attributes, units and defaults as
 * Toxiproxy's `toxics/*.go` define them) and switchboard's extra ones, each mapped onto
 * the {@link Fault} that {@link FaultProxy} injects.
 *
 * A toxic is stored as Toxiproxy shows it (`{name, type, stream, toxicity, attributes}`,
 * every attribute present with its default), and turned into a fault whenever it is
 * created or updated. A toxic whose attributes make it a no-op in Toxiproxy (`bandwidth`
 * with `rate` 0, `slicer` with `average_size` 0) maps to no fault at all.
 *
 * | type             | attributes (unit)                              | fault                          |
 * |------------------|------------------------------------------------|--------------------------------|
 * | latency          | latency, jitter (ms)                           | latency                        |
 * | bandwidth        | rate (KB/s, 1 KB = 1000 bytes)                 | bandwidth                      |
 * | slow_close       | delay (ms)                                     | slowClose                      |
 * | timeout          | timeout (ms, 0 = until removed)                | timeout                        |
 * | reset_peer       | timeout (ms)                                   | resetAfter 0 bytes, delay      |
 * | slicer           | average_size, size_variation (bytes), delay (µs) | slice                        |
 * | limit_data       | bytes                                          | closeAfter                     |
 * | half_open *      | none                                           | halfOpen                       |
 * | blackhole *      | none                                           | blackhole                      |
 * | close_after *    | bytes                                          | closeAfter                     |
 * | reset_after *    | bytes                                          | resetAfter                     |
 * | message_* *      | see message-faults.ts                          | message faults (framed proxy)  |
 *
 * (* = switchboard only.) Attribute errors are {@link ToxicInputError}s, which the API
 * answers with 400 as Toxiproxy answers a bad request body.
 */
import type { Fault, FaultDirection } from './fault-types.js';
import { compileMatchText } from './message-faults.js';

/** A toxic as the Toxiproxy API shows it. */
export interface ToxicJson {
  name: string;
  type: string;
  stream: FaultDirection;
  toxicity: number;
  attributes: Record<string, unknown>;
}

/** A toxic request the API must refuse with 400 (the message never echoes the body). */
export class ToxicInputError extends Error {}

type AttributeKind = 'count' | 'match';

interface ToxicType {
  /** Attribute names, kinds and defaults (every one is shown in the toxic's JSON). */
  attributes: Record<string, { kind: AttributeKind; default: unknown }>;
  /** Needs a proxy with a framing. */
  message?: boolean;
  toFault(attributes: Record<string, unknown>): Fault | undefined;
}

const count = (value: number) => ({ kind: 'count' as const, default: value });
const num = (attributes: Record<string, unknown>, name: string): number =>
  attributes[name] as number;

/** The message toxics' common attributes (nth or probability, match). */
const MESSAGE_ATTRIBUTES = {
  nth: count(0),
  match: { kind: 'match' as const, default: null },
};

function messageFault(
  action: 'drop' | 'delay' | 'duplicate' | 'corrupt' | 'truncate',
  attributes: Record<string, unknown>,
): Fault {
  const match = attributes.match as { hex_prefix?: string; text?: string } | null;
  const probability = attributes.probability as number | undefined;
  return {
    type: 'message',
    action,
    nth: num(attributes, 'nth'),
    ...(probability !== undefined && probability > 0 ? { probability } : {}),
    ...(action === 'delay' ? { delayMs: num(attributes, 'delay') } : {}),
    ...(match?.hex_prefix !== undefined ? { matchHexPrefix: match.hex_prefix } : {}),
    ...(match?.text !== undefined ? { matchText: match.text } : {}),
  };
}

const TOXIC_TYPES: Record<string, ToxicType> = {
  latency: {
    attributes: { latency: count(0), jitter: count(0) },
    toFault: (a) => ({ type: 'latency', ms: num(a, 'latency'), jitterMs: num(a, 'jitter') }),
  },
  bandwidth: {
    attributes: { rate: count(0) },
    toFault: (a) =>
      num(a, 'rate') > 0 ? { type: 'bandwidth', bytesPerSecond: num(a, 'rate') * 1000 } : undefined,
  },
  slow_close: {
    attributes: { delay: count(0) },
    toFault: (a) => ({ type: 'slowClose', ms: num(a, 'delay') }),
  },
  timeout: {
    attributes: { timeout: count(0) },
    toFault: (a) => ({ type: 'timeout', ms: num(a, 'timeout') }),
  },
  reset_peer: {
    attributes: { timeout: count(0) },
    toFault: (a) => ({ type: 'resetAfter', bytes: 0, delayMs: num(a, 'timeout') }),
  },
  slicer: {
    attributes: { average_size: count(0), size_variation: count(0), delay: count(0) },
    toFault: (a) =>
      num(a, 'average_size') > 0
        ? {
            type: 'slice',
            maxBytes: num(a, 'average_size'),
            variationBytes: Math.min(num(a, 'size_variation'), num(a, 'average_size') - 1),
            delayMs: num(a, 'delay') / 1000,
          }
        : undefined,
  },
  limit_data: {
    attributes: { bytes: count(0) },
    toFault: (a) => ({ type: 'closeAfter', bytes: num(a, 'bytes') }),
  },
  half_open: { attributes: {}, toFault: () => ({ type: 'halfOpen' }) },
  blackhole: { attributes: {}, toFault: () => ({ type: 'blackhole' }) },
  close_after: {
    attributes: { bytes: count(0) },
    toFault: (a) => ({ type: 'closeAfter', bytes: num(a, 'bytes') }),
  },
  reset_after: {
    attributes: { bytes: count(0) },
    toFault: (a) => ({ type: 'resetAfter', bytes: num(a, 'bytes') }),
  },
  message_drop: {
    attributes: { ...MESSAGE_ATTRIBUTES, probability: { kind: 'count', default: 0 } },
    message: true,
    toFault: (a) => messageFault('drop', a),
  },
  message_delay: {
    attributes: { ...MESSAGE_ATTRIBUTES, delay: count(0) },
    message: true,
    toFault: (a) => messageFault('delay', a),
  },
  message_duplicate: {
    attributes: MESSAGE_ATTRIBUTES,
    message: true,
    toFault: (a) => messageFault('duplicate', a),
  },
  message_corrupt: {
    attributes: MESSAGE_ATTRIBUTES,
    message: true,
    toFault: (a) => messageFault('corrupt', a),
  },
  message_truncate: {
    attributes: MESSAGE_ATTRIBUTES,
    message: true,
    toFault: (a) => messageFault('truncate', a),
  },
};

/** Whether `type` names a toxic (Toxiproxy's or switchboard's). */
export function isToxicType(type: unknown): type is string {
  return typeof type === 'string' && Object.hasOwn(TOXIC_TYPES, type);
}

/** Whether toxic `type` needs a proxy with a framing. */
export function isMessageToxic(type: string): boolean {
  return TOXIC_TYPES[type]?.message === true;
}

/** Every toxic type name, for docs and errors. */
export function toxicTypes(): string[] {
  return Object.keys(TOXIC_TYPES);
}

function checkMatch(value: unknown): { hex_prefix?: string; text?: string } | null {
  if (value === null || value === undefined) {
    return null;
  }
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new ToxicInputError('bad request body: "match" must be an object');
  }
  const { hex_prefix: hexPrefix, text } = value as Record<string, unknown>;
  const result: { hex_prefix?: string; text?: string } = {};
  if (hexPrefix !== undefined) {
    if (typeof hexPrefix !== 'string' || !/^([0-9a-fA-F]{2})*$/.test(hexPrefix)) {
      throw new ToxicInputError('bad request body: "match.hex_prefix" must be hex bytes');
    }
    result.hex_prefix = hexPrefix.toLowerCase();
  }
  if (text !== undefined) {
    if (typeof text !== 'string') {
      throw new ToxicInputError('bad request body: "match.text" must be a string');
    }
    const compiled = compileMatchText(text);
    if (typeof compiled === 'string') {
      throw new ToxicInputError(`bad request body: "match.text" ${compiled}`);
    }
    result.text = text;
  }
  return result;
}

/**
 * Merges `input` over `base` (the defaults, or the toxic's current attributes for an
 * update, as Toxiproxy decodes an update over a copy) and checks every value.
 */
export function resolveAttributes(
  type: string,
  base: Record<string, unknown> | undefined,
  input: unknown,
): Record<string, unknown> {
  const spec = TOXIC_TYPES[type];
  if (spec === undefined) {
    throw new ToxicInputError('invalid toxic type');
  }
  if (
    input !== undefined &&
    input !== null &&
    (typeof input !== 'object' || Array.isArray(input))
  ) {
    throw new ToxicInputError('bad request body: "attributes" must be an object');
  }
  const given = (input ?? {}) as Record<string, unknown>;
  const result: Record<string, unknown> = {};
  for (const [name, attribute] of Object.entries(spec.attributes)) {
    const value = Object.hasOwn(given, name) ? given[name] : (base?.[name] ?? attribute.default);
    if (attribute.kind === 'match') {
      result[name] = checkMatch(value);
      continue;
    }
    if (name === 'probability') {
      if (typeof value !== 'number' || !(value >= 0 && value <= 1)) {
        throw new ToxicInputError('bad request body: "probability" must be a number in [0, 1]');
      }
    } else if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
      throw new ToxicInputError(`bad request body: "${name}" must be an integer >= 0`);
    }
    result[name] = value;
  }
  return result;
}

/** The fault a toxic injects, or undefined when its attributes make it a no-op. */
export function toxicFault(toxic: ToxicJson): Fault | undefined {
  const spec = TOXIC_TYPES[toxic.type];
  if (spec === undefined) {
    throw new ToxicInputError('invalid toxic type');
  }
  return spec.toFault(toxic.attributes);
}
