/**
 * The runtime's work folder: `data/` (the modules' `/data`), `logs/`, `hub/` (the edge hub's
 * store), `run/` (the workload socket); and what `data/` holds before the modules start (its
 * folders, the bundled models, sample data for an empty inbox).
 */
import { mkdir, readdir } from 'node:fs/promises';
import path from 'node:path';
import { installBundledModels } from '@edgeml/inferencer';
import { dataPaths, type DataPaths, type Logger } from '@edgeml/shared';
import { generateSamples } from './samples.js';

export interface WorkFolder {
  /** Absolute. */
  readonly workDir: string;
  readonly dataDir: string;
  readonly logsDir: string;
  readonly hubDir: string;
}

/** Creates the work folder and its `data/`, `logs/`, `hub/` and `run/`. */
export async function prepareWorkFolder(workDirOption: string): Promise<WorkFolder> {
  const workDir = path.resolve(workDirOption);
  const dataDir = path.join(workDir, 'data');
  const logsDir = path.join(workDir, 'logs');
  const hubDir = path.join(workDir, 'hub');
  for (const d of [workDir, dataDir, logsDir, hubDir, path.join(workDir, 'run')]) await mkdir(d, { recursive: true });
  return { workDir, dataDir, logsDir, hubDir };
}

/** Creates the data folders, installs the bundled models and, with `demo`, fills an empty inbox with sample data. */
export async function prepareData(dataDir: string, demo: boolean, logger: Logger): Promise<DataPaths> {
  const paths = dataPaths(dataDir);
  for (const d of [paths.inbox, paths.failed, paths.processed, paths.staging, paths.models, paths.cloudshare]) await mkdir(d, { recursive: true });
  await installBundledModels(paths.models);
  if (demo) {
    const existing = (await readdir(paths.inbox)).filter((n) => !n.startsWith('.'));
    if (existing.length === 0) {
      const samples = await generateSamples(paths.inbox);
      logger.info({ images: samples.images.length, tables: samples.tables.length }, 'inbox was empty: generated sample data');
    }
  }
  return paths;
}
