/**
 * The proxy collection behind the Toxiproxy-compatible API: named proxies, each a
 * {@link FaultProxy} while enabled, and their toxics.
 *
 * Theory of operation
 * -------------------
 * A {@link ManagedProxy} holds what the API shows (name, listen, upstream, enabled,
 * framing, toxics) and, while enabled, one running FaultProxy. Toxics belong to the
 * managed proxy, not to the FaultProxy: disabling a proxy closes its FaultProxy (and
 * every connection through it, as Toxiproxy does); enabling it starts a new one on the
 * same listen address and adds every toxic again. Each toxic maps to at most one fault
 * (toxics.ts); the fault id is kept so that an update replaces the fault in place
 * (byte budgets and toxicity rolls survive) and a delete removes it.
 *
 * Operations run one at a time per collection (a promise chain in the API), so a
 * create racing a delete of the same name cannot interleave.
 *
 * Errors are {@link ApiError}s carrying Toxiproxy's message and status code.
 */
import { ConnectionError, SwitchboardError } from '../errors.js';
import { FaultProxy } from './fault-proxy.js';
import type { FaultProxyEvent } from './fault-types.js';
import { validateProxyAddresses } from './proxy-address.js';
import {
  isMessageToxic,
  isToxicType,
  resolveAttributes,
  ToxicInputError,
  type ToxicJson,
  toxicFault,
} from './toxics.js';

/** An API error: Toxiproxy's `{"error": message, "status": status}`. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export const ERR_BAD_REQUEST_BODY = 'bad request body';
export const ERR_PROXY_NOT_FOUND = (): ApiError => new ApiError(404, 'proxy not found');
const ERR_PROXY_EXISTS = (): ApiError => new ApiError(409, 'proxy already exists');
const ERR_TOXIC_EXISTS = (): ApiError => new ApiError(409, 'toxic already exists');
const ERR_TOXIC_NOT_FOUND = (): ApiError => new ApiError(404, 'toxic not found');
const ERR_INVALID_TOXIC_TYPE = (): ApiError => new ApiError(400, 'invalid toxic type');
/**
 * Toxiproxy has no cap, so no error of its own to follow. 507 (Insufficient Storage: the
 * server cannot store what the request asks for) keeps it apart from 409, which clients
 * read as "already exists" (toxiproxy-ruby raises ProxyExists on it), and from 400, which
 * says the request itself was wrong.
 */
const ERR_TOO_MANY_PROXIES = (): ApiError => new ApiError(507, 'too many proxies');
const ERR_TOO_MANY_TOXICS = (): ApiError => new ApiError(507, 'too many toxics');
/**
 * Longest proxy or toxic name, in UTF-16 units. Toxiproxy has no limit; without one a
 * name is a request body's worth (1 MiB) of memory held per proxy and per toxic.
 */
export const MAX_NAME_LENGTH = 256;
const ERR_INVALID_STREAM = (): ApiError =>
  new ApiError(400, 'stream was invalid, can be either upstream or downstream');

/** A proxy as the API shows it. */
export interface ProxyJson {
  name: string;
  listen: string;
  upstream: string;
  enabled: boolean;
  framing?: string;
  toxics: ToxicJson[];
}

/** The collection's caps (ToxiproxyServer options). */
export interface CollectionLimits {
  maxProxies: number;
  maxToxicsPerProxy: number;
  /** Passed to each FaultProxy. */
  maxConnectionsPerProxy: number;
  maxCondemnedConnections: number;
}

/** What a create or populate request asks for. */
export interface ProxyInput {
  name: string;
  listen: string;
  upstream: string;
  enabled: boolean;
  framing: string | undefined;
}

interface ToxicEntry {
  json: ToxicJson;
  faultId: number | undefined;
}

function badBody(reason: string): ApiError {
  return new ApiError(400, `${ERR_BAD_REQUEST_BODY}: ${reason}`);
}

function asObject(body: unknown): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw badBody('expected a JSON object');
  }
  return body as Record<string, unknown>;
}

interface FieldTypes {
  string: string;
  boolean: boolean;
}

/** `body[name]` when it is of `type`; undefined when absent or null; else a bad-body error. */
function optionalField<T extends keyof FieldTypes>(
  body: Record<string, unknown>,
  name: string,
  type: T,
): FieldTypes[T] | undefined {
  const value = body[name];
  if (value === undefined || value === null) {
    return undefined;
  }
  if (typeof value !== type) {
    throw badBody(`"${name}" must be a ${type}`);
  }
  return value as FieldTypes[T];
}

/** Reads a proxy create body (Toxiproxy's checks, in its order). */
export function readProxyInput(body: unknown): ProxyInput {
  const object = asObject(body);
  const name = optionalField(object, 'name', 'string') ?? '';
  const upstream = optionalField(object, 'upstream', 'string') ?? '';
  const listen = optionalField(object, 'listen', 'string') ?? '';
  const enabled = optionalField(object, 'enabled', 'boolean') ?? true;
  const framing = optionalField(object, 'framing', 'string');
  if (name.length === 0) {
    throw new ApiError(400, 'missing required field: name');
  }
  checkNameLength(name);
  if (upstream.length === 0) {
    throw new ApiError(400, 'missing required field: upstream');
  }
  return { name, listen: listen.length === 0 ? '127.0.0.1:0' : listen, upstream, enabled, framing };
}

function checkNameLength(name: string): void {
  if (name.length > MAX_NAME_LENGTH) {
    throw badBody(`"name" is longer than ${MAX_NAME_LENGTH} characters`);
  }
}

/**
 * The message an API client gets for one of our errors. A framing-spec error names the bad
 * part of the spec (useful to a local caller), but here the spec came from an HTTP client,
 * and an error body never echoes a client's bytes: that code gets a fixed message.
 */
function clientSafeMessage(error: SwitchboardError): string {
  if (error.code === 'SB_BAD_FRAMING_SPEC') {
    return `${ERR_BAD_REQUEST_BODY}: "framing" is not a framing spec (e.g. line, length:u32be, varint)`;
  }
  return error.message;
}

/** Maps a FaultProxy start failure onto Toxiproxy's answer (400 for ours, 500 for listen). */
function startError(error: unknown): ApiError {
  if (error instanceof SwitchboardError && !(error instanceof ConnectionError)) {
    return new ApiError(400, clientSafeMessage(error));
  }
  const listenError = error instanceof ConnectionError ? error.cause : error;
  const code = (listenError as NodeJS.ErrnoException | undefined)?.code;
  return new ApiError(500, `listen failed: ${code ?? 'error'}`);
}

/** One named proxy of the collection. */
export class ManagedProxy {
  readonly name: string;
  listen: string;
  upstream: string;
  framing: string | undefined;
  enabled = false;
  private proxy: FaultProxy | undefined;
  /** Toxics in creation order; shown upstream ones first, as Toxiproxy lists its chains. */
  private readonly toxics = new Map<string, ToxicEntry>();

  constructor(
    input: ProxyInput,
    private readonly seed: number,
    private readonly onEvent: ((name: string, event: FaultProxyEvent) => void) | undefined,
    private readonly limits: CollectionLimits,
  ) {
    this.name = input.name;
    this.listen = input.listen;
    this.upstream = input.upstream;
    this.framing = input.framing;
    try {
      validateProxyAddresses(this.listen, this.upstream, this.framing);
    } catch (error) {
      throw startError(error);
    }
  }

  /** The running FaultProxy (while enabled). */
  get faultProxy(): FaultProxy | undefined {
    return this.proxy;
  }

  async start(): Promise<void> {
    if (this.proxy !== undefined) {
      return;
    }
    let proxy: FaultProxy;
    try {
      proxy = await FaultProxy.start({
        listen: this.listen,
        target: this.upstream,
        seed: this.seed,
        maxConnections: this.limits.maxConnectionsPerProxy,
        maxCondemnedConnections: this.limits.maxCondemnedConnections,
        ...(this.framing !== undefined ? { framing: this.framing } : {}),
        ...(this.onEvent !== undefined
          ? { onEvent: (event: FaultProxyEvent) => this.onEvent?.(this.name, event) }
          : {}),
      });
    } catch (error) {
      throw startError(error);
    }
    this.proxy = proxy;
    this.enabled = true;
    // Show the bound address (port 0 resolved), as Toxiproxy does after it listens.
    this.listen = proxy.address;
    for (const entry of this.toxics.values()) {
      entry.faultId = this.addFault(entry.json);
    }
  }

  async stop(): Promise<void> {
    const proxy = this.proxy;
    this.proxy = undefined;
    this.enabled = false;
    for (const entry of this.toxics.values()) {
      entry.faultId = undefined;
    }
    await proxy?.close();
  }

  /** Applies an update body: listen/upstream changes restart, `enabled` toggles. */
  async update(body: unknown): Promise<void> {
    const object = asObject(body);
    const listen = optionalField(object, 'listen', 'string') ?? this.listen;
    const upstream = optionalField(object, 'upstream', 'string') ?? this.upstream;
    const enabled = optionalField(object, 'enabled', 'boolean') ?? this.enabled;
    if (listen !== this.listen || upstream !== this.upstream) {
      try {
        validateProxyAddresses(listen, upstream, this.framing);
      } catch (error) {
        throw startError(error);
      }
      await this.stop();
      this.listen = listen;
      this.upstream = upstream;
    }
    if (enabled) {
      await this.start();
    } else {
      await this.stop();
    }
  }

  private addFault(json: ToxicJson): number | undefined {
    const fault = toxicFault(json);
    if (fault === undefined || this.proxy === undefined) {
      return undefined;
    }
    return this.proxy.addFault(json.stream, fault, { toxicity: json.toxicity });
  }

  toxicList(): ToxicJson[] {
    const all = [...this.toxics.values()].map((entry) => entry.json);
    return [
      ...all.filter((toxic) => toxic.stream === 'upstream'),
      ...all.filter((toxic) => toxic.stream === 'downstream'),
    ];
  }

  getToxic(name: string): ToxicJson {
    const entry = this.toxics.get(name);
    if (entry === undefined) {
      throw ERR_TOXIC_NOT_FOUND();
    }
    return entry.json;
  }

  /** Creates a toxic from a request body (Toxiproxy's AddToxicJson, in its order). */
  addToxic(body: unknown): ToxicJson {
    const object = asObject(body);
    const stream = object.stream ?? 'downstream';
    if (stream !== 'upstream' && stream !== 'downstream') {
      throw ERR_INVALID_STREAM();
    }
    const type = object.type;
    const givenName = optionalField(object, 'name', 'string');
    if (!isToxicType(type)) {
      throw ERR_INVALID_TOXIC_TYPE();
    }
    const name = givenName === undefined || givenName === '' ? `${type}_${stream}` : givenName;
    checkNameLength(name);
    if (this.toxics.has(name)) {
      throw ERR_TOXIC_EXISTS();
    }
    if (this.toxics.size >= this.limits.maxToxicsPerProxy) {
      throw ERR_TOO_MANY_TOXICS();
    }
    if (isMessageToxic(type) && this.framing === undefined) {
      throw new ApiError(400, `toxic type "${type}" needs a proxy created with a "framing"`);
    }
    const toxicity = readToxicity(object.toxicity, 1);
    const attributes = withInputErrors(() => resolveAttributes(type, undefined, object.attributes));
    const json: ToxicJson = { attributes, name, stream, toxicity, type };
    const faultId = withInputErrors(() => this.addFault(json));
    this.toxics.set(name, { json, faultId });
    return json;
  }

  /** Updates a toxic's attributes and toxicity (type, stream and name stay). */
  updateToxic(name: string, body: unknown): ToxicJson {
    const entry = this.toxics.get(name);
    if (entry === undefined) {
      throw ERR_TOXIC_NOT_FOUND();
    }
    const object = asObject(body);
    const toxicity = readToxicity(object.toxicity, entry.json.toxicity);
    const attributes = withInputErrors(() =>
      resolveAttributes(entry.json.type, entry.json.attributes, object.attributes),
    );
    const json: ToxicJson = { ...entry.json, attributes, toxicity };
    const fault = withInputErrors(() => toxicFault(json));
    if (this.proxy !== undefined) {
      if (entry.faultId !== undefined && fault !== undefined) {
        this.proxy.updateFault(entry.faultId, fault, { toxicity });
      } else {
        if (entry.faultId !== undefined) {
          this.proxy.removeFault(entry.faultId);
        }
        entry.faultId = this.addFault(json);
      }
    }
    entry.json = json;
    return json;
  }

  removeToxic(name: string): void {
    const entry = this.toxics.get(name);
    if (entry === undefined) {
      throw ERR_TOXIC_NOT_FOUND();
    }
    this.toxics.delete(name);
    if (entry.faultId !== undefined) {
      this.proxy?.removeFault(entry.faultId);
    }
  }

  removeAllToxics(): void {
    this.toxics.clear();
    this.proxy?.clearFaults();
  }

  toJSON(): ProxyJson {
    return {
      name: this.name,
      listen: this.listen,
      upstream: this.upstream,
      enabled: this.enabled,
      ...(this.framing !== undefined ? { framing: this.framing } : {}),
      toxics: this.toxicList(),
    };
  }
}

function readToxicity(value: unknown, fallback: number): number {
  if (value === undefined || value === null) {
    return fallback;
  }
  if (typeof value !== 'number' || !(value >= 0 && value <= 1)) {
    throw badBody('"toxicity" must be a number in [0, 1]');
  }
  return value;
}

function withInputErrors<T>(run: () => T): T {
  try {
    return run();
  } catch (error) {
    if (error instanceof ToxicInputError) {
      throw new ApiError(400, error.message);
    }
    if (error instanceof SwitchboardError) {
      throw new ApiError(
        400,
        error.code === 'SB_BAD_FRAMING_SPEC'
          ? clientSafeMessage(error)
          : `${ERR_BAD_REQUEST_BODY}: ${error.message}`,
      );
    }
    throw error;
  }
}

/** The named proxies. */
export class ProxyCollection {
  private readonly proxies = new Map<string, ManagedProxy>();

  constructor(
    private readonly seed: number,
    private readonly onEvent: ((name: string, event: FaultProxyEvent) => void) | undefined,
    private readonly limits: CollectionLimits,
  ) {}

  get(name: string): ManagedProxy {
    const proxy = this.proxies.get(name);
    if (proxy === undefined) {
      throw ERR_PROXY_NOT_FOUND();
    }
    return proxy;
  }

  all(): ManagedProxy[] {
    return [...this.proxies.values()];
  }

  async add(input: ProxyInput): Promise<ManagedProxy> {
    if (this.proxies.has(input.name)) {
      throw ERR_PROXY_EXISTS();
    }
    if (this.proxies.size >= this.limits.maxProxies) {
      throw ERR_TOO_MANY_PROXIES();
    }
    const proxy = new ManagedProxy(input, this.seed, this.onEvent, this.limits);
    if (input.enabled) {
      await proxy.start();
    }
    this.proxies.set(input.name, proxy);
    return proxy;
  }

  async remove(name: string): Promise<void> {
    const proxy = this.get(name);
    this.proxies.delete(name);
    await proxy.stop();
  }

  /**
   * Toxiproxy's populate: each listed proxy is created; an existing one of that name is
   * kept when its listen and upstream are the same, else replaced. On an error, the
   * proxies handled so far are returned with it.
   */
  async populate(body: unknown): Promise<{ proxies: ManagedProxy[]; error?: ApiError }> {
    if (!Array.isArray(body)) {
      throw badBody('expected a JSON array of proxies');
    }
    const inputs = body.map((item) => readProxyInput(item));
    const result: ManagedProxy[] = [];
    for (const input of inputs) {
      try {
        const existing = this.proxies.get(input.name);
        if (existing !== undefined) {
          if (sameAddress(existing, input)) {
            result.push(existing);
            continue;
          }
          await this.remove(input.name);
        }
        result.push(await this.add(input));
      } catch (error) {
        if (error instanceof ApiError) {
          return { proxies: result, error };
        }
        throw error;
      }
    }
    return { proxies: result };
  }

  /** Toxiproxy's reset: every proxy enabled, every toxic removed, proxies kept. */
  async reset(): Promise<void> {
    for (const proxy of this.proxies.values()) {
      await proxy.start();
      proxy.removeAllToxics();
    }
  }

  async closeAll(): Promise<void> {
    for (const proxy of this.proxies.values()) {
      await proxy.stop();
    }
    this.proxies.clear();
  }
}

function sameAddress(proxy: ManagedProxy, input: ProxyInput): boolean {
  // As Toxiproxy: the shown listen is the bound address, so asking for port 0 again
  // replaces the proxy.
  return (
    proxy.listen === input.listen &&
    proxy.upstream === input.upstream &&
    proxy.framing === input.framing
  );
}
