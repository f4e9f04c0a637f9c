/**
 * Table profiles → feature-matrix tensors: each enabled profile that applies to a table writes its
 * windows (table/features.ts) and sends one tensor per window, part `result:<profile>.w<index>`, so
 * the watcher waits for every window's result. Nothing is sent until every file is written, and the
 * part list is known before the artifact is sent (it carries the same expectedParts).
 */
import { MODULE_ENDPOINTS, SCHEMAS, deterministicMessageId, preprocessingSignature, type FileMessage, type TensorMessage } from '@edgeml/shared';
import type { TransformerConfig } from '../config.js';
import type { Outgoing } from '../outputs.js';
import { sourceRef, stagingFile } from '../source.js';
import { writeFeatureMatrix } from '../table/features.js';
import { tableProfileSpec } from '../table/profile-config.js';
import type { ItemDeps } from './types.js';

/** The part of a table profile's window. */
export function windowPart(profile: string, index: number): string {
  return `result:${profile}.w${index}`;
}

/** Tensors of the enabled table profiles, ready to send once the artifact's expectedParts are known. */
export interface TableTensors {
  readonly parts: readonly string[];
  build(expectedParts: readonly string[], createdAt: string): Outgoing[];
}

/**
 * Writes the windows of every enabled profile that applies. A profile that does not apply (a column
 * is missing, no data rows) is logged and adds no part.
 * @throws EdgeMLError INPUT_MALFORMED from the reader
 */
export async function writeTableTensors(deps: ItemDeps, msg: FileMessage, file: string, format: 'csv' | 'jsonl', c: TransformerConfig): Promise<TableTensors> {
  const pending: { part: string; tensor: TensorMessage['tensor']; preprocessing: TensorMessage['preprocessing'] }[] = [];
  const enabled = Object.entries(c.table.profiles)
    .filter(([, p]) => p.enabled)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  for (const [name, profile] of enabled) {
    const spec = tableProfileSpec(profile);
    const signature = preprocessingSignature(spec);
    const staged = (index: number): { abs: string; rel: string } => stagingFile(deps.paths, msg.id, `${name}-${signature}-w${index}.npy`);
    const result = await writeFeatureMatrix({
      file,
      format,
      spec,
      delimiter: c.table.delimiter,
      nullValues: c.table.nullValues,
      maxRecordChars: c.table.maxRecordBytes,
      target: (index) => staged(index).abs,
      signal: deps.signal,
    });
    if ('notApplicable' in result) {
      deps.logger.debug({ id: msg.id, profile: name, reason: result.notApplicable }, 'table profile does not apply to this table');
      continue;
    }
    deps.metrics.outputBytes.inc({ output: 'tensor' }, result.windows.reduce((a, w) => a + w.sizeBytes, 0));
    for (const w of result.windows) {
      pending.push({
        part: windowPart(name, w.index),
        tensor: { path: staged(w.index).rel, sha256: w.sha256, dtype: 'float32', shape: w.shape, layout: 'NC' },
        preprocessing: { profile: name, signature, spec, rows: { first: w.firstRow, count: w.rows } },
      });
    }
  }
  return {
    parts: pending.map((p) => p.part),
    build: (expectedParts, createdAt) =>
      pending.map((p): Outgoing => {
        const body: TensorMessage = {
          schema: SCHEMAS.tensor,
          id: msg.id,
          messageId: deterministicMessageId(msg.id, 'tensor', p.part, p.preprocessing.signature),
          source: sourceRef(msg),
          part: p.part,
          expectedParts: [...expectedParts],
          tensor: p.tensor,
          preprocessing: p.preprocessing,
          createdAt,
        };
        const properties = { kind: 'table', id: msg.id, part: p.part, profile: p.preprocessing.profile, signature: p.preprocessing.signature, dtype: 'float32', layout: 'NC', extension: msg.source.extension };
        return { output: MODULE_ENDPOINTS.transformer.outputs.tensors, body, properties };
      }),
  };
}
