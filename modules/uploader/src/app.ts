import path from 'node:path';
import { EdgeMLError, type ModuleApp, type ModuleDeps } from '@edgeml/shared';
import { Acknowledger } from './acks.js';
import { UPLOADER_DEFAULTS, type UploaderConfig } from './config.js';
import { createLogOnce, MODULE_NAME, Settings, type PartAck, type ItemPayload, type UploaderContext } from './context.js';
import { DatasetWriter } from './datasets.js';
import { HardExampleQuota } from './hard-examples.js';
import { Intake } from './intake.js';
import { LeaseRenewer } from './leases.js';
import { UploaderMetrics } from './metrics.js';
import { registerMethods, waitIdle } from './methods.js';
import { OutboxSender } from './outbox.js';
import { Quarantine } from './quarantine.js';
import { DurableQueue } from './queue.js';
import { QueuePolicy } from './queue-policy.js';
import { SinkState, UPLOADER_ENV, type SinkFactory } from './sink-state.js';
import { UploaderStatus } from './status.js';
import { RateLimiter } from './throttle.js';
import { UploadLoop } from './upload-loop.js';

export interface UploaderAppOptions {
  /** Jitter source for backoff. Default Math.random. */
  readonly random?: () => number;
  /** Where the queue and quarantine live. Default `paths.state('uploader')`. */
  readonly stateDir?: string;
  /**
   * Builds the sink instead of blob-sink.ts / dir-sink.ts (tests use a scripted fake). Receives the
   * config and the shared bandwidth limiter.
   */
  readonly createSink?: SinkFactory;
}

export type UploaderApp = ModuleApp<UploaderConfig> & {
  /** Resolves once nothing is queued, in flight or waiting in the outbox, or after `timeoutMs`. */
  idle(timeoutMs: number): Promise<boolean>;
};

/**
 * The uploader application: durable queue → sink, acknowledged per part on `completed`. This is
 * the composition root: it builds the parts and wires them; each part's file says what it does.
 *
 *   intake.ts        input messages → queue (validation, replays, deferral), each part `held`
 *   leases.ts        renews the leases of the parts still queued
 *   queue-policy.ts  what a full quota means, when result lines become a batch
 *   sink-state.ts    the sink and whether it takes writes
 *   upload-loop.ts   picks, uploads, settles; quarantine.ts parks what is at fault
 *   datasets.ts      a results batch's AutoML image dataset lines and to-label hard examples
 *                    (dataset-lines.ts the line format, hard-examples.ts the flag and hourly quota)
 *   acks.ts, outbox.ts  every completion, durably, in order
 *   status.ts, metrics.ts, methods.ts  what the uploader says and the verbs it answers
 */
export function createUploaderApp(deps: ModuleDeps, options: UploaderAppOptions = {}): UploaderApp {
  const { edge, paths, env } = deps;
  const logger = deps.logger.child({ component: MODULE_NAME });
  const stateDir = options.stateDir ?? paths.state(MODULE_NAME);
  const settings = new Settings();
  const nowMs = (): number => deps.now().getTime();
  const queue = DurableQueue.open<ItemPayload, PartAck>({ file: path.join(stateDir, 'queue.sqlite'), classes: UPLOADER_DEFAULTS.classes, now: nowMs });
  const ctx: UploaderContext = {
    edge,
    logger,
    paths,
    now: deps.now,
    random: options.random ?? Math.random,
    deviceId: env[UPLOADER_ENV.deviceId] ?? edge.deviceId,
    moduleId: env[UPLOADER_ENV.moduleId] ?? edge.moduleId,
    queue,
    quarantineDir: path.join(stateDir, 'quarantine'),
    settings: () => settings.current(),
    nowMs,
    logOnce: createLogOnce(logger, nowMs),
  };

  const limiter = new RateLimiter(0);
  const metrics = new UploaderMetrics(deps.registry, queue, nowMs);
  const outbox = new OutboxSender(ctx);
  const acks = new Acknowledger(ctx, metrics, () => outbox.wake());
  // `report` is late-bound: status is built last, from the parts it reads.
  let report = (): void => undefined;
  const policy = new QueuePolicy(ctx, acks, metrics, () => report());
  const sink = new SinkState({
    ctx,
    env,
    limiter,
    ...(options.createSink === undefined ? {} : { factory: options.createSink }),
    onChange: () => {
      report();
      uploads.wake();
    },
  });
  const quarantine = new Quarantine(ctx, acks, metrics);
  const hardQuota = new HardExampleQuota(nowMs);
  const datasets = new DatasetWriter(ctx, hardQuota, () => sink.sink?.target);
  const uploads = new UploadLoop({ ctx, sink, policy, acks, metrics, quarantine, datasets });
  const leases = new LeaseRenewer(ctx, acks, metrics);
  const intake = new Intake({ ctx, acks, policy, leases, queued: () => uploads.wake(), hardQuota });
  const status = new UploaderStatus({
    ctx,
    metrics,
    sink,
    policy,
    inflight: () => uploads.inflight,
    leaseMs: () => leases.leaseMs,
    datasets: () => ({ ...datasets.counts, hardExamples: hardQuota.snapshot(settings.current().datasets.hardExamples.maxPerHour) }),
  });
  report = () => void status.report();

  const timers: NodeJS.Timeout[] = [];
  const idle = (timeoutMs: number): Promise<boolean> => waitIdle(queue, () => uploads.inflight, timeoutMs);
  let started = false;
  let stopped: Promise<void> | undefined;

  return {
    async configure(cfg: UploaderConfig): Promise<void> {
      settings.set(cfg);
      queue.setClasses(cfg.classes);
      limiter.setRate(cfg.bandwidthBytesPerSecond);
      if ((await sink.configure(cfg)) && started) void sink.check();
      uploads.wake();
    },

    async start(): Promise<void> {
      if (started) return;
      if (!settings.configured) throw new EdgeMLError('INTERNAL', 'uploader started before it was configured');
      started = true;
      edge.onInput('artifacts', intake.onArtifact);
      edge.onInput('results', intake.onResult);
      registerMethods(edge, logger, {
        queue,
        flushSoon: () => {
          policy.requestFlush();
          sink.recheckSoon();
        },
        recheckSink: async () => {
          if (sink.state === 'paused') await sink.check();
          return sink.state;
        },
        wakeUploads: () => uploads.wake(),
        idle,
      });
      status.start();
      uploads.start();
      leases.start();
      outbox.start();
      sink.start(true);
      const cfg = settings.current();
      timers.push(setInterval(report, cfg.statusReportIntervalMs));
      timers.push(setInterval(() => void sink.sweep().catch((err: unknown) => ctx.logOnce('sweep', 'warn', { err }, 'directory retention failed')), cfg.directory.sweepIntervalMs));
      for (const t of timers) t.unref();
      logger.info({ sink: cfg.sink, target: sink.sink?.target ?? null, deviceId: ctx.deviceId, backlog: queue.backlog() }, 'uploader started');
      report();
    },

    stop(signal: AbortSignal): Promise<void> {
      stopped ??= (async () => {
        for (const t of timers) clearInterval(t);
        intake.close();
        await leases.stop();
        await uploads.stop(signal);
        await outbox.stop();
        await sink.close();
        queue.close();
        logger.info({ totals: metrics.totals }, 'uploader stopped');
      })();
      return stopped;
    },

    status: () => (settings.configured ? status.snapshot() : { state: 'starting' }),
    ready: () => status.ready(),
    idle,
  };
}
