/** Shared set-up for the uploader's unit tests: a config from a desired document, a staged artifact. */
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createLogger, createTwinConfigBinder, SCHEMAS, type ArtifactMessage, type DataPaths } from '@edgeml/shared';
import { buildUploaderConfig, UPLOADER_CONFIG_SCHEMA, type UploaderConfig } from '@edgeml/uploader';

export const logger = createLogger({ name: 'test', level: 'silent' });

export const sha = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The configuration the twin binder would build from `desired` (defaults filled in). */
export function config(desired: Record<string, unknown>): UploaderConfig {
  const r = createTwinConfigBinder<UploaderConfig>({ schema: UPLOADER_CONFIG_SCHEMA, build: buildUploaderConfig, apply: () => Promise.resolve(), report: () => Promise.resolve(), logger }).validate(desired);
  if ('problems' in r) throw new Error(r.problems.join('; '));
  return r.config;
}

/** Writes `staging/<id>/a.png` for source `n` and returns the artifact message announcing it (one part). */
export async function stagedArtifact(paths: DataPaths, n: number): Promise<ArtifactMessage> {
  const content = Buffer.from(`content-${n}`);
  const id = sha(`src-${n}`);
  await mkdir(path.join(paths.staging, id), { recursive: true });
  await writeFile(path.join(paths.staging, id, 'a.png'), content);
  return {
    schema: SCHEMAS.artifact,
    id,
    messageId: `m-${n}`,
    source: { path: `inbox/${n}.jpg`, sha256: id, sizeBytes: 1, detectedAt: '2026-11-24T10:00:00Z' },
    part: 'artifact',
    expectedParts: ['artifact'],
    artifact: { path: `staging/${id}/a.png`, sha256: sha(content), sizeBytes: content.length, kind: 'image', format: 'png', contentType: 'image/png', metadata: {} },
    createdAt: '2026-11-24T10:00:01Z',
  };
}
