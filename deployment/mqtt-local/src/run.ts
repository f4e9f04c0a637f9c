/**
 * `npm run start:mqtt`: the suite on Mosquitto instead of the local edge hub, with replicas, the way
 * the Kubernetes manifests run it (the MQTT 5 transport, configuration files, shared subscriptions,
 * a leader-leased watcher). Options are parsed here; the work is done by suite.ts.
 */
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { generateSamples, isIdle, watcherCounts } from '@edgeml/runtime';
import { EdgeMLError, sleep, type Logger } from '@edgeml/shared';
import { startMqttSuite, type MqttSuite } from './suite.js';

export const START_MQTT_USAGE = `usage: npm run start:mqtt -- [options]
  --workdir DIR        work folder (default .edge-mqtt); DIR/data is the shared volume
  --transformers N     transformer replicas (default 2)
  --inferencers N      inferencer replicas (default 2)
  --until-idle         process the inbox, print a JSON summary, exit 0 when every file is accounted for
  --no-demo            no sample data in an empty inbox
  --timeout-s N        with --until-idle: give up after N seconds (default 900)`;

export interface StartMqttArgs {
  readonly workDir: string;
  readonly transformers: number;
  readonly inferencers: number;
  readonly untilIdle: boolean;
  readonly demo: boolean;
  readonly timeoutMs: number;
}

/** @throws EdgeMLError CONFIG_INVALID with the usage */
export function parseStartMqttArgs(argv: readonly string[], cwd: string): StartMqttArgs {
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({
      args: [...argv],
      options: {
        workdir: { type: 'string' },
        transformers: { type: 'string' },
        inferencers: { type: 'string' },
        'until-idle': { type: 'boolean' },
        'no-demo': { type: 'boolean' },
        'timeout-s': { type: 'string' },
      },
      strict: true,
    }).values;
  } catch (err: unknown) {
    throw new EdgeMLError('CONFIG_INVALID', `${(err as Error).message}\n${START_MQTT_USAGE}`);
  }
  const count = (name: string, fallback: number, max: number): number => {
    const raw = values[name];
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 1 || n > max) throw new EdgeMLError('CONFIG_INVALID', `--${name} must be an integer from 1 to ${max}\n${START_MQTT_USAGE}`);
    return n;
  };
  return {
    workDir: path.resolve(cwd, typeof values['workdir'] === 'string' ? values['workdir'] : '.edge-mqtt'),
    transformers: count('transformers', 2, 16),
    inferencers: count('inferencers', 2, 16),
    untilIdle: values['until-idle'] === true,
    demo: values['no-demo'] !== true,
    timeoutMs: count('timeout-s', 900, 86_400) * 1000,
  };
}

/** The local MQTT 5 configuration: the directory sink (the cloud-ingest volume on Kubernetes) instead of blob storage. */
export const LOCAL_MQTT_CONFIG = { uploader: { sink: 'directory', directory: { path: 'ingest' } } } as const;

/** Polls the watcher until idle; resolves with its last status. @throws EdgeMLError TIMEOUT */
export async function waitUntilIdle(suite: MqttSuite, timeoutMs: number, signal?: AbortSignal): Promise<Record<string, unknown>> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const answer = await suite.operator.invoke('watcher', 'getStatus', null, { timeoutMs: 10_000 }).catch(() => undefined);
    if (answer?.status === 200 && isIdle(answer.payload)) return answer.payload as Record<string, unknown>;
    if (Date.now() > until) throw new EdgeMLError('TIMEOUT', `not idle within ${timeoutMs} ms: ${JSON.stringify(watcherCounts(answer?.payload) ?? null)}`);
    await sleep(1_000, signal);
  }
}

export async function runStartMqtt(args: StartMqttArgs, repoRoot: string, logger: Logger, signal: AbortSignal): Promise<{ exitCode: number; summary?: Record<string, unknown> }> {
  const started = Date.now();
  const suite = await startMqttSuite({
    repoRoot,
    workDir: args.workDir,
    replicas: { transformer: args.transformers, inferencer: args.inferencers },
    config: LOCAL_MQTT_CONFIG,
    logger,
  });
  try {
    if (args.demo && (await readdir(suite.paths.inbox)).filter((n) => !n.startsWith('.')).length === 0) {
      const samples = await generateSamples(suite.paths.inbox);
      logger.info({ images: samples.images.length, tables: samples.tables.length }, 'inbox was empty: generated sample data');
    }
    logger.info({ broker: `mqtts://${suite.broker.host}:${suite.broker.port}`, inbox: suite.paths.inbox, logs: path.join(suite.workDir, 'logs') }, 'running on MQTT 5 (Ctrl-C stops)');
    if (!args.untilIdle) {
      await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
      return { exitCode: 0 };
    }
    const status = await waitUntilIdle(suite, args.timeoutMs, signal);
    const counts = watcherCounts(status);
    const summary = { elapsedMs: Date.now() - started, watcher: counts, replicas: suite.states().map((s) => ({ name: s.name, restarts: s.restarts, state: s.state })) };
    return { exitCode: counts !== undefined && counts.deadLettered === 0 ? 0 : 1, summary };
  } finally {
    await suite.stop();
  }
}
