/**
 * What the model loop retrains (`npm run loop -- --model anomaly|cls`): the files it drops, the
 * results it reads, and how it trains on the uploaded data.
 * - `anomaly` (default): telemetry CSVs; the uploader's table dataset (Parquet + its MLTable) is fitted
 *   by the repository's training component (`training/`, the same command Azure ML runs), a real
 *   retraining.
 * - `cls`: rendered-text images; the repository has no training component for the orientation
 *   classifier, so its trainer re-packages the serving classifier as the next version with the
 *   uploaded dataset as its provenance (the rest of the loop is the same).
 */
import { spawn } from 'node:child_process';
import { copyFile, mkdir, readdir, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { bundledModels, type ModelManifest } from '@edgeml/inferencer';
import { renderTextImage, telemetryCsv, type LocalRuntime } from '@edgeml/runtime';
import { EdgeMLError, sha256File } from '@edgeml/shared';

export type LoopModel = 'anomaly' | 'cls';

export interface TrainContext {
  readonly repoRoot: string;
  /** The uploaded blobs, copied as `<data>/<container>/<blob name>`. */
  readonly data: string;
  /** Where model.onnx + manifest.json go. */
  readonly output: string;
  readonly version: string;
  readonly uploadedBlobs: number;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly signal: AbortSignal;
}

export interface LoopSubject {
  /** The preprocessing profile whose model is retrained (the twin's `models.<profile>`). */
  readonly profile: string;
  /** What the trainer does, for the person watching. */
  readonly trainerNote: string;
  /** Drops `count` files, each with its own content, named `<prefix>-<i>.<ext>`; `phase` makes phases differ. */
  drop(rt: LocalRuntime, prefix: string, phase: number, count: number): Promise<void>;
  /** Whether a result part on `$upstream` is this model's. */
  isResultPart(part: string): boolean;
  /** Items a phase of `files` files gives the rollout to compare (its minItems). */
  itemsPerPhase(files: number): number;
  train(c: TrainContext): Promise<void>;
}

/** Writes next to the inbox, then copies in: the watcher never sees a half-written file. */
async function dropFile(rt: LocalRuntime, name: string, data: Buffer | string): Promise<void> {
  const tmp = path.join(rt.paths.root, 'share', `.${name}.tmp`);
  await writeFile(tmp, data);
  await copyFile(tmp, path.join(rt.paths.root, 'share', 'inbox', name));
  await rm(tmp, { force: true });
}

/** Runs a command (no shell) to its end; rejects on a non-zero exit. */
export function runCommand(command: string, args: readonly string[], o: { cwd: string; env: Readonly<Record<string, string | undefined>>; signal: AbortSignal; shell?: boolean }): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, [...args], { cwd: o.cwd, shell: o.shell === true, stdio: 'inherit', env: { ...o.env } as NodeJS.ProcessEnv, signal: o.signal });
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new EdgeMLError('INTERNAL', `${o.shell === true ? command : path.basename(command)} exited ${String(code)}`))));
  });
}

/** The uploader's table dataset folders (`<container>/table-<hash>` with an MLTable) under the copied uploads. */
export async function tableDatasets(data: string): Promise<string[]> {
  const out: string[] = [];
  for (const container of await readdir(data).catch(() => [] as string[])) {
    for (const folder of await readdir(path.join(data, container)).catch(() => [] as string[])) {
      const dir = path.join(data, container, folder);
      if (folder.startsWith('table-') && (await stat(path.join(dir, 'MLTable')).catch(() => undefined))?.isFile() === true) out.push(dir);
    }
  }
  return out.sort();
}

/** Rows per telemetry file: every file differs (content ids), each has at least 5 windows of 64 rows. */
const telemetryRows = (phase: number, i: number, files: number): number => 320 + (phase * Math.max(1, files) + i) * 16;

export const ANOMALY_SUBJECT: LoopSubject = {
  profile: 'anomaly',
  trainerNote: 'training component: training/ (npm run train) on the uploaded table dataset',
  async drop(rt, prefix, phase, count) {
    for (let i = 0; i < count; i++) await dropFile(rt, `${prefix}-${i}.csv`, telemetryCsv(telemetryRows(phase, i, count)));
  },
  isResultPart: (part) => part.startsWith('result:anomaly'),
  itemsPerPhase: (files) => files * 5,
  async train(c) {
    const datasets = await tableDatasets(c.data);
    if (datasets.length !== 1) throw new EdgeMLError('INTERNAL', `expected one table dataset (table-<hash>/MLTable) in the uploaded data, found ${datasets.length}: ${datasets.join(', ') || 'none'}`);
    const folder = datasets[0]!;
    const dataset = `azurite://${path.relative(c.data, folder).split(path.sep).join('/')}`;
    const script = path.join(c.repoRoot, 'training', 'src', 'bin', 'train.ts');
    await runCommand(process.execPath, ['--import', 'tsx', '--conditions=@edgeml/source', script, '--data', folder, '--out', c.output, '--version', c.version, '--dataset', dataset], { cwd: c.repoRoot, env: c.env, signal: c.signal });
  },
};

export const CLS_SUBJECT: LoopSubject = {
  profile: 'cls',
  trainerNote: 'stand-in trainer: re-packaged, not retrained',
  async drop(rt, prefix, _phase, count) {
    // A width per image: every file has its own content (the watcher keeps one of identical files).
    for (let i = 0; i < count; i++) await dropFile(rt, `${prefix}-${i}.png`, await renderTextImage(`${prefix} sample ${i}`, { rotate180: i % 3 === 0, width: 300 + i * 12 }));
  },
  isResultPart: (part) => part === 'result:cls',
  itemsPerPhase: (files) => files,
  async train(c) {
    const cls = bundledModels().find((m) => m.profile === 'cls')!;
    await mkdir(c.output, { recursive: true });
    await copyFile(cls.file, path.join(c.output, 'model.onnx'));
    const { sha256 } = await sha256File(path.join(c.output, 'model.onnx'));
    const manifest: ModelManifest = {
      ...cls.manifest,
      version: c.version,
      sha256,
      description: `${cls.manifest.description ?? ''} (loop stand-in: re-packaged, not retrained)`,
      provenance: { azureml: { modelName: cls.manifest.name, modelVersion: c.version }, dataset: { uri: `azurite://edgeml (${c.uploadedBlobs} blobs uploaded by this loop)` }, trainedAt: new Date().toISOString() },
    };
    await writeFile(path.join(c.output, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  },
};

export const LOOP_SUBJECTS: Readonly<Record<LoopModel, LoopSubject>> = { anomaly: ANOMALY_SUBJECT, cls: CLS_SUBJECT };
