/**
 * The model loop on one machine (`npm run loop`): files in → data uploaded → a trainer writes a new
 * model package → `edgeml model push` to a local registry → a ModelRegistered event through the
 * function's handler patches the inferencer twin by digest (a shadow rollout) → the candidate is
 * compared on live traffic and promoted → later results come from it. Every step is real: the local
 * edge runtime with the modules as processes, Azurite, the CNCF distribution registry, and (default,
 * `--model anomaly`) the repository's training component fitting the uploaded telemetry. What is
 * retrained, and how, is a subject (subjects.ts); `--trainer CMD` replaces its trainer.
 */
import { mkdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { BlobServiceClient } from '@azure/storage-blob';
import { runCli, startLocalRegistry, startLocalRuntime, type LocalRuntime } from '@edgeml/runtime';
import { EdgeMLError, sleep, type Logger } from '@edgeml/shared';
import { MODEL_REGISTERED_TYPE, parseModelRegistered } from '../model-registered/event.js';
import { handleModelRegistered } from '../model-registered/handler.js';
import { settingsFromEnv } from '../model-registered/settings.js';
import { localHubTarget } from '../model-registered/targets.js';
import { LOOP_SUBJECTS, runCommand, type LoopModel, type LoopSubject } from './subjects.js';

export interface LoopOptions {
  readonly repoRoot: string;
  readonly workDir: string;
  /** Files per phase (before, during the rollout, after). */
  readonly files: number;
  /** What is retrained: the telemetry anomaly model (default, the training component) or the classifier (stand-in). */
  readonly model?: LoopModel;
  /** A command run with EDGEML_LOOP_DATA (uploaded data) and EDGEML_LOOP_OUTPUT (write model.onnx + manifest.json there). */
  readonly trainer?: string;
  readonly logger: Logger;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** One line per step, for the person watching. */
  readonly say: (line: string) => void;
  readonly signal: AbortSignal;
}

export interface LoopSummary {
  /** The profile whose model was retrained. */
  readonly model: string;
  readonly uploadedBlobs: number;
  readonly trainedModel: { name: string; version: string };
  readonly artifact: string;
  readonly rollout: Record<string, unknown>;
  readonly resultsBefore: Record<string, number>;
  readonly resultsAfter: Record<string, number>;
  readonly ok: boolean;
}

/** The subject's results on $upstream for files whose name starts with `prefix`, counted by `model@version (digest)`. */
async function resultsBy(rt: LocalRuntime, subject: LoopSubject, prefix: string): Promise<Record<string, number>> {
  const text = await readFile(rt.hub.upstreamJournalFile, 'utf8').catch(() => '');
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const body = (JSON.parse(line) as { body?: { schema?: string; part?: string; source?: { path?: string }; model?: { name: string; version: string; digest?: string } } }).body;
    if (body?.schema !== 'edgeml.inference.result/v1' || !subject.isResultPart(body.part ?? '') || !path.posix.basename(body.source?.path ?? '').startsWith(`${prefix}-`)) continue;
    const key = `${body.model?.name}@${body.model?.version} (${(body.model?.digest ?? '').slice(0, 19)}…)`;
    out[key] = (out[key] ?? 0) + 1;
  }
  return out;
}

async function downloadUploads(connectionString: string, dir: string): Promise<number> {
  const service = BlobServiceClient.fromConnectionString(connectionString);
  let n = 0;
  for await (const c of service.listContainers()) {
    for await (const b of service.getContainerClient(c.name).listBlobsFlat()) {
      const file = path.join(dir, c.name, ...b.name.split('/'));
      await mkdir(path.dirname(file), { recursive: true });
      await service.getContainerClient(c.name).getBlobClient(b.name).downloadToFile(file);
      n++;
    }
  }
  return n;
}

async function until(what: string, check: () => Promise<boolean> | boolean, timeoutMs: number, signal: AbortSignal): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new EdgeMLError('TIMEOUT', `${what}: not within ${timeoutMs / 1000} s`);
    await sleep(500, signal);
  }
}

/** The model package the trainer wrote: its name and version. */
async function train(o: LoopOptions, subject: LoopSubject, data: string, output: string, uploadedBlobs: number): Promise<{ name: string; version: string }> {
  await mkdir(output, { recursive: true });
  if (o.trainer !== undefined) await runCommand(o.trainer, [], { cwd: o.repoRoot, env: { ...o.env, EDGEML_LOOP_DATA: data, EDGEML_LOOP_OUTPUT: output }, signal: o.signal, shell: true });
  else await subject.train({ repoRoot: o.repoRoot, data, output, version: '2', uploadedBlobs, env: o.env, signal: o.signal });
  const { name, version } = JSON.parse(await readFile(path.join(output, 'manifest.json'), 'utf8')) as { name: string; version: string };
  return { name, version };
}

/** `edgeml model push` of the trained folder to the local registry; the pushed digest. */
async function push(o: LoopOptions, registryHost: string, output: string, trained: { name: string; version: string }): Promise<string> {
  let pushed = '';
  const code = await runCli(['model', 'push', output, '--registry', registryHost, '--repository', `edgeml/models/${trained.name}`, '--tag', trained.version, '--azureml-model', `${trained.name}:${trained.version}`, '--json'], {
    env: o.env,
    cwd: o.workDir,
    stdoutIsTty: false,
    write: (t) => (pushed += t),
    warn: (l) => o.say(l),
    signal: o.signal,
  });
  if (code !== 0) throw new EdgeMLError('INTERNAL', `edgeml model push exited ${code}`);
  return (JSON.parse(pushed) as { digest: string }).digest;
}

/** Runs the loop; stops everything it started. */
export async function runModelLoop(o: LoopOptions): Promise<LoopSummary> {
  const subject = LOOP_SUBJECTS[o.model ?? 'anomaly'];
  const profile = subject.profile;
  await rm(o.workDir, { recursive: true, force: true });
  const registry = await startLocalRegistry({ dir: path.join(o.workDir, 'registry') });
  let rt: LocalRuntime | undefined;
  try {
    o.say(`1. local registry (docker-registry) on ${registry.host}; starting the suite in ${o.workDir}`);
    rt = await startLocalRuntime({ repoRoot: o.repoRoot, workDir: path.join(o.workDir, 'edge'), demo: false, hubPort: 0, env: o.env, logger: o.logger });
    const runtime = rt;
    o.say(`2. files in: ${o.files} files for the ${profile} model into ${path.join(rt.paths.root, 'share', 'inbox')}`);
    await subject.drop(rt, 'before', 0, o.files);
    await rt.waitUntilIdle({ signal: o.signal });
    const resultsBefore = await resultsBy(rt, subject, 'before');
    const data = path.join(o.workDir, 'uploaded');
    const uploadedBlobs = rt.storageConnectionString === undefined ? 0 : await downloadUploads(rt.storageConnectionString, data);
    o.say(`3. data uploaded: ${uploadedBlobs} blobs (artifacts, datasets and result batches), copied to ${data}`);

    const output = path.join(o.workDir, 'trained');
    const trained = await train(o, subject, data, output, uploadedBlobs);
    o.say(`4. trained: ${trained.name}@${trained.version} in ${output} (${o.trainer === undefined ? subject.trainerNote : `--trainer ${o.trainer}`})`);
    const digest = await push(o, registry.host, output, trained);
    o.say(`5. edgeml model push → ${registry.host}/edgeml/models/${trained.name}@${digest}`);

    const event = { id: `loop-${Date.now()}`, topic: 'local', subject: `models/${trained.name}:${trained.version}`, eventType: MODEL_REGISTERED_TYPE, data: { modelName: trained.name, modelVersion: trained.version, modelTags: { oci_digest: digest, edgeml_profile: profile } } };
    const settings = settingsFromEnv({ EDGEML_REGISTRY_SERVER: registry.host, EDGEML_ROLLOUT_MODE: 'shadow', EDGEML_ROLLOUT_SETTINGS: JSON.stringify({ fraction: 1, minItems: subject.itemsPerPhase(o.files) }) });
    const outcome = await handleModelRegistered(parseModelRegistered(event), { settings, target: localHubTarget(rt.controlUrl), env: o.env, logger: o.logger });
    o.say(`6. ModelRegistered → twin patched: rollout.${profile} = shadow of ${outcome.artifact}`);

    const rollout = (): Record<string, unknown> => ((runtime.hub.getTwin('inferencer').reported['rollout'] as Record<string, Record<string, unknown>> | undefined)?.[profile]) ?? {};
    await until('the rollout starts', () => rollout()['state'] === 'shadow' || rollout()['state'] === 'promoted' || rollout()['state'] === 'rolledBack', 180_000, o.signal);
    await subject.drop(rt, 'during', 1, o.files);
    await until('the rollout decides', () => rollout()['state'] === 'promoted' || rollout()['state'] === 'rolledBack', 300_000, o.signal);
    const decided = rollout();
    o.say(`7. shadow rollout ${String(decided['state'])}: ${JSON.stringify(decided['figures'])}`);

    await subject.drop(rt, 'after', 2, o.files);
    await rt.waitUntilIdle({ signal: o.signal });
    const resultsAfter = await resultsBy(rt, subject, 'after');
    o.say(`8. ${profile} results before: ${JSON.stringify(resultsBefore)}; after: ${JSON.stringify(resultsAfter)}`);
    const promoted = decided['state'] === 'promoted';
    const fromCandidate = Object.keys(resultsAfter).every((k) => k.startsWith(`${trained.name}@${trained.version} (${digest.slice(0, 19)}`));
    return { model: profile, uploadedBlobs, trainedModel: trained, artifact: outcome.artifact, rollout: decided, resultsBefore, resultsAfter, ok: promoted && fromCandidate && Object.keys(resultsAfter).length > 0 };
  } finally {
    await rt?.stop();
    await registry.stop();
  }
}
