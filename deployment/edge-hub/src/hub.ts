/**
 * The local edge hub: an aedes MQTT broker over TLS that behaves like edgeHub towards the unmodified
 * azure-iot-device ModuleClient. Facts: docs/reference/edgehub-protocol.md ("reference") and
 * docs/reference/moduleclient-wire-notes.md ("wire notes").
 *
 * aedes handles the MQTT protocol and clean=false sessions; the hub handles everything else itself:
 * - CONNECT is authenticated as edgeHub does (sas.ts);
 * - every module PUBLISH is consumed in `authorizePublish` (persisted before aedes sends the PUBACK) and
 *   never fanned out (`authorizeForward` drops every client-originated packet);
 * - input deliveries, twin replies, desired patches and method requests are written to one connection
 *   with `client.publish`, never through topic routing: every module subscribes to the same `$iothub`
 *   filters, and after a broker restart the SDK never re-subscribes the twin topics (wire notes §7, §9);
 * - store-and-forward lives in SQLite (store.ts), one in-flight message per module input.
 */
import { createHash, randomUUID } from 'node:crypto';
import { appendFileSync, mkdirSync } from 'node:fs';
import { createServer as createTlsServer, type Server as TlsServer, type TLSSocket } from 'node:tls';
import { join, resolve } from 'node:path';
import { Aedes, type AedesPublishPacket, type Client, type PublishPacket, type Subscription } from 'aedes';
import { canonicalJson, createRepeatLimiter, EdgeMLError, errorMessage, startOpsServer, type Logger, type OpsServer } from '@edgeml/shared';
import { ensureTlsMaterial, type TlsMaterial } from './certs.js';
import { ensureIdentities, moduleConnectionString, writeCredentialFile, type IdentityFile } from './identities.js';
import { createHubMetrics, type HubMetrics } from './metrics.js';
import { decodePropertyBag, encodeInputBag, inputTopic, splitProperties } from './property-bag.js';
import { compileRoutes, isRouteError, type CompiledRouteTable, type RouteMessage } from './routes/index.js';
import { hmacSha256Base64, parseClientId, parseUsername, verifyModuleSasToken, type ModuleIdentity } from './sas.js';
import { openHubStore, type HubStore, type NewMessage, type StoredMessage } from './store.js';
import { classifyPublish, subscriptionFeature, type SubscriptionFeature } from './topics.js';
import { applyMergePatch, isPlainObject, mergePatchBetween, twinPatchProblems } from './twins.js';

/** Defaults of {@link createEdgeHub}; units in the names. */
export const EDGE_HUB_DEFAULTS = {
  deviceId: 'edgeml-dev',
  iotHubHostName: 'edgeml-local.azure-devices.net',
  port: 8883,
  host: '127.0.0.1',
  /** edgeHub's MessageAckTimeoutSecs: an input delivery not acknowledged within this is sent again. */
  messageAckTimeoutMs: 30_000,
  /** edgeHub's default direct-method response timeout. */
  methodResponseTimeoutMs: 30_000,
  /** How often expired messages are dropped and unacknowledged deliveries retried. */
  sweepIntervalMs: 250,
  /** Routed message size limit: body plus every property key and value (reference §6). */
  maxMessageBytes: 256 * 1024,
} as const;

export interface EdgeHubOptions {
  readonly workDir: string;
  /** Deployment template: `{ modulesContent: { $edgeAgent, $edgeHub, <module>: { 'properties.desired': … } } }`. */
  readonly manifest: unknown;
  /** Default: the modules in `$edgeAgent.modules`. */
  readonly moduleIds?: readonly string[];
  /** Default 'edgeml-dev'. */
  readonly deviceId?: string;
  /** Default 'edgeml-local.azure-devices.net'. */
  readonly iotHubHostName?: string;
  /** MQTT over TLS port; default 8883, 0 = ephemeral (read `port` after start()). */
  readonly port?: number;
  /** Bind address; default 127.0.0.1. */
  readonly host?: string;
  /** Prometheus `/metrics` port; 0 = ephemeral; undefined = no metrics server. */
  readonly metricsPort?: number;
  readonly logger: Logger;
  /** Default 30 000 (edgeHub's MessageAckTimeoutSecs). */
  readonly messageAckTimeoutMs?: number;
  /** Clock (ms since the epoch); default Date.now. */
  readonly now?: () => number;
}

export interface InjectedMessage {
  readonly body: Buffer | string | object;
  readonly properties?: Readonly<Record<string, string>>;
  readonly messageId?: string;
  readonly contentType?: string;
  readonly contentEncoding?: string;
  readonly correlationId?: string;
}

/** One line of `upstream.jsonl`. */
export interface UpstreamRecord {
  readonly receivedAt: string;
  readonly source: string;
  readonly systemProperties: Readonly<Record<string, string>>;
  readonly properties: Readonly<Record<string, string>>;
  /** The body parsed when it is JSON, otherwise its base64 text. */
  readonly body: unknown;
}

export interface EdgeHubStats {
  readonly connected: string[];
  readonly queues: Array<{ endpoint: string; priority: number; length: number; bytes: number }>;
  readonly received: number;
  readonly sent: number;
  readonly dropped: Record<string, number>;
}

export interface EdgeHub {
  /** The bound MQTT port (the configured one, or the ephemeral one after start()). */
  readonly port: number;
  /** `localhost:<port>`: the GatewayHostName modules connect to. */
  readonly gatewayHostName: string;
  /** PEM file of the development CA that signed the hub's server certificate. */
  readonly caCertificateFile: string;
  /** The bound metrics port, or undefined when no metrics server runs. */
  readonly metricsPort: number | undefined;
  readonly deviceId: string;
  readonly iotHubHostName: string;
  readonly moduleIds: readonly string[];
  readonly routes: CompiledRouteTable;
  start(): Promise<void>;
  /** Idempotent. Closes every connection at once (modules see a broker going away). */
  stop(): Promise<void>;
  /** `EdgeHubConnectionString` + `EdgeModuleCACertificateFile` for the connection-string path. @throws EdgeMLError CONFIG_INVALID for an unknown module. */
  moduleEnv(moduleId: string): Record<string, string>;
  /** base64 HMAC-SHA256 of base64-decoded `dataBase64` with the module's key (`primary`/`secondary`): the workload API's sign. */
  sign(moduleId: string, generationId: string, keyId: string, dataBase64: string): string;
  getTwin(moduleId: string): { desired: Record<string, unknown>; reported: Record<string, unknown> };
  /** Merge-patches desired (`null` deletes), increments `$version`, pushes the patch to the module. @throws EdgeMLError CONFIG_INVALID */
  patchDesired(moduleId: string, patch: Readonly<Record<string, unknown>>): Promise<number>;
  /** 404 when the module is not connected (or has no method subscription), 504 when it does not answer in time (default 30 s). */
  invokeMethod(moduleId: string, methodName: string, payload: unknown, options?: { responseTimeoutMs?: number }): Promise<{ status: number; payload: unknown }>;
  /** Queues a message for a module input through store-and-forward, as if a route had delivered it. */
  injectInput(moduleId: string, inputName: string, message: InjectedMessage): Promise<void>;
  readonly upstreamJournalFile: string;
  onUpstream(listener: (record: UpstreamRecord) => void): () => void;
  stats(): EdgeHubStats;
}

interface ManifestParts {
  readonly edgeHubDesired: unknown;
  readonly agentModules: string[];
  readonly moduleDesired: (moduleId: string) => Record<string, unknown>;
}

function readManifest(manifest: unknown): ManifestParts {
  const problems: string[] = [];
  const root = isPlainObject(manifest) ? manifest : {};
  if (!isPlainObject(manifest)) problems.push('manifest is not an object');
  const content = isPlainObject(root['modulesContent']) ? root['modulesContent'] : isPlainObject(root['content']) && isPlainObject(root['content']['modulesContent']) ? root['content']['modulesContent'] : undefined;
  if (content === undefined) problems.push('manifest has no modulesContent');
  const section = (name: string): Record<string, unknown> | undefined => {
    const s = content?.[name];
    return isPlainObject(s) && isPlainObject(s['properties.desired']) ? s['properties.desired'] : undefined;
  };
  const agent = section('$edgeAgent');
  const hub = section('$edgeHub');
  if (hub === undefined) problems.push("modulesContent.$edgeHub['properties.desired'] is missing");
  if (problems.length > 0) throw new EdgeMLError('CONFIG_INVALID', `deployment manifest: ${problems.join('; ')}`, { details: { problems } });
  const agentModules = agent !== undefined && isPlainObject(agent['modules']) ? Object.keys(agent['modules']) : [];
  return {
    edgeHubDesired: hub,
    agentModules,
    moduleDesired: (m) => {
      const d = section(m);
      if (d === undefined) return {};
      const copy = structuredClone(d);
      delete copy['$version'];
      delete copy['$metadata'];
      return copy;
    },
  };
}

function bodyToBuffer(body: Buffer | string | object): Buffer {
  if (Buffer.isBuffer(body)) return body;
  if (typeof body === 'string') return Buffer.from(body, 'utf8');
  return Buffer.from(JSON.stringify(body), 'utf8');
}

/** Size as edgeHub counts it (RC/Message.cs Size()): body plus every property key and value. */
function messageSize(body: Buffer, ...bags: Readonly<Record<string, string>>[]): number {
  let size = body.length;
  for (const bag of bags) for (const [k, v] of Object.entries(bag)) size += Buffer.byteLength(k) + Buffer.byteLength(v);
  return size;
}

function journalBody(body: Buffer): unknown {
  if (body.length === 0) return '';
  const text = body.toString('utf8');
  // Valid UTF-8 round-trips; anything else is binary.
  if (Buffer.byteLength(text) === body.length && !text.includes('\ufffd')) {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      // not JSON: fall through to base64
    }
  }
  return body.toString('base64');
}

function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

interface Inflight {
  readonly message: StoredMessage;
  readonly client: Client;
  readonly moduleId: string;
  readonly inputName: string;
  readonly topic: string;
  readonly sentAtMs: number;
  /** aedes's id of the packet written (its broker counter), to match the PUBACK exactly. */
  readonly brokerCounter: number | undefined;
}

interface PendingMethod {
  readonly moduleId: string;
  readonly startedAtMs: number;
  readonly settle: (result: { status: number; payload: unknown }) => void;
}

/**
 * Builds the hub: validates the manifest and compiles its routes, prepares the work folder (CA and server
 * certificate, module keys, SQLite state, twins seeded from the manifest). `start()` listens.
 * @throws EdgeMLError ROUTE_COMPILE_ERROR (message names the route and the position), CONFIG_INVALID, STATE_CORRUPT
 */
export async function createEdgeHub(options: EdgeHubOptions): Promise<EdgeHub> {
  const logger = options.logger;
  const now = options.now ?? Date.now;
  const deviceId = options.deviceId ?? EDGE_HUB_DEFAULTS.deviceId;
  const iotHubHostName = options.iotHubHostName ?? EDGE_HUB_DEFAULTS.iotHubHostName;
  const host = options.host ?? EDGE_HUB_DEFAULTS.host;
  const ackTimeoutMs = options.messageAckTimeoutMs ?? EDGE_HUB_DEFAULTS.messageAckTimeoutMs;
  const workDir = resolve(options.workDir);
  const manifest = readManifest(options.manifest);

  let routes: CompiledRouteTable;
  try {
    routes = compileRoutes(manifest.edgeHubDesired);
  } catch (err: unknown) {
    const problems = isRouteError(err) && 'problems' in err ? (err as { problems: unknown }).problems : undefined;
    throw new EdgeMLError('ROUTE_COMPILE_ERROR', `$edgeHub routes rejected: ${errorMessage(err)}`, { cause: err, details: { problems } });
  }
  for (const w of routes.warnings) logger.warn({ warning: w }, `route warning: ${w.message}`);

  const moduleIds = [...(options.moduleIds ?? manifest.agentModules)];
  const known = new Set(moduleIds);
  for (const r of routes.routes) {
    if (r.sink.kind === 'module' && !known.has(r.sink.moduleId)) logger.warn({ route: r.name, moduleId: r.sink.moduleId }, 'route delivers to a module the hub does not know; its messages will wait until they expire');
  }

  mkdirSync(workDir, { recursive: true, mode: 0o700 });
  const tls: TlsMaterial = await ensureTlsMaterial(workDir, host === '0.0.0.0' || host === '::' ? [] : [host]);
  const ids: IdentityFile = await ensureIdentities(workDir, deviceId, iotHubHostName, moduleIds);
  const store: HubStore = openHubStore(workDir);
  const upstreamJournalFile = join(workDir, 'upstream.jsonl');

  // Twins: seeded from the manifest with $version 1; a changed manifest section replaces desired (version+1).
  for (const m of moduleIds) {
    const seed = manifest.moduleDesired(m);
    const seedHash = sha256Hex(canonicalJson(seed));
    const existing = store.getTwin(m);
    if (existing === undefined) store.putTwin(m, { desired: seed, reported: {}, desiredVersion: 1, reportedVersion: 1, seedHash });
    else if (existing.seedHash !== seedHash) {
      store.putTwin(m, { ...existing, desired: seed, desiredVersion: existing.desiredVersion + 1, seedHash });
      logger.info({ moduleId: m, desiredVersion: existing.desiredVersion + 1 }, 'module twin re-seeded from a changed manifest');
    }
  }

  const metrics: HubMetrics = createHubMetrics({ iothub: iotHubHostName, edgeDevice: deviceId }, () => store.queues());
  const shouldLog = createRepeatLimiter();
  const upstreamListeners = new Set<(r: UpstreamRecord) => void>();
  const connections = new Map<string, Client>();
  const identities = new WeakMap<Client, ModuleIdentity>();
  const features = new Map<string, Set<SubscriptionFeature>>();
  for (const m of moduleIds) features.set(m, store.getFeatures(m));
  /** The desired document each module last received (GET or push) while this hub ran. */
  const seenDesired = new Map<string, Record<string, unknown>>();
  const inflight = new Map<string, Inflight>();
  const inflightByTopic = new Map<string, string>();
  const pumpScheduled = new Set<string>();
  const pendingMethods = new Map<string, PendingMethod>();
  const dropped: Record<string, number> = {};
  let received = 0;
  let sent = 0;
  let storedBytes = store.totalBytes();
  let port = options.port ?? EDGE_HUB_DEFAULTS.port;
  let metricsPort: number | undefined;
  let aedes: Aedes | undefined;
  let server: TlsServer | undefined;
  let ops: OpsServer | undefined;
  let sweepTimer: NodeJS.Timeout | undefined;
  const sockets = new Set<TLSSocket>();
  let started = false;
  let storeClosed = false;
  let stopping: Promise<void> | undefined;

  const moduleLabel = (m: string): string => `${deviceId}/${m}`;
  const countDrop = (reason: string, from: string, output: string, n = 1): void => {
    dropped[reason] = (dropped[reason] ?? 0) + n;
    metrics.messagesDropped.inc({ reason, from, from_route_output: output }, n);
  };
  const warnOnce = (key: string, fields: Record<string, unknown>, msg: string): void => {
    const r = shouldLog(key);
    if (r.log) logger.warn({ ...fields, suppressed: r.suppressed }, msg);
  };
  const featureSet = (m: string): Set<SubscriptionFeature> => {
    let s = features.get(m);
    if (s === undefined) {
      s = new Set();
      features.set(m, s);
    }
    return s;
  };

  // ---- twins -------------------------------------------------------------------------------------

  const twinDocument = (m: string): { desired: Record<string, unknown>; reported: Record<string, unknown> } => {
    if (storeClosed) throw new EdgeMLError('INTERNAL', 'the edge hub is stopped');
    const t = store.getTwin(m);
    if (t === undefined) throw new EdgeMLError('CONFIG_INVALID', `module ${m} is not known to the hub`);
    return { desired: { ...t.desired, $version: t.desiredVersion }, reported: { ...t.reported, $version: t.reportedVersion } };
  };

  /** Writes one packet to one connection (never topic routing). QoS 0 unless stated. */
  const sendTo = (client: Client, topic: string, payload: Buffer | string, qos: 0 | 1 = 0, done?: (err?: Error) => void): void => {
    const packet = { cmd: 'publish', topic, payload: typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload, qos, retain: false, dup: false } as PublishPacket;
    client.publish(packet, (err?: Error) => {
      if (err !== undefined && err !== null) logger.debug({ err, topic: topic.slice(0, 120) }, 'write to module failed');
      done?.(err ?? undefined);
    });
  };

  const twinError = (client: Client, rid: string | undefined, status: number, errorCode: number, message: string): void => {
    // The SDK ignores the status and only sees an error when the body has errorCode (wire notes §4).
    if (rid !== undefined && rid !== '') sendTo(client, `$iothub/twin/res/${status}/?$rid=${rid}`, JSON.stringify({ errorCode, message }));
  };

  const handleTwinGet = (client: Client, id: ModuleIdentity, rid: string | undefined): void => {
    if (rid === undefined || rid === '') {
      warnOnce(`twin-get-no-rid:${id.moduleId}`, { moduleId: id.moduleId }, 'twin GET without $rid ignored');
      return;
    }
    metrics.getTwin.inc({ source: moduleLabel(id.moduleId), id: moduleLabel(id.moduleId) });
    const doc = twinDocument(id.moduleId);
    seenDesired.set(id.moduleId, doc.desired);
    sendTo(client, `$iothub/twin/res/200/?$rid=${rid}`, JSON.stringify(doc));
  };

  const handleReported = (client: Client, id: ModuleIdentity, rid: string | undefined, payload: Buffer): void => {
    let patch: unknown;
    try {
      patch = JSON.parse(payload.toString('utf8'));
    } catch {
      metrics.refusedPublishes.inc({ id: moduleLabel(id.moduleId), reason: 'twin_body_not_json' });
      twinError(client, rid, 400, 400004, 'reported properties patch is not JSON');
      return;
    }
    const problems = twinPatchProblems(patch);
    if (problems.length > 0) {
      warnOnce(`reported-invalid:${id.moduleId}`, { moduleId: id.moduleId, problems }, 'reported properties patch refused');
      twinError(client, rid, 400, 400004, `reported properties patch refused: ${problems.join('; ')}`);
      return;
    }
    const t = store.getTwin(id.moduleId);
    if (t === undefined) {
      twinError(client, rid, 404, 404001, 'twin not found');
      return;
    }
    const reported = structuredClone(t.reported);
    applyMergePatch(reported, patch as Record<string, unknown>);
    store.putTwin(id.moduleId, { ...t, reported, reportedVersion: t.reportedVersion + 1 });
    metrics.reportedProperties.inc({ target: 'upstream', id: moduleLabel(id.moduleId) });
    if (rid !== undefined && rid !== '') sendTo(client, `$iothub/twin/res/204/?$rid=${rid}`, '');
  };

  // ---- direct methods ----------------------------------------------------------------------------

  const handleMethodResponse = (id: ModuleIdentity, status: string, rid: string | undefined, payload: Buffer): void => {
    const key = `${id.moduleId}\n${(rid ?? '').toLowerCase()}`;
    const pending = pendingMethods.get(key);
    if (pending === undefined) {
      warnOnce(`method-late:${id.moduleId}`, { moduleId: id.moduleId, rid }, 'direct method response for no pending request (late or unknown $rid)');
      return;
    }
    pendingMethods.delete(key);
    let body: unknown = null;
    if (payload.length > 0) {
      const text = payload.toString('utf8');
      try {
        body = JSON.parse(text) as unknown;
      } catch {
        body = text;
      }
    }
    // edgeHub: a missing or non-integer status gives a generic 400.
    const code = /^[0-9]+$/.test(status) ? Number(status) : 400;
    pending.settle({ status: code, payload: body });
  };

  // ---- store-and-forward -------------------------------------------------------------------------

  const splitEndpoint = (endpoint: string): { moduleId: string; inputName: string } => {
    const slash = endpoint.indexOf('/');
    return { moduleId: endpoint.slice(0, slash), inputName: endpoint.slice(slash + 1) };
  };

  const pump = (endpoint: string): void => {
    if (stopping !== undefined || storeClosed || inflight.has(endpoint)) return;
    const { moduleId, inputName } = splitEndpoint(endpoint);
    const client = connections.get(moduleId);
    // edgeHub delivers only to a module that is connected AND holds the input subscription: a message that
    // arrives before the SDK's listener exists is acked and lost (wire notes §11.5).
    if (client === undefined || !featureSet(moduleId).has('inputs')) return;
    const message = store.head(endpoint, now());
    if (message === undefined) return;
    const topic = inputTopic(deviceId, moduleId, inputName, encodeInputBag(message.properties, message.systemProperties));
    // client.publish wraps the message in a packet numbered ++broker.counter synchronously; the PUBACK's
    // original packet carries that number back, so a late ack of an earlier copy cannot complete this one.
    const counter = (aedes as unknown as { counter?: unknown } | undefined)?.counter;
    const brokerCounter = typeof counter === 'number' ? counter + 1 : undefined;
    const record: Inflight = { message, client, moduleId, inputName, topic, sentAtMs: now(), brokerCounter };
    inflight.set(endpoint, record);
    inflightByTopic.set(topic, endpoint);
    sendTo(client, topic, message.body, 1, (err) => {
      if (err !== undefined && inflight.get(endpoint) === record) {
        inflight.delete(endpoint);
        inflightByTopic.delete(topic);
      }
    });
  };

  const schedulePump = (endpoint: string): void => {
    if (pumpScheduled.has(endpoint)) return;
    pumpScheduled.add(endpoint);
    setImmediate(() => {
      pumpScheduled.delete(endpoint);
      pump(endpoint);
    });
  };

  const pumpModule = (moduleId: string): void => {
    if (storeClosed) return;
    for (const e of store.endpoints()) if (splitEndpoint(e).moduleId === moduleId) schedulePump(e);
  };

  const onAck = (packet: { topic?: string; payload?: Buffer | string; brokerCounter?: number } | undefined, client: Client): void => {
    if (packet?.topic === undefined || storeClosed) return;
    const endpoint = inflightByTopic.get(packet.topic);
    if (endpoint === undefined) return;
    const record = inflight.get(endpoint);
    if (record === undefined || identities.get(client)?.moduleId !== record.moduleId) return;
    if (record.brokerCounter !== undefined && packet.brokerCounter !== undefined) {
      if (packet.brokerCounter !== record.brokerCounter) return;
    } else if (Buffer.isBuffer(packet.payload) && !packet.payload.equals(record.message.body)) return;
    inflight.delete(endpoint);
    inflightByTopic.delete(packet.topic);
    store.remove(record.message.seq);
    storedBytes -= record.message.sizeBytes;
    sent++;
    metrics.messagesSent.inc({
      from: moduleLabel(record.message.fromModule),
      to: moduleLabel(record.moduleId),
      from_route_output: record.message.fromOutput,
      to_route_input: record.inputName,
      priority: String(record.message.priority),
    });
    pump(endpoint);
  };

  const sweep = (): void => {
    if (storeClosed) return;
    const t = now();
    for (const m of store.removeExpired(t)) {
      storedBytes -= m.sizeBytes;
      countDrop('ttl_expiry', moduleLabel(m.fromModule), m.fromOutput);
      const rec = inflight.get(m.endpoint);
      if (rec !== undefined && rec.message.seq === m.seq) {
        inflight.delete(m.endpoint);
        inflightByTopic.delete(rec.topic);
      }
      schedulePump(m.endpoint);
    }
    for (const [endpoint, rec] of inflight) {
      if (t - rec.sentAtMs >= ackTimeoutMs) {
        inflight.delete(endpoint);
        inflightByTopic.delete(rec.topic);
        metrics.messagesRedelivered.inc({ to: moduleLabel(rec.moduleId), to_route_input: rec.inputName });
        warnOnce(`redeliver:${endpoint}`, { endpoint, seq: rec.message.seq }, 'input delivery not acknowledged in time; sending again');
        schedulePump(endpoint);
      }
    }
  };

  /** Persists module deliveries (all or none) within storeLimits; upstream ones go to the journal. */
  const deliver = (
    message: RouteMessage & { readonly sourcePath: string },
    matches: ReadonlyArray<{ endpoint: { kind: 'upstream' } | { kind: 'module'; id: string }; priority: number; timeToLiveSecs: number; routeName: string }>,
    sizeBytes: number,
  ): 'ok' | 'storage_full' => {
    const t = now();
    const fromModule = message.source.moduleId ?? '';
    const fromOutput = message.source.outputName ?? '';
    const rows: NewMessage[] = [];
    for (const m of matches) {
      if (m.endpoint.kind !== 'module') continue;
      rows.push({
        endpoint: m.endpoint.id,
        priority: m.priority,
        enqueuedAtMs: t,
        expiresAtMs: Number.isFinite(m.timeToLiveSecs) ? t + m.timeToLiveSecs * 1000 : undefined,
        sizeBytes,
        systemProperties: message.systemProperties,
        properties: message.properties,
        routeName: m.routeName,
        fromModule,
        fromOutput,
        body: Buffer.from(message.body),
      });
    }
    const limit = routes.storeAndForward?.storeLimits?.maxSizeBytes;
    if (rows.length > 0 && limit !== undefined && storedBytes + rows.length * sizeBytes > limit) return 'storage_full';
    if (rows.length > 0) {
      store.enqueue(rows);
      storedBytes += rows.length * sizeBytes;
      // Straight to the wire when the input is idle: one event-loop turn less per message than scheduling.
      for (const r of rows) pump(r.endpoint);
    }
    if (matches.some((m) => m.endpoint.kind === 'upstream')) {
      const record: UpstreamRecord = {
        receivedAt: new Date(t).toISOString(),
        source: message.sourcePath,
        systemProperties: message.systemProperties,
        properties: message.properties,
        body: journalBody(Buffer.from(message.body)),
      };
      appendFileSync(upstreamJournalFile, `${JSON.stringify(record)}\n`);
      sent++;
      metrics.messagesSent.inc({ from: moduleLabel(fromModule), to: '$upstream', from_route_output: fromOutput, to_route_input: '', priority: String(matches.find((m) => m.endpoint.kind === 'upstream')?.priority ?? '') });
      for (const l of upstreamListeners) {
        try {
          l(record);
        } catch (err: unknown) {
          logger.error({ err }, 'upstream listener threw');
        }
      }
    }
    return 'ok';
  };

  /** An output event of a module. Returns an Error to refuse the PUBLISH without PUBACK (storage full). */
  const handleEvent = (id: ModuleIdentity, bag: string, payload: Buffer): Error | undefined => {
    const from = moduleLabel(id.moduleId);
    const decoded = decodePropertyBag(bag);
    if (!decoded.ok) {
      metrics.refusedPublishes.inc({ id: from, reason: 'malformed_properties' });
      countDrop('invalid', from, '');
      warnOnce(`bag:${id.moduleId}`, { moduleId: id.moduleId, problem: decoded.problem }, 'output event with a malformed property bag dropped');
      return undefined;
    }
    const { systemProperties, properties } = splitProperties(decoded.pairs);
    const outputName = systemProperties['outputName'];
    systemProperties['connectionDeviceId'] = id.deviceId;
    systemProperties['connectionModuleId'] = id.moduleId;
    systemProperties['edgeMessageId'] = randomUUID();
    systemProperties['edgeHubOriginInterface'] = 'internal';
    received++;
    const size = messageSize(payload, systemProperties, properties);
    metrics.messagesReceived.inc({ route_output: outputName ?? '', id: from });
    metrics.messageSize.observe({ id: from }, size);
    if (size > EDGE_HUB_DEFAULTS.maxMessageBytes) {
      metrics.refusedPublishes.inc({ id: from, reason: 'too_large' });
      countDrop('too_large', from, outputName ?? '');
      warnOnce(`too-large:${id.moduleId}`, { moduleId: id.moduleId, sizeBytes: size }, `output event over ${EDGE_HUB_DEFAULTS.maxMessageBytes} bytes dropped`);
      return undefined;
    }
    const sourcePath = outputName === undefined ? `/messages/modules/${id.moduleId}` : `/messages/modules/${id.moduleId}/outputs/${outputName}`;
    const message = {
      source: { kind: 'telemetry' as const, deviceId: id.deviceId, moduleId: id.moduleId, outputName },
      systemProperties,
      properties,
      body: payload,
      sourcePath,
    };
    const matches = routes.match(message);
    if (matches.length === 0) {
      countDrop('no_route', from, outputName ?? '');
      return undefined;
    }
    if (deliver(message, matches, size) === 'storage_full') {
      metrics.messagesUnack.inc({ reason: 'storage_full', from, from_route_output: outputName ?? '' });
      warnOnce('storage-full', { moduleId: id.moduleId, storedBytes }, 'store-and-forward is full (storeLimits.maxSizeBytes); publish refused without PUBACK');
      return new Error('store-and-forward is full');
    }
    return undefined;
  };

  // ---- broker ------------------------------------------------------------------------------------

  const authenticate = (client: Client, username: string | undefined, password: Buffer | undefined): { ok: true; identity: ModuleIdentity } | { ok: false; reason: string } => {
    const identity = parseClientId(client.id);
    if (identity === undefined) return { ok: false, reason: 'clientId is not <device>/<module>' };
    if (identity.deviceId !== deviceId) return { ok: false, reason: `unknown device ${identity.deviceId}` };
    const keys = ids.modules[identity.moduleId];
    if (keys === undefined || !known.has(identity.moduleId)) return { ok: false, reason: `unknown module ${identity.moduleId}` };
    const user = parseUsername(username ?? '');
    if ('problem' in user) return { ok: false, reason: user.problem };
    // DeviceIdentityProvider: the ClientId must equal the identity named by the username (ordinal compare).
    if (user.deviceId !== identity.deviceId || user.moduleId !== identity.moduleId) return { ok: false, reason: 'clientId does not match the username identity' };
    if (password === undefined) return { ok: false, reason: 'no password (SAS token)' };
    const verdict = verifyModuleSasToken({
      token: password.toString('utf8'),
      identity,
      hostNames: [iotHubHostName, 'localhost', host],
      keysBase64: [keys.primaryKey, keys.secondaryKey],
      nowSecs: Math.floor(now() / 1000),
    });
    return verdict.ok ? { ok: true, identity } : { ok: false, reason: verdict.reason };
  };

  const onClientReady = (client: Client): void => {
    const id = identities.get(client);
    if (id === undefined) return;
    const previous = connections.get(id.moduleId);
    connections.set(id.moduleId, client);
    metrics.connectSuccess.inc({ id: moduleLabel(id.moduleId) });
    metrics.connectedClients.set(connections.size);
    logger.info({ moduleId: id.moduleId, replaced: previous !== undefined && previous !== client }, 'module connected');
    catchUpDesired(client, id.moduleId);
    pumpModule(id.moduleId);
  };

  /**
   * A module that reconnects without re-reading its twin (the SDK's SAS-renewal reconnect, every 45 min)
   * would miss a desired patch made while it was away: send it the difference from what it last saw.
   */
  const catchUpDesired = (client: Client, moduleId: string): void => {
    const seen = seenDesired.get(moduleId);
    if (seen === undefined || storeClosed || !featureSet(moduleId).has('desired')) return;
    const current = twinDocument(moduleId).desired;
    if (current['$version'] === seen['$version']) return;
    const patch = mergePatchBetween(seen, current);
    delete patch['$version'];
    seenDesired.set(moduleId, current);
    metrics.desiredPushes.inc({ id: moduleLabel(moduleId) });
    sendTo(client, `$iothub/twin/PATCH/properties/desired/?$version=${String(current['$version'])}`, JSON.stringify({ ...patch, $version: current['$version'] }));
  };

  const onClientDisconnect = (client: Client): void => {
    const id = identities.get(client);
    if (id === undefined) return;
    if (connections.get(id.moduleId) === client) connections.delete(id.moduleId);
    metrics.disconnects.inc({ id: moduleLabel(id.moduleId) });
    metrics.connectedClients.set(connections.size);
    for (const [endpoint, rec] of inflight) {
      if (rec.client === client) {
        inflight.delete(endpoint);
        inflightByTopic.delete(rec.topic);
      }
    }
    // Store-and-forward is the only source of redelivery: drop aedes's own copy of unacknowledged
    // deliveries, or it would replay them on reconnect as well.
    const persistence = (aedes as unknown as { persistence?: { outgoingStream(c: Client): AsyncIterable<unknown>; outgoingClearMessageId(c: Client, p: unknown): Promise<unknown> } } | undefined)?.persistence;
    if (persistence !== undefined && !client.clean) {
      void (async () => {
        for await (const p of persistence.outgoingStream(client)) await persistence.outgoingClearMessageId(client, p);
      })().catch((err: unknown) => logger.debug({ err }, 'clearing the session outgoing queue failed'));
    }
    logger.info({ moduleId: id.moduleId }, 'module disconnected');
    if (connections.has(id.moduleId)) pumpModule(id.moduleId);
  };

  const onSubscribe = (subs: Subscription[], client: Client): void => {
    const id = identities.get(client);
    if (id === undefined) return;
    const set = featureSet(id.moduleId);
    const before = set.size;
    for (const s of subs) {
      const f = subscriptionFeature(id, s.topic);
      if (f !== undefined) set.add(f);
    }
    if (set.size !== before) store.putFeatures(id.moduleId, set);
    if (set.has('inputs')) pumpModule(id.moduleId);
  };

  const onUnsubscribe = (topics: string[], client: Client): void => {
    const id = identities.get(client);
    if (id === undefined) return;
    const set = featureSet(id.moduleId);
    const before = set.size;
    for (const t of topics) {
      const f = subscriptionFeature(id, t);
      if (f !== undefined) set.delete(f);
    }
    if (set.size !== before) store.putFeatures(id.moduleId, set);
  };

  const startBroker = async (): Promise<void> => {
    const broker = await Aedes.createBroker({
      // clientId is `<device>/<module>`, longer than aedes's default limit of 23.
      maxClientsIdLength: 256,
      authenticate: (client, username, password, done) => {
        const verdict = authenticate(client, username, password);
        if (verdict.ok) {
          identities.set(client, verdict.identity);
          done(null, true);
          return;
        }
        metrics.connectFailed.inc({ id: client.id, reason: verdict.reason });
        warnOnce(`auth:${client.id}:${verdict.reason}`, { clientId: client.id, reason: verdict.reason }, 'CONNECT refused');
        const err = Object.assign(new Error(verdict.reason), { returnCode: 5 as const });
        done(err, false);
      },
      authorizeSubscribe: (client, sub, done) => {
        const id = identities.get(client);
        if (id !== undefined && subscriptionFeature(id, sub.topic) !== undefined) {
          done(null, sub);
          return;
        }
        metrics.refusedPublishes.inc({ id: client.id, reason: 'subscribe_refused' });
        warnOnce(`sub:${client.id}:${sub.topic}`, { clientId: client.id, topic: sub.topic }, 'SUBSCRIBE refused: not one of the module own topics');
        done(null, null);
      },
      authorizePublish: (client, packet, done) => {
        const id = client === null ? undefined : identities.get(client);
        if (client === null || id === undefined) {
          done(new Error('not authenticated'));
          return;
        }
        if (storeClosed) {
          done(new Error('edge hub stopping'));
          return;
        }
        packet.retain = false;
        const kind = classifyPublish(id, packet.topic);
        const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
        switch (kind.kind) {
          case 'event':
            done(handleEvent(id, kind.bag, payload) ?? null);
            return;
          case 'twinGet':
            handleTwinGet(client, id, kind.rid);
            break;
          case 'twinReported':
            handleReported(client, id, kind.rid, payload);
            break;
          case 'methodResponse':
            handleMethodResponse(id, kind.status, kind.rid, payload);
            break;
          case 'refused':
            metrics.refusedPublishes.inc({ id: moduleLabel(id.moduleId), reason: 'unauthorized_topic' });
            warnOnce(`pub:${id.moduleId}:${kind.reason}`, { moduleId: id.moduleId, topic: packet.topic.slice(0, 200), reason: kind.reason }, 'PUBLISH refused; closing the connection');
            done(new Error(kind.reason));
            return;
        }
        done(null);
      },
      // Nothing a module publishes is forwarded to another subscriber; only the hub's own writes
      // (client.publish, which carry no clientId) reach a connection.
      authorizeForward: (_client, packet: AedesPublishPacket) => ('clientId' in packet && packet.clientId !== undefined ? null : packet),
    });
    broker.on('clientReady', onClientReady);
    broker.on('clientDisconnect', onClientDisconnect);
    broker.on('subscribe', onSubscribe);
    broker.on('unsubscribe', onUnsubscribe);
    broker.on('ack', (packet, client) => onAck(packet as { topic?: string; payload?: Buffer; brokerCounter?: number } | undefined, client));
    broker.on('clientError', (client, err) => logger.debug({ clientId: client.id, err }, 'client error'));
    broker.on('connectionError', (client, err) => logger.debug({ clientId: client.id, err }, 'connection error'));
    aedes = broker;

    const tlsServer = createTlsServer({ key: tls.serverKeyPem, cert: tls.serverCertificatePem, noDelay: true }, (socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      broker.handle(socket);
    });
    tlsServer.on('tlsClientError', (err) => logger.debug({ err }, 'TLS handshake failed'));
    await new Promise<void>((resolveListen, reject) => {
      tlsServer.once('error', reject);
      tlsServer.listen(port, host, () => {
        tlsServer.off('error', reject);
        resolveListen();
      });
    });
    const address = tlsServer.address();
    if (typeof address === 'object' && address !== null) port = address.port;
    server = tlsServer;
  };

  const moduleEnv = (moduleId: string): Record<string, string> => {
    if (!known.has(moduleId)) throw new EdgeMLError('CONFIG_INVALID', `module ${moduleId} is not known to the hub`);
    if (port === 0) throw new EdgeMLError('CONFIG_INVALID', 'the hub has an ephemeral port: call start() before moduleEnv()');
    return {
      EdgeHubConnectionString: moduleConnectionString(ids, moduleId, `localhost:${port}`),
      EdgeModuleCACertificateFile: tls.caCertificateFile,
    };
  };

  const hub: EdgeHub = {
    get port() {
      return port;
    },
    get gatewayHostName() {
      return `localhost:${port}`;
    },
    caCertificateFile: tls.caCertificateFile,
    get metricsPort() {
      return metricsPort;
    },
    deviceId,
    iotHubHostName,
    moduleIds: Object.freeze([...moduleIds]),
    routes,
    upstreamJournalFile,

    async start() {
      if (started) return;
      if (stopping !== undefined) throw new EdgeMLError('INTERNAL', 'a stopped hub cannot be started again; create a new one on the same workDir');
      started = true;
      await startBroker();
      for (const m of moduleIds) await writeCredentialFile(workDir, m, moduleEnv(m));
      if (options.metricsPort !== undefined) {
        ops = await startOpsServer({
          registry: metrics.registry,
          logger,
          port: options.metricsPort,
          host,
          health: { live: () => true, ready: () => ({ ready: stopping === undefined, reasons: stopping === undefined ? [] : ['stopping'] }) },
        });
        metricsPort = ops.port;
      }
      sweepTimer = setInterval(sweep, EDGE_HUB_DEFAULTS.sweepIntervalMs);
      sweepTimer.unref();
      logger.info({ port, host, deviceId, modules: moduleIds, routes: routes.routes.length, metricsPort, workDir }, 'edge hub listening');
    },

    stop() {
      stopping ??= (async () => {
        if (sweepTimer !== undefined) clearInterval(sweepTimer);
        for (const [key, p] of pendingMethods) {
          pendingMethods.delete(key);
          p.settle({ status: 503, payload: { message: 'edge hub stopping' } });
        }
        const srv = server;
        if (srv !== undefined) {
          const closed = new Promise<void>((r) => srv.close(() => r()));
          for (const s of sockets) s.destroy();
          await closed;
        }
        const broker = aedes;
        if (broker !== undefined) await new Promise<void>((r) => broker.close(() => r()));
        await ops?.close();
        inflight.clear();
        inflightByTopic.clear();
        connections.clear();
        storeClosed = true;
        store.close();
        if (started) logger.info('edge hub stopped');
      })();
      return stopping;
    },

    moduleEnv,

    sign(moduleId, _generationId, keyId, dataBase64) {
      const keys = ids.modules[moduleId];
      if (keys === undefined) throw new EdgeMLError('UNAUTHORIZED', `module ${moduleId} is not known to the hub`);
      const key = keyId === 'secondary' ? keys.secondaryKey : keyId === 'primary' ? keys.primaryKey : undefined;
      if (key === undefined) throw new EdgeMLError('UNAUTHORIZED', `unknown keyId ${keyId}`);
      return hmacSha256Base64(key, Buffer.from(dataBase64, 'base64'));
    },

    getTwin(moduleId) {
      return structuredClone(twinDocument(moduleId));
    },

    patchDesired(moduleId, patch) {
      if (storeClosed) return Promise.reject(new EdgeMLError('INTERNAL', 'the edge hub is stopped'));
      if (!known.has(moduleId)) return Promise.reject(new EdgeMLError('CONFIG_INVALID', `module ${moduleId} is not known to the hub`));
      const problems = twinPatchProblems(patch, { allowVersion: true });
      if (problems.length > 0) return Promise.reject(new EdgeMLError('CONFIG_INVALID', `desired patch refused: ${problems.join('; ')}`, { details: { problems } }));
      const t = store.getTwin(moduleId);
      if (t === undefined) return Promise.reject(new EdgeMLError('CONFIG_INVALID', `module ${moduleId} has no twin`));
      const clean = structuredClone(patch) as Record<string, unknown>;
      delete clean['$version'];
      const desired = structuredClone(t.desired);
      applyMergePatch(desired, clean);
      const version = t.desiredVersion + 1;
      store.putTwin(moduleId, { ...t, desired, desiredVersion: version });
      const client = connections.get(moduleId);
      if (client !== undefined && featureSet(moduleId).has('desired')) {
        metrics.desiredPushes.inc({ id: moduleLabel(moduleId) });
        seenDesired.set(moduleId, { ...desired, $version: version });
        sendTo(client, `$iothub/twin/PATCH/properties/desired/?$version=${version}`, JSON.stringify({ ...clean, $version: version }));
      }
      return Promise.resolve(version);
    },

    invokeMethod(moduleId, methodName, payload, invokeOptions = {}) {
      const to = moduleLabel(moduleId);
      metrics.directMethods.inc({ from: '$local', to });
      const client = connections.get(moduleId);
      if (client === undefined || !featureSet(moduleId).has('methods')) {
        return Promise.resolve({ status: 404, payload: { message: `module ${moduleId} is not connected or has no method handler subscription` } });
      }
      const timeoutMs = invokeOptions.responseTimeoutMs ?? EDGE_HUB_DEFAULTS.methodResponseTimeoutMs;
      const rid = randomUUID();
      const key = `${moduleId}\n${rid}`;
      const startedAtMs = now();
      return new Promise((resolvePromise) => {
        const timer = setTimeout(() => {
          if (pendingMethods.delete(key)) resolvePromise({ status: 504, payload: { message: `module ${moduleId} did not answer ${methodName} within ${timeoutMs} ms` } });
        }, timeoutMs);
        pendingMethods.set(key, {
          moduleId,
          startedAtMs,
          settle: (result) => {
            clearTimeout(timer);
            metrics.directMethodDuration.observe({ from: '$local', to }, (now() - startedAtMs) / 1000);
            resolvePromise(result);
          },
        });
        // An empty body is not "no payload" for the SDK: its parser sees a Buffer, JSON.parse('') fails and it
        // answers 400 itself (observed). Absent payloads go as JSON null.
        sendTo(client, `$iothub/methods/POST/${methodName}/?$rid=${rid}`, JSON.stringify(payload ?? null));
      });
    },

    injectInput(moduleId, inputName, message) {
      if (storeClosed) return Promise.reject(new EdgeMLError('INTERNAL', 'the edge hub is stopped'));
      if (!known.has(moduleId)) return Promise.reject(new EdgeMLError('CONFIG_INVALID', `module ${moduleId} is not known to the hub`));
      const isObject = !Buffer.isBuffer(message.body) && typeof message.body === 'object';
      const body = bodyToBuffer(message.body);
      const systemProperties: Record<string, string> = {};
      if (message.messageId !== undefined) systemProperties['messageId'] = message.messageId;
      if (message.correlationId !== undefined) systemProperties['cid'] = message.correlationId;
      const contentType = message.contentType ?? (isObject ? 'application/json' : undefined);
      const contentEncoding = message.contentEncoding ?? (isObject ? 'utf-8' : undefined);
      if (contentType !== undefined) systemProperties['contentType'] = contentType;
      if (contentEncoding !== undefined) systemProperties['contentEncoding'] = contentEncoding;
      const properties = { ...(message.properties ?? {}) };
      const size = messageSize(body, systemProperties, properties);
      const ttl = routes.globalTimeToLiveSecs;
      const t = now();
      const limit = routes.storeAndForward?.storeLimits?.maxSizeBytes;
      if (limit !== undefined && storedBytes + size > limit) return Promise.reject(new EdgeMLError('QUOTA_EXCEEDED', 'store-and-forward is full (storeLimits.maxSizeBytes)'));
      const endpoint = `${moduleId}/${inputName}`;
      store.enqueue([
        {
          endpoint,
          priority: 2_000_000_000,
          enqueuedAtMs: t,
          expiresAtMs: Number.isFinite(ttl) ? t + ttl * 1000 : undefined,
          sizeBytes: size,
          systemProperties,
          properties,
          routeName: '$injected',
          fromModule: '$injected',
          fromOutput: '',
          body,
        },
      ]);
      storedBytes += size;
      schedulePump(endpoint);
      return Promise.resolve();
    },

    onUpstream(listener) {
      upstreamListeners.add(listener);
      return () => {
        upstreamListeners.delete(listener);
      };
    },

    stats() {
      return {
        connected: [...connections.keys()].sort(),
        queues: storeClosed ? [] : store.queues(),
        received,
        sent,
        dropped: { ...dropped },
      };
    },
  };
  return hub;
}
