import { MODULE_ENDPOINTS, SCHEMAS, deterministicMessageId, sha256File, type ArtifactMessage } from '@edgeml/shared';
import { contentChanged } from '../errors.js';
import { timeStage } from '../metrics.js';
import { sourceRef } from '../source.js';
import type { ItemDeps, ItemHandler } from './types.js';

/** Files of kind `other` under `unknownKinds: forwardRaw`: an artifact that points at the share file itself. */
export function createRawHandler(deps: ItemDeps): ItemHandler {
  const { metrics, outputs } = deps;
  return async (msg, file) => {
    const digest = await timeStage(metrics, 'hash', () => sha256File(file));
    if (digest.sha256 !== msg.id) throw contentChanged(`content changed: the file's SHA-256 is ${digest.sha256}, the message id is ${msg.id}`);
    const format = (msg.source.extension.replace(/^\./, '') || 'bin').slice(0, 32);
    const contentType = 'application/octet-stream';
    const body: ArtifactMessage = {
      schema: SCHEMAS.artifact,
      id: msg.id,
      messageId: deterministicMessageId(msg.id, 'artifact', 'raw'),
      source: sourceRef(msg),
      part: 'artifact',
      expectedParts: ['artifact'],
      // Raw forwards point at the share itself (path relative to the share, per the contract).
      artifact: { path: msg.source.path, sha256: digest.sha256, sizeBytes: digest.sizeBytes, kind: 'raw', format, contentType, metadata: { sourceName: msg.source.name } },
      createdAt: deps.now().toISOString(),
    };
    const properties = { kind: 'raw', id: msg.id, part: 'artifact', format, contentType, sizeBytes: String(digest.sizeBytes), extension: msg.source.extension };
    await timeStage(metrics, 'send', () => outputs.send({ output: MODULE_ENDPOINTS.transformer.outputs.artifacts, body, properties }));
  };
}
