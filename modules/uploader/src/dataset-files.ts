import { EdgeMLError, errorCode } from '@edgeml/shared';
import type { LogOnce } from './context.js';
import { datasetOf, decodeColumns, renderMLTable, type MLTableInput } from './mltable.js';
import { DATASET_FOLDERS } from './dataset-lines.js';
import type { UploadSink } from './sink.js';

/** Below `datasets/images` and `datasets/to-label` (dataset-lines.ts `datasetBlobName`). */
const AUTOML_LAYOUT = '{deviceId}/{yyyy}/{MM}/{dd}/{windowStart}-{batchId}.{ext}';

/** Blob metadata key carrying a table's columns (mltable.ts `encodeColumns`) from intake to here. */
export const COLUMNS_METADATA_KEY = 'edgemlcolumns';

/**
 * Writes each dataset folder's `MLTable` once, right after the first file of the folder is
 * committed: create-if-absent through the same sink, so a restart or a second device writing the
 * same bytes is a no-op. Not queued: the file is derived (a pure function of the template, the
 * extension and the columns), so a failed write is simply tried again with the folder's next
 * upload; it never holds back or fails the upload it follows. A folder already holding a different
 * MLTable (SINK_CONFLICT: written under another template, or by hand) is left as it is, said once.
 */
export class DatasetFiles {
  readonly #written = new Set<string>();
  readonly #logOnce: LogOnce;

  constructor(logOnce: LogOnce) {
    this.#logOnce = logOnce;
  }

  /** After `blobName` (named with `template`) was committed: its folder's MLTable, unless written already. */
  async ensure(sink: UploadSink, u: { template: string; blobName: string; metadata: Readonly<Record<string, string>> }, signal: AbortSignal): Promise<void> {
    const d = datasetOf(u.template, u.blobName);
    if (d === undefined) return;
    const ext = u.blobName.slice(u.blobName.lastIndexOf('.') + 1);
    const columns = decodeColumns(u.metadata[COLUMNS_METADATA_KEY]);
    await this.ensureFolder(sink, d.folder, { layout: d.layout, ext, ...(columns === undefined ? {} : { columns }) }, u.metadata['deviceid'] ?? '', signal);
  }

  /** After an AutoML JSON-lines blob (datasets.ts) was committed: its folder's MLTable, `image_url` as stream_info. */
  async ensureLines(sink: UploadSink, blobName: string, deviceId: string, signal: AbortSignal): Promise<void> {
    const folder = DATASET_FOLDERS.find((f) => blobName.startsWith(`${f}/`));
    if (folder === undefined) return;
    await this.ensureFolder(sink, folder, { layout: AUTOML_LAYOUT, ext: 'jsonl', streamColumns: ['image_url'] }, deviceId, signal);
  }

  /** The MLTable of `folder` (any depth, e.g. `datasets/images`), unless this exact file was written already. */
  async ensureFolder(sink: UploadSink, folder: string, input: MLTableInput, deviceId: string, signal: AbortSignal): Promise<void> {
    const data = renderMLTable(input);
    const name = `${folder}/MLTable`;
    const key = `${name}\0${data.toString('base64')}`;
    if (this.#written.has(key)) return;
    try {
      await sink.upload({ name, source: { data }, sizeBytes: data.length, contentType: 'application/x-yaml', metadata: { deviceid: deviceId, kind: 'mltable' } }, signal);
      this.#written.add(key);
    } catch (err: unknown) {
      if (signal.aborted) return;
      if (errorCode(err) === 'SINK_CONFLICT') {
        this.#written.add(key);
        this.#logOnce(`mltable-conflict:${folder}`, 'warn', { err, name }, `${name} exists with other content; left as it is`);
        return;
      }
      const e = err instanceof EdgeMLError ? err : new EdgeMLError('INTERNAL', (err as Error).message, { cause: err });
      this.#logOnce(`mltable:${folder}`, 'warn', { err: e, name }, `${name} could not be written (tried again with the folder's next upload): ${e.message}`);
    }
  }
}
