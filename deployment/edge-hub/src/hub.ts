/**
 * The local edge hub: an aedes MQTT broker over TLS that behaves like edgeHub towards the unmodified
 * azure-iot-device ModuleClient. Facts: docs/reference/edgehub-protocol.md and moduleclient-wire-notes.md.
 *
 * This file only wires the parts:
 *   broker.ts          aedes on a TLS server; session-hooks.ts decides every MQTT event
 *   auth.ts            CONNECT authentication (SAS, identities)
 *   connections.ts     module ↔ connection, session features, writes to one connection
 *   event-intake.ts    output events: decode, route, persist before PUBACK, `$upstream`
 *   forward-queue.ts   store-and-forward queues and their byte limit (store.ts: SQLite)
 *   input-delivery.ts  delivery to module inputs, acknowledgements, redelivery, expiry
 *   upstream.ts        the `$upstream` journal and its listeners
 *   twin-service.ts    twins: seed, GET, reported, desired patches
 *   direct-methods.ts  direct method invocations
 */
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createRepeatLimiter, EdgeMLError, errorMessage, startOpsServer, type Logger, type OpsServer } from '@edgeml/shared';
import { startBroker, type Broker, type BrokerHooks } from './broker.js';
import { ensureTlsMaterial, type TlsMaterial } from './certs.js';
import { ModuleConnections } from './connections.js';
import { HubCounters } from './counters.js';
import { DirectMethods } from './direct-methods.js';
import { EventIntake } from './event-intake.js';
import { ForwardQueue } from './forward-queue.js';
import { EDGE_HUB_DEFAULTS, type EdgeHub, type EdgeHubOptions } from './hub-api.js';
import { ensureIdentities, moduleConnectionString, writeCredentialFile, type IdentityFile } from './identities.js';
import { InputDelivery } from './input-delivery.js';
import { InputStallGuard } from './input-stall.js';
import { readManifest } from './manifest.js';
import { createHubMetrics, type HubMetrics } from './metrics.js';
import { compileRoutes, isRouteError, type CompiledRouteTable } from './routes/index.js';
import { hmacSha256Base64 } from './sas.js';
import { createSessionHooks } from './session-hooks.js';
import { openHubStore, type HubStore } from './store.js';
import { TwinService } from './twin-service.js';
import { UpstreamJournal } from './upstream.js';

export { EDGE_HUB_DEFAULTS, type EdgeHub, type EdgeHubOptions, type EdgeHubStats } from './hub-api.js';
export type { InjectedMessage } from './event-intake.js';
export type { UpstreamRecord } from './upstream.js';

function compile(edgeHubDesired: unknown): CompiledRouteTable {
  try {
    return compileRoutes(edgeHubDesired);
  } catch (err: unknown) {
    const problems = isRouteError(err) && 'problems' in err ? (err as { problems: unknown }).problems : undefined;
    throw new EdgeMLError('ROUTE_COMPILE_ERROR', `$edgeHub routes rejected: ${errorMessage(err)}`, { cause: err, details: { problems } });
  }
}

/** Runs `fn`, turning a throw into a rejected promise (the facade's async members never throw). */
function settle<T>(fn: () => T): Promise<T> {
  try {
    return Promise.resolve(fn());
  } catch (err: unknown) {
    return Promise.reject(err instanceof Error ? err : new Error(String(err)));
  }
}

/** Whether the hub still takes work: `stopping` once stop() began, `storeClosed` once the store is closed. */
interface HubState {
  stopping: Promise<void> | undefined;
  storeClosed: boolean;
  broker: Broker | undefined;
}

interface HubParts {
  readonly logger: Logger;
  readonly workDir: string;
  readonly deviceId: string;
  readonly iotHubHostName: string;
  readonly host: string;
  readonly moduleIds: readonly string[];
  readonly known: ReadonlySet<string>;
  readonly routes: CompiledRouteTable;
  readonly tls: TlsMaterial;
  readonly ids: IdentityFile;
  readonly store: HubStore;
  readonly state: HubState;
  readonly metrics: HubMetrics;
  readonly queue: ForwardQueue;
  readonly counters: HubCounters;
  readonly connections: ModuleConnections;
  readonly twins: TwinService;
  readonly methods: DirectMethods;
  readonly journal: UpstreamJournal;
  readonly delivery: InputDelivery;
  readonly intake: EventIntake;
  readonly hooks: BrokerHooks;
  readonly inputStall: InputStallGuard;
}

/** Builds every part from the options and wires them together. */
async function buildParts(options: EdgeHubOptions): Promise<HubParts> {
  const logger = options.logger;
  const now = options.now ?? Date.now;
  const deviceId = options.deviceId ?? EDGE_HUB_DEFAULTS.deviceId;
  const iotHubHostName = options.iotHubHostName ?? EDGE_HUB_DEFAULTS.iotHubHostName;
  const host = options.host ?? EDGE_HUB_DEFAULTS.host;
  const workDir = resolve(options.workDir);
  const manifest = readManifest(options.manifest);
  const routes = compile(manifest.edgeHubDesired);
  for (const w of routes.warnings) logger.warn({ warning: w }, `route warning: ${w.message}`);
  const moduleIds = [...(options.moduleIds ?? manifest.agentModules)];
  const known = new Set(moduleIds);
  for (const r of routes.routes) {
    if (r.sink.kind === 'module' && !known.has(r.sink.moduleId)) logger.warn({ route: r.name, moduleId: r.sink.moduleId }, 'route delivers to a module the hub does not know; its messages will wait until they expire');
  }

  mkdirSync(workDir, { recursive: true, mode: 0o700 });
  const tls = await ensureTlsMaterial(workDir, host === '0.0.0.0' || host === '::' ? [] : [host]);
  const ids = await ensureIdentities(workDir, deviceId, iotHubHostName, moduleIds);
  const store = openHubStore(workDir);

  const state: HubState = { stopping: undefined, storeClosed: false, broker: undefined };
  const storeOpen = (): boolean => !state.storeClosed;
  const accepting = (): boolean => state.stopping === undefined && !state.storeClosed;
  const label = (m: string): string => `${deviceId}/${m}`;
  const shouldLog = createRepeatLimiter();
  const warnOnce = (key: string, fields: Record<string, unknown>, msg: string): void => {
    const r = shouldLog(key);
    if (r.log) logger.warn({ ...fields, suppressed: r.suppressed }, msg);
  };

  const maxInFlightPerInput = options.maxInFlightPerInput ?? EDGE_HUB_DEFAULTS.maxInFlightPerInput;
  if (!Number.isInteger(maxInFlightPerInput) || maxInFlightPerInput < 1) throw new EdgeMLError('CONFIG_INVALID', `maxInFlightPerInput must be an integer ≥ 1 (got ${maxInFlightPerInput})`);
  // Delivery starts from the commit; the queue is built first, so it reaches delivery through this holder.
  const wired: { delivery?: InputDelivery } = {};
  const queue = new ForwardQueue(store, routes.storeAndForward?.storeLimits?.maxSizeBytes, (stored) => wired.delivery?.committed(stored));
  const metrics = createHubMetrics({ iothub: iotHubHostName, edgeDevice: deviceId }, () => (state.storeClosed ? [] : queue.queues()));
  const counters = new HubCounters(metrics);
  const connections = new ModuleConnections({ store, moduleIds, metrics, logger, label, now });
  const twins = new TwinService({ store, connections, metrics, logger, known, label, warnOnce, isOpen: storeOpen });
  for (const m of moduleIds) twins.seed(m, manifest.moduleDesired(m));
  const methods = new DirectMethods({ connections, metrics, label, now, warnOnce });
  const journal = new UpstreamJournal(join(workDir, 'upstream.jsonl'), logger);
  const delivery = new InputDelivery({
    queue,
    connections,
    metrics,
    counters,
    deviceId,
    label,
    now,
    ackTimeoutMs: options.messageAckTimeoutMs ?? EDGE_HUB_DEFAULTS.messageAckTimeoutMs,
    maxInFlightPerInput,
    nextBrokerCounter: () => state.broker?.nextBrokerCounter(),
    warnOnce,
    accepting,
    storeOpen,
  });
  wired.delivery = delivery;
  const inputStall = new InputStallGuard({
    connections,
    endpointsWithMessages: () => queue.endpoints(),
    moduleIds,
    metrics,
    logger,
    label,
    now,
    waitMs: options.inputStallCloseMs ?? EDGE_HUB_DEFAULTS.inputStallCloseMs,
    maxWaitMs: Math.max(options.inputStallCloseMs ?? 0, EDGE_HUB_DEFAULTS.inputStallMaxWaitMs),
  });
  const intake = new EventIntake({ routes, queue, journal, counters, metrics, logger, label, now, warnOnce, maxMessageBytes: EDGE_HUB_DEFAULTS.maxMessageBytes });
  const policy = { deviceId, known, identities: ids, hostNames: [iotHubHostName, 'localhost', host] };
  const hooks = createSessionHooks({ policy, connections, intake, delivery, twins, methods, metrics, label, now, warnOnce, storeOpen });
  return { logger, workDir, deviceId, iotHubHostName, host, moduleIds, known, routes, tls, ids, store, state, metrics, queue, counters, connections, twins, methods, journal, delivery, intake, hooks, inputStall };
}

/**
 * Builds the hub: validates the manifest and compiles its routes, prepares the work folder (CA and server
 * certificate, module keys, SQLite state, twins seeded from the manifest). `start()` listens.
 * @throws EdgeMLError ROUTE_COMPILE_ERROR (message names the route and the position), CONFIG_INVALID, STATE_CORRUPT
 */
export async function createEdgeHub(options: EdgeHubOptions): Promise<EdgeHub> {
  const p = await buildParts(options);
  const { state, logger } = p;
  let port = options.port ?? EDGE_HUB_DEFAULTS.port;
  let metricsPort: number | undefined;
  let ops: OpsServer | undefined;
  let sweepTimer: NodeJS.Timeout | undefined;
  let started = false;

  const moduleEnv = (moduleId: string): Record<string, string> => {
    if (!p.known.has(moduleId)) throw new EdgeMLError('CONFIG_INVALID', `module ${moduleId} is not known to the hub`);
    if (port === 0) throw new EdgeMLError('CONFIG_INVALID', 'the hub has an ephemeral port: call start() before moduleEnv()');
    return { EdgeHubConnectionString: moduleConnectionString(p.ids, moduleId, `localhost:${port}`), EdgeModuleCACertificateFile: p.tls.caCertificateFile };
  };

  return {
    get port() {
      return port;
    },
    get gatewayHostName() {
      return `localhost:${port}`;
    },
    caCertificateFile: p.tls.caCertificateFile,
    get metricsPort() {
      return metricsPort;
    },
    deviceId: p.deviceId,
    iotHubHostName: p.iotHubHostName,
    moduleIds: Object.freeze([...p.moduleIds]),
    routes: p.routes,
    upstreamJournalFile: p.journal.file,

    async start() {
      if (started) return;
      if (state.stopping !== undefined) throw new EdgeMLError('INTERNAL', 'a stopped hub cannot be started again; create a new one on the same workDir');
      started = true;
      state.broker = await startBroker({ tls: p.tls, port, host: p.host, logger, hooks: p.hooks });
      port = state.broker.port;
      for (const m of p.moduleIds) await writeCredentialFile(p.workDir, m, moduleEnv(m));
      if (options.metricsPort !== undefined) {
        const ready = (): { ready: boolean; reasons: string[] } => ({ ready: state.stopping === undefined, reasons: state.stopping === undefined ? [] : ['stopping'] });
        ops = await startOpsServer({ registry: p.metrics.registry, logger, port: options.metricsPort, host: p.host, health: { live: () => true, ready } });
        metricsPort = ops.port;
      }
      sweepTimer = setInterval(() => {
        p.delivery.sweep();
        if (p.state.stopping === undefined) p.inputStall.check();
      }, EDGE_HUB_DEFAULTS.sweepIntervalMs);
      sweepTimer.unref();
      logger.info({ port, host: p.host, deviceId: p.deviceId, modules: p.moduleIds, routes: p.routes.routes.length, metricsPort, workDir: p.workDir }, 'edge hub listening');
    },

    stop() {
      state.stopping ??= (async () => {
        if (sweepTimer !== undefined) clearInterval(sweepTimer);
        p.methods.cancelAll();
        await state.broker?.close();
        await ops?.close();
        p.delivery.clear();
        p.connections.clear();
        // What was accepted this turn is committed; the journal's last lines are written.
        p.queue.close();
        await p.journal.close();
        state.storeClosed = true;
        p.store.close();
        if (started) logger.info('edge hub stopped');
      })();
      return state.stopping;
    },

    moduleEnv,

    sign(moduleId, _generationId, keyId, dataBase64) {
      const keys = p.ids.modules[moduleId];
      if (keys === undefined) throw new EdgeMLError('UNAUTHORIZED', `module ${moduleId} is not known to the hub`);
      const key = keyId === 'secondary' ? keys.secondaryKey : keyId === 'primary' ? keys.primaryKey : undefined;
      if (key === undefined) throw new EdgeMLError('UNAUTHORIZED', `unknown keyId ${keyId}`);
      return hmacSha256Base64(key, Buffer.from(dataBase64, 'base64'));
    },

    getTwin: (moduleId) => structuredClone(p.twins.document(moduleId)),
    patchDesired: (moduleId, patch) => settle(() => p.twins.patchDesired(moduleId, patch)),
    invokeMethod: (moduleId, methodName, payload, invokeOptions = {}) =>
      p.methods.invoke(moduleId, methodName, payload, invokeOptions.responseTimeoutMs ?? EDGE_HUB_DEFAULTS.methodResponseTimeoutMs),

    async injectInput(moduleId, inputName, message) {
      if (state.storeClosed) throw new EdgeMLError('INTERNAL', 'the edge hub is stopped');
      if (!p.known.has(moduleId)) throw new EdgeMLError('CONFIG_INVALID', `module ${moduleId} is not known to the hub`);
      await p.intake.inject(moduleId, inputName, message);
    },

    onUpstream: (listener) => p.journal.listen(listener),

    stats: () => ({
      connected: p.connections.connectedIds(),
      queues: state.storeClosed ? [] : p.queue.queues(),
      received: p.counters.received,
      sent: p.counters.sent,
      dropped: p.counters.dropped(),
    }),
  };
}
