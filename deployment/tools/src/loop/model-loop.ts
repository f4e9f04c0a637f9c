/**
 * The model loop on one machine (`npm run loop`): files in → data uploaded → a trainer writes a new
 * model package → `edgeml model push` to a local registry → a ModelRegistered event through the
 * function's handler patches the inferencer twin by digest (a shadow rollout) → the candidate is
 * compared on live traffic and promoted → later results come from it. Every step is real: the local
 * edge runtime with the four modules as processes, Azurite, the CNCF distribution registry.
 *
 * The trainer is a command (`--trainer`) given the uploaded data and an output folder; the default
 * one does not train: it re-packages the serving classifier as the next version with the uploaded
 * dataset as its provenance, so that the rest of the loop runs until the training component lands.
 */
import { spawn } from 'node:child_process';
import { copyFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { BlobServiceClient } from '@azure/storage-blob';
import { bundledModels, type ModelManifest } from '@edgeml/inferencer';
import { renderTextImage, runCli, startLocalRegistry, startLocalRuntime, type LocalRuntime } from '@edgeml/runtime';
import { EdgeMLError, sha256File, sleep, type Logger } from '@edgeml/shared';
import { MODEL_REGISTERED_TYPE, parseModelRegistered } from '../model-registered/event.js';
import { handleModelRegistered } from '../model-registered/handler.js';
import { settingsFromEnv } from '../model-registered/settings.js';
import { localHubTarget } from '../model-registered/targets.js';

export interface LoopOptions {
  readonly repoRoot: string;
  readonly workDir: string;
  /** Images per phase (before, during the rollout, after). */
  readonly files: number;
  /** A command run with EDGEML_LOOP_DATA (uploaded data) and EDGEML_LOOP_OUTPUT (write model.onnx + manifest.json there). */
  readonly trainer?: string;
  readonly logger: Logger;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** One line per step, for the person watching. */
  readonly say: (line: string) => void;
  readonly signal: AbortSignal;
}

export interface LoopSummary {
  readonly uploadedBlobs: number;
  readonly trainedModel: { name: string; version: string };
  readonly artifact: string;
  readonly rollout: Record<string, unknown>;
  readonly resultsBefore: Record<string, number>;
  readonly resultsAfter: Record<string, number>;
  readonly ok: boolean;
}

async function dropImages(rt: LocalRuntime, prefix: string, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    // A width per image: every file has its own content (the watcher keeps one of identical files).
    const data = await renderTextImage(`${prefix} sample ${i}`, { rotate180: i % 3 === 0, width: 300 + i * 12 });
    const tmp = path.join(rt.paths.root, 'share', `.${prefix}-${i}.png.tmp`);
    await writeFile(tmp, data);
    await copyFile(tmp, path.join(rt.paths.root, 'share', 'inbox', `${prefix}-${i}.png`));
    await rm(tmp, { force: true });
  }
}

/** cls results on $upstream for files whose name starts with `prefix`, counted by `model@version (digest)`. */
async function resultsBy(rt: LocalRuntime, prefix: string): Promise<Record<string, number>> {
  const text = await readFile(rt.hub.upstreamJournalFile, 'utf8').catch(() => '');
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const body = (JSON.parse(line) as { body?: { schema?: string; part?: string; source?: { path?: string }; model?: { name: string; version: string; digest?: string } } }).body;
    if (body?.schema !== 'edgeml.inference.result/v1' || body.part !== 'result:cls' || !path.posix.basename(body.source?.path ?? '').startsWith(prefix)) continue;
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

/** The stand-in trainer: the serving classifier as the next version, its provenance the uploaded dataset. */
async function standInTrainer(output: string, uploaded: number, version: string): Promise<void> {
  const cls = bundledModels().find((m) => m.profile === 'cls')!;
  await mkdir(output, { recursive: true });
  await copyFile(cls.file, path.join(output, 'model.onnx'));
  const { sha256 } = await sha256File(path.join(output, 'model.onnx'));
  const manifest: ModelManifest = {
    ...cls.manifest,
    version,
    sha256,
    description: `${cls.manifest.description ?? ''} (loop stand-in: re-packaged, not retrained)`,
    provenance: { azureml: { modelName: cls.manifest.name, modelVersion: version }, dataset: { uri: `azurite://edgeml (${uploaded} blobs uploaded by this loop)` }, trainedAt: new Date().toISOString() },
  };
  await writeFile(path.join(output, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
}

function runTrainer(command: string, env: Readonly<Record<string, string | undefined>>, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, { shell: true, stdio: 'inherit', env: { ...env } as NodeJS.ProcessEnv, signal });
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new EdgeMLError('INTERNAL', `the trainer exited ${String(code)}`))));
  });
}

async function until(what: string, check: () => Promise<boolean> | boolean, timeoutMs: number, signal: AbortSignal): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new EdgeMLError('TIMEOUT', `${what}: not within ${timeoutMs / 1000} s`);
    await sleep(500, signal);
  }
}

/** Runs the loop; stops everything it started. */
export async function runModelLoop(o: LoopOptions): Promise<LoopSummary> {
  await rm(o.workDir, { recursive: true, force: true });
  const registry = await startLocalRegistry({ dir: path.join(o.workDir, 'registry') });
  let rt: LocalRuntime | undefined;
  try {
    o.say(`1. local registry (docker-registry) on ${registry.host}; starting the suite in ${o.workDir}`);
    rt = await startLocalRuntime({ repoRoot: o.repoRoot, workDir: path.join(o.workDir, 'edge'), demo: false, hubPort: 0, env: o.env, logger: o.logger });
    const runtime = rt;
    o.say(`2. files in: ${o.files} images into ${path.join(rt.paths.root, 'share', 'inbox')}`);
    await dropImages(rt, 'before', o.files);
    await rt.waitUntilIdle({ signal: o.signal });
    const resultsBefore = await resultsBy(rt, 'before');
    const data = path.join(o.workDir, 'uploaded');
    const uploadedBlobs = rt.storageConnectionString === undefined ? 0 : await downloadUploads(rt.storageConnectionString, data);
    o.say(`3. data uploaded: ${uploadedBlobs} blobs (artifacts and result batches), copied to ${data}`);

    const output = path.join(o.workDir, 'trained');
    const version = '2';
    if (o.trainer !== undefined) await runTrainer(o.trainer, { ...o.env, EDGEML_LOOP_DATA: data, EDGEML_LOOP_OUTPUT: output }, o.signal);
    else await standInTrainer(output, uploadedBlobs, version);
    const { name, version: trainedVersion } = JSON.parse(await readFile(path.join(output, 'manifest.json'), 'utf8')) as { name: string; version: string };
    const trained = { name, version: trainedVersion };
    o.say(`4. trained: ${trained.name}@${trained.version} in ${output}${o.trainer === undefined ? ' (stand-in trainer: re-packaged, not retrained)' : ''}`);

    let pushed = '';
    const code = await runCli(['model', 'push', output, '--registry', registry.host, '--repository', `edgeml/models/${trained.name}`, '--tag', trained.version, '--azureml-model', `${trained.name}:${trained.version}`, '--json'], {
      env: o.env,
      cwd: o.workDir,
      stdoutIsTty: false,
      write: (t) => (pushed += t),
      warn: (l) => o.say(l),
      signal: o.signal,
    });
    if (code !== 0) throw new EdgeMLError('INTERNAL', `edgeml model push exited ${code}`);
    const digest = (JSON.parse(pushed) as { digest: string }).digest;
    o.say(`5. edgeml model push → ${registry.host}/edgeml/models/${trained.name}@${digest}`);

    const event = { id: `loop-${Date.now()}`, topic: 'local', subject: `models/${trained.name}:${trained.version}`, eventType: MODEL_REGISTERED_TYPE, data: { modelName: trained.name, modelVersion: trained.version, modelTags: { oci_digest: digest, edgeml_profile: 'cls' } } };
    const settings = settingsFromEnv({ EDGEML_REGISTRY_SERVER: registry.host, EDGEML_ROLLOUT_MODE: 'shadow', EDGEML_ROLLOUT_SETTINGS: JSON.stringify({ fraction: 1, minItems: o.files }) });
    const outcome = await handleModelRegistered(parseModelRegistered(event), { settings, target: localHubTarget(rt.controlUrl), env: o.env, logger: o.logger });
    o.say(`6. ModelRegistered → twin patched: rollout.cls = shadow of ${outcome.artifact}`);

    const rollout = (): Record<string, unknown> => ((runtime.hub.getTwin('inferencer').reported['rollout'] as Record<string, Record<string, unknown>> | undefined)?.['cls']) ?? {};
    await until('the rollout starts', () => rollout()['state'] === 'shadow' || rollout()['state'] === 'promoted' || rollout()['state'] === 'rolledBack', 180_000, o.signal);
    await dropImages(rt, 'during', o.files);
    await until('the rollout decides', () => rollout()['state'] === 'promoted' || rollout()['state'] === 'rolledBack', 300_000, o.signal);
    const decided = rollout();
    o.say(`7. shadow rollout ${String(decided['state'])}: ${JSON.stringify(decided['figures'])}`);

    await dropImages(rt, 'after', o.files);
    await rt.waitUntilIdle({ signal: o.signal });
    const resultsAfter = await resultsBy(rt, 'after');
    o.say(`8. results before: ${JSON.stringify(resultsBefore)}; after: ${JSON.stringify(resultsAfter)}`);
    const promoted = decided['state'] === 'promoted';
    const fromCandidate = Object.keys(resultsAfter).every((k) => k.startsWith(`${trained.name}@${trained.version} (${digest.slice(0, 19)}`));
    return { uploadedBlobs, trainedModel: trained, artifact: outcome.artifact, rollout: decided, resultsBefore, resultsAfter, ok: promoted && fromCandidate && Object.keys(resultsAfter).length > 0 };
  } finally {
    await rt?.stop();
    await registry.stop();
  }
}
