import { MODULE_ENDPOINTS, SCHEMAS, deterministicMessageId, type ArtifactMessage, type FileMessage } from '@edgeml/shared';
import type { Outgoing } from '../outputs.js';
import { sourceRef } from '../source.js';

/**
 * The `artifacts` output of a source: the edgeml.artifact/v1 body, whose message id is a function of
 * the source and `settingsKey` (the settings that produced the artifact), and the properties every
 * artifact carries for route filters (kind, id, part, format, contentType, sizeBytes, extension),
 * plus `extraProperties`.
 */
export function artifactOutput(
  msg: FileMessage,
  a: {
    readonly settingsKey: string;
    readonly expectedParts: readonly string[];
    readonly artifact: ArtifactMessage['artifact'];
    readonly createdAt: string;
    readonly extraProperties?: Readonly<Record<string, string>>;
  },
): Outgoing {
  const body: ArtifactMessage = {
    schema: SCHEMAS.artifact,
    id: msg.id,
    messageId: deterministicMessageId(msg.id, 'artifact', a.settingsKey),
    source: sourceRef(msg),
    part: 'artifact',
    expectedParts: [...a.expectedParts],
    artifact: a.artifact,
    createdAt: a.createdAt,
  };
  const { kind, format, contentType, sizeBytes } = a.artifact;
  const properties = { kind, id: msg.id, part: 'artifact', format, contentType, sizeBytes: String(sizeBytes), ...a.extraProperties, extension: msg.source.extension };
  return { output: MODULE_ENDPOINTS.transformer.outputs.artifacts, body, properties };
}
