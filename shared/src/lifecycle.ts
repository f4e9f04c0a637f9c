import type { AnySchema } from 'ajv';
import type { Registry } from 'prom-client';
import { createTwinConfigBinder, type ConfigReport, type TwinConfigBinder } from './config/binder.js';
import { connectEdgeClient, selectedTransport } from './edge/connect.js';
import type { EdgeClient } from './edge/types.js';
import { EdgeMLError, errorMessage } from './errors.js';
import { leaseFromEnvironment } from './lease/from-env.js';
import { createLogger, type Logger } from './logging.js';
import { EMPTY_PAYLOAD_SCHEMA, jsonMethod } from './methods.js';
import { createMetricsRegistry, DEFAULT_METRICS_PORT, startOpsServer, type OpsServer } from './metrics.js';
import { DEFAULT_DATA_ROOT, dataPaths, type DataPaths } from './paths.js';

/** What a module's app exposes to the shared runtime. Built by `createXApp(deps)` in app.ts. */
export interface ModuleApp<C> {
  /** Applies a validated configuration; called before start() and on every accepted twin change. Throw to reject. */
  configure(config: C, previous: C | undefined): Promise<void>;
  /** Registers input handlers and starts work. */
  start(): Promise<void>;
  /** Stops intake, drains until `signal` aborts (the deadline), releases everything. Idempotent. */
  stop(signal: AbortSignal): Promise<void>;
  /** Snapshot for `getStatus` and the `status` reported property. Small and JSON-safe. */
  status(): Record<string, unknown>;
  /** Readiness beyond "connected and configured" (e.g. model loaded). */
  ready(): { ready: boolean; reasons: string[] };
}

export interface ModuleDeps {
  readonly edge: EdgeClient;
  readonly logger: Logger;
  readonly registry: Registry;
  readonly paths: DataPaths;
  /** Environment variables (secrets come from here, never from the twin). */
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly now: () => Date;
}

export interface ModuleDefinition<C> {
  readonly name: string;
  /** Desired-properties JSON Schema with defaults and `additionalProperties: false`. */
  readonly configSchema: AnySchema;
  readonly buildConfig?: (validated: Record<string, unknown>) => { config: C } | { problems: string[] };
  readonly createApp: (deps: ModuleDeps) => ModuleApp<C> | Promise<ModuleApp<C>>;
}

export interface RunOptions {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly argv: readonly string[];
  /**
   * Opens the connection to edgeHub (the real adapter in production). Used when
   * `EDGEML_EDGE_TRANSPORT` is `edgehub` (the default); `mqtt5` connects to an MQTT 5 broker instead
   * (edge/connect.ts), whatever is passed here.
   */
  readonly connect: (logger: Logger, env: Readonly<Record<string, string | undefined>>) => Promise<EdgeClient>;
  /**
   * Called when the module cannot go on and must be restarted (its leader lease was lost); the entry
   * point exits non-zero so the container runtime restarts it as a standby. Without it the module
   * stops and stays stopped.
   */
  readonly onFatal?: (err: Error) => void;
  /** How long stop() may take before the process exits anyway. Default 20 000 ms (edgeAgent waits 30 s). */
  readonly stopDeadlineMs?: number;
  /** How long to wait for the twin at start before running on defaults. Default 15 000 ms. */
  readonly twinWaitMs?: number;
}

export interface RunningModule {
  readonly logger: Logger;
  readonly binder: TwinConfigBinder<unknown>;
  readonly ops: OpsServer;
  stop(reason: string): Promise<void>;
}

/**
 * Wires a module: environment → logger → metrics/health → edge client → twin config → app.
 * Only entry points (main.ts) call this; it never exits the process itself, `installProcessHandlers` does.
 *
 * Environment: EDGEML_DATA_ROOT (default /data), EDGEML_METRICS_PORT (default 9600),
 * EDGEML_LOG_LEVEL (default info), EDGEML_EDGE_TRANSPORT (edgehub | mqtt5, edge/connect.ts),
 * EDGEML_LEADER_LEASE (none | file | kubernetes, lease/from-env.ts: a singleton waits as a standby until it
 * holds the lease, before it connects or starts).
 */
export async function runModule<C>(definition: ModuleDefinition<C>, options: RunOptions): Promise<RunningModule> {
  const env = options.env;
  const logger = createLogger({ name: definition.name, level: env['EDGEML_LOG_LEVEL'] ?? 'info' });
  const registry = createMetricsRegistry(definition.name);
  const paths = dataPaths(env['EDGEML_DATA_ROOT'] ?? DEFAULT_DATA_ROOT);
  let connected = false;
  let configured = false;
  // Set once the app exists; the readiness probe may run before that.
  const holder: { app?: ModuleApp<C> } = {};

  const ops = await startOpsServer({
    registry,
    logger,
    port: Number(env['EDGEML_METRICS_PORT'] ?? DEFAULT_METRICS_PORT),
    health: {
      live: () => true,
      ready: () => {
        const reasons: string[] = [];
        if (!connected) reasons.push('not connected to edgeHub');
        if (!configured) reasons.push('no configuration applied yet');
        if (holder.app !== undefined) reasons.push(...holder.app.ready().reasons);
        return { ready: reasons.length === 0, reasons };
      },
    },
  });
  logger.info({ port: ops.port, dataRoot: paths.root }, 'starting');

  const lease = await leaseFromEnvironment(definition.name, env, paths, logger);
  if (lease !== undefined) {
    // Before connecting: a standby must not take the leader's MQTT session (same client id) or its inputs.
    await lease.acquire();
    logger.info({ identity: lease.identity }, 'leader lease held; starting');
  }
  const edgeLogger = logger.child({ component: 'edge-client' });
  const edge = selectedTransport(env) === 'mqtt5' ? await connectEdgeClient(edgeLogger, env, definition.name) : await options.connect(edgeLogger, env);
  edge.onConnectionChange((s) => {
    connected = s.connected;
    logger.info({ connected: s.connected, reason: s.reason }, s.connected ? 'connected to edgeHub' : 'disconnected from edgeHub');
  });
  const theApp = await definition.createApp({ edge, logger, registry, paths, env, now: () => new Date() });
  holder.app = theApp;

  const binder = createTwinConfigBinder<C>({
    schema: definition.configSchema,
    ...(definition.buildConfig === undefined ? {} : { build: definition.buildConfig }),
    apply: async (cfg, prev) => {
      await theApp.configure(cfg, prev);
      configured = true;
    },
    report: (patch) => edge.updateReported(patch),
    logger: logger.child({ component: 'config' }),
  });

  let firstConfig: ((r: ConfigReport) => void) | undefined;
  const firstConfigDone = new Promise<ConfigReport>((resolve) => (firstConfig = resolve));
  edge.onDesired((update) => {
    binder.handle(update).then(
      (report) => firstConfig?.(report),
      (err: unknown) => logger.error({ err }, 'desired update handling failed'),
    );
  });
  edge.onMethod('getStatus', jsonMethod({ schema: EMPTY_PAYLOAD_SCHEMA, logger, handler: () => Promise.resolve(statusSnapshot()) }));

  const statusSnapshot = (): Record<string, unknown> => ({
    module: definition.name,
    connected,
    config: binder.lastReport() ?? null,
    ...theApp.status(),
  });

  const stopController = new AbortController();
  await edge.open(stopController.signal);
  connected = true;

  const twinWaitMs = options.twinWaitMs ?? 15_000;
  const timer = new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), twinWaitMs).unref());
  const first = await Promise.race([firstConfigDone, timer]);
  if (first === undefined || binder.current() === undefined) {
    // No twin or a rejected one at start: run on the schema defaults, and say so.
    logger.warn({ firstOutcome: first?.status ?? 'no twin received' }, 'starting with default configuration');
    const defaults = binder.validate({});
    if ('problems' in defaults) throw new Error(`module defaults are invalid: ${defaults.problems.join('; ')}`);
    await theApp.configure(defaults.config, undefined);
    configured = true;
  }
  await theApp.start();
  logger.info('started');

  let stopping: Promise<void> | undefined;
  const stop = (reason: string): Promise<void> => {
    stopping ??= (async () => {
      logger.info({ reason }, 'stopping');
      const deadline = AbortSignal.timeout(options.stopDeadlineMs ?? 20_000);
      stopController.abort();
      try {
        await theApp.stop(deadline);
      } catch (err: unknown) {
        logger.error({ err }, `app stop failed: ${errorMessage(err)}`);
      }
      await edge.close().catch((err: unknown) => logger.warn({ err }, 'edge client close failed'));
      await lease?.release();
      await ops.close();
      logger.info('stopped');
    })();
    return stopping;
  };
  lease?.onLost((reason) => {
    const err = new EdgeMLError('LEASE_LOST', `leader lease lost (${reason}); stopping so that only the new leader works`);
    logger.error({ err }, err.message);
    void stop('leader lease lost').finally(() => options.onFatal?.(err));
  });
  return { logger, binder: binder as TwinConfigBinder<unknown>, ops, stop };
}

/**
 * Entry-point glue: SIGTERM/SIGINT → graceful stop then exit 0; unhandled rejections and uncaught
 * exceptions → logged at fatal and exit 1, so edgeAgent restarts the container. Returns that fatal
 * exit, for `RunOptions.onFatal`.
 */
export function installProcessHandlers(proc: NodeJS.Process, getRunning: () => RunningModule | undefined, fallbackLogger: Logger): (err: Error) => void {
  const fatal = (err: unknown, origin: string): void => {
    const logger = getRunning()?.logger ?? fallbackLogger;
    logger.fatal({ err, origin }, `fatal: ${errorMessage(err)}`);
    proc.exit(1);
  };
  proc.on('uncaughtException', (err) => fatal(err, 'uncaughtException'));
  proc.on('unhandledRejection', (err) => fatal(err, 'unhandledRejection'));
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    proc.once(signal, () => {
      const running = getRunning();
      if (running === undefined) proc.exit(0);
      else void running.stop(signal).finally(() => proc.exit(0));
    });
  }
  return (err: Error) => fatal(err, 'module');
}

export { DEFAULT_METRICS_PORT };

/**
 * `--self-check`: everything the module needs has been imported (native addons loaded) and its
 * default configuration validates. Used by the container-build rehearsal and the HEALTHCHECK-less
 * smoke test of an image. Returns the problems (empty when fine).
 */
export function selfCheck<C>(definition: ModuleDefinition<C>, logger: Logger): string[] {
  const binder = createTwinConfigBinder<C>({
    schema: definition.configSchema,
    ...(definition.buildConfig === undefined ? {} : { build: definition.buildConfig }),
    apply: () => Promise.resolve(),
    report: () => Promise.resolve(),
    logger,
  });
  const r = binder.validate({});
  return 'problems' in r ? r.problems : [];
}
