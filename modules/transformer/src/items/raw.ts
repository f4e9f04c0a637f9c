import { sha256File } from '@edgeml/shared';
import { contentChanged } from '../errors.js';
import { timeStage } from '../metrics.js';
import { artifactOutput } from './artifact.js';
import type { ItemDeps, ItemHandler } from './types.js';

/** Files of kind `other` under `unknownKinds: forwardRaw`: an artifact that points at the share file itself. */
export function createRawHandler(deps: ItemDeps): ItemHandler {
  const { metrics, outputs } = deps;
  return async (msg, file) => {
    const digest = await timeStage(metrics, 'hash', () => sha256File(file));
    if (digest.sha256 !== msg.id) throw contentChanged(`content changed: the file's SHA-256 is ${digest.sha256}, the message id is ${msg.id}`);
    const format = (msg.source.extension.replace(/^\./, '') || 'bin').slice(0, 32);
    const output = artifactOutput(msg, {
      settingsKey: 'raw',
      expectedParts: ['artifact'],
      // Raw forwards point at the share itself (path relative to the share, per the contract).
      artifact: { path: msg.source.path, sha256: digest.sha256, sizeBytes: digest.sizeBytes, kind: 'raw', format, contentType: 'application/octet-stream', metadata: { sourceName: msg.source.name } },
      createdAt: deps.now().toISOString(),
    });
    await timeStage(metrics, 'send', () => outputs.send(output));
  };
}
