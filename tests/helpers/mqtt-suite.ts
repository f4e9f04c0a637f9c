/**
 * Helpers for runs of the suite on Mosquitto (tests/e2e/mqtt5-*.test.ts, bench/mqtt5.ts): start it on
 * a fresh folder, drop images, and a wire spy that counts every module output by (source id, part)
 * so duplicates are seen, not guessed.
 */
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { renderTextImage } from '@edgeml/runtime';
import { sleep, type Mqtt5Connection } from '@edgeml/shared';
import { LOCAL_MQTT_CONFIG, startMqttSuite, type MqttSuite, type MqttSuiteOptions } from '@edgeml/mqtt-local';
import { quietLogger, repoRoot } from './suite.js';

export interface MqttSuiteHandle {
  readonly suite: MqttSuite;
  close(): Promise<void>;
}

/** Starts the suite on Mosquitto in a fresh temp folder (kept with EDGEML_KEEP_WORKDIR). */
export async function startMqttTestSuite(prefix: string, options: Omit<MqttSuiteOptions, 'repoRoot' | 'workDir' | 'logger'> = {}): Promise<MqttSuiteHandle> {
  const workDir = await mkdtemp(path.join(tmpdir(), prefix));
  const suite = await startMqttSuite({
    repoRoot,
    workDir,
    logger: quietLogger,
    ...options,
    config: { ...LOCAL_MQTT_CONFIG, ...(options.config ?? {}) },
  });
  let closed: Promise<void> | undefined;
  return {
    suite,
    close() {
      closed ??= (async () => {
        await suite.stop();
        if (process.env['EDGEML_KEEP_WORKDIR'] === undefined) await rm(workDir, { recursive: true, force: true });
        else process.stdout.write(`      work folder kept: ${workDir}\n`);
      })();
      return closed;
    },
  };
}

/** Drops `count` distinct text images into the inbox (written beside it, renamed in). Returns their names. */
export async function dropImages(suite: MqttSuite, count: number, prefix = 'img'): Promise<string[]> {
  const names: string[] = [];
  for (let i = 0; i < count; i++) {
    const name = `${prefix}-${String(i).padStart(4, '0')}.png`;
    // The number first: text that runs past the image's right edge would make two images identical.
    const png = await renderTextImage(`${i} ${Date.now() % 100000} ${prefix}`, { width: 320, height: 56, rotate180: i % 3 === 0 });
    const tmp = path.join(suite.paths.share, `.${name}.partial`);
    await writeFile(tmp, png);
    await rename(tmp, path.join(suite.paths.inbox, name));
    names.push(name);
  }
  return names;
}

export interface WireSpy {
  /** Messages seen per topic. */
  readonly byTopic: Map<string, number>;
  /** (topic, source id, part[, completion outcome]) → times seen: more than one is a duplicate. */
  readonly byPart: Map<string, number>;
  /** Parts produced more than once (transformer tensors and artifacts, inferencer results): the work done twice. */
  duplicates(): { key: string; times: number }[];
  /** Files the watcher offered more than once (a deferral's re-offer or a completion timeout): protocol, not work done twice. */
  reoffers(): number;
  /** Source ids of those files. */
  reofferedIds(): Set<string>;
  close(): Promise<void>;
}

const PROCESSING = /^edgeml\/(transformer\/outputs\/(tensors|artifacts)|inferencer\/outputs\/results) /;

/** Subscribes (not shared) to every module output and counts what flows. */
export async function spyOnOutputs(suite: MqttSuite): Promise<WireSpy> {
  const connection: Mqtt5Connection = await suite.connect(`spy-${process.pid}`, { cleanStart: true });
  const byTopic = new Map<string, number>();
  const byPart = new Map<string, number>();
  connection.onMessage((m) => {
    byTopic.set(m.topic, (byTopic.get(m.topic) ?? 0) + 1);
    try {
      const body = JSON.parse(m.payload.toString('utf8')) as { id?: string; part?: string; outcome?: string; source?: { id?: string }; chain?: { step?: string; index?: number } };
      const id = body.source?.id ?? body.id;
      // A completion's outcome is part of its identity: `held` then `uploaded` for one part is the protocol, not a duplicate.
      // So are a chain crop's step and index: an inference chain sends one tensor per crop and step under the chain's part.
      const crop = typeof body.chain === 'object' && body.chain !== null ? ` ${body.chain.step ?? ''}:${body.chain.index ?? ''}` : '';
      const key = `${m.topic} ${id ?? '?'} ${body.part ?? ''}${crop}${body.outcome === undefined ? '' : ` ${body.outcome}`}`;
      byPart.set(key, (byPart.get(key) ?? 0) + 1);
    } catch {
      // Not JSON: counted by topic only.
    }
    return Promise.resolve();
  });
  await connection.subscribe(['edgeml/+/outputs/+']);
  return {
    byTopic,
    byPart,
    duplicates: () => [...byPart].filter(([key, n]) => n > 1 && PROCESSING.test(key)).map(([key, times]) => ({ key, times })),
    reoffers: () => [...byPart].filter(([key, n]) => n > 1 && key.startsWith('edgeml/watcher/outputs/files ')).reduce((sum, [, n]) => sum + n - 1, 0),
    reofferedIds: () => new Set([...byPart].filter(([key, n]) => n > 1 && key.startsWith('edgeml/watcher/outputs/files ')).map(([key]) => key.split(' ')[1] ?? '')),
    close: () => connection.close(),
  };
}

export async function waitUntil<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number, everyMs = 1_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}
