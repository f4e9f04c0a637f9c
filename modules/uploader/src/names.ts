import { EdgeMLError } from '@edgeml/shared';

/**
 * Deterministic blob names. A name is a pure function of the device, the content id, the part and
 * the source's `detectedAt` (recorded once by the watcher), so re-sending the same item writes the
 * same name and create-if-absent turns a replay into a no-op.
 */

export const TEMPLATE_PLACEHOLDERS = {
  artifact: ['dataset', 'deviceId', 'moduleId', 'kind', 'yyyy', 'MM', 'dd', 'HH', 'id', 'part', 'ext'],
  results: ['deviceId', 'moduleId', 'kind', 'yyyy', 'MM', 'dd', 'HH', 'windowStart', 'batchId'],
} as const;

/** Placeholders a template must use so two different items can never share a name. */
const REQUIRED = { artifact: ['id', 'part'], results: ['batchId'] } as const;

/** Azure's limit on blob names (characters). */
export const MAX_BLOB_NAME_LENGTH = 1024;

const PLACEHOLDER = /\{([A-Za-z]+)\}/g;

/** Problems with a template: unknown or missing placeholders, absolute or `..` paths. */
export function templateProblems(template: string, kind: 'artifact' | 'results'): string[] {
  const problems: string[] = [];
  const allowed: readonly string[] = TEMPLATE_PLACEHOLDERS[kind];
  const used = new Set([...template.matchAll(PLACEHOLDER)].map((m) => m[1] ?? ''));
  for (const name of used) if (!allowed.includes(name)) problems.push(`unknown placeholder {${name}} (allowed: ${allowed.join(', ')})`);
  for (const name of REQUIRED[kind]) if (!used.has(name)) problems.push(`must contain {${name}} so names stay unique`);
  if (template.startsWith('/')) problems.push('must be relative (no leading /)');
  if (template.split('/').some((s) => s === '..' || s === '.')) problems.push('must not contain . or .. segments');
  if (template.includes('\\')) problems.push('must use / as separator');
  return problems;
}

/** One path segment's worth of a value: anything outside [A-Za-z0-9._=-] becomes '-', never '.' or '..'. */
export function safeSegment(value: string): string {
  const s = value.replace(/[^A-Za-z0-9._=-]/g, '-').slice(0, 200);
  return s === '' || s === '.' || s === '..' ? '_' : s;
}

export interface NameValues {
  readonly deviceId: string;
  readonly moduleId: string;
  readonly kind: string;
  /** The dataset folder (mltable.ts `datasetOfArtifact`; results: none). */
  readonly dataset?: string;
  /** The instant that dates the name (source.detectedAt, or a batch window's start). */
  readonly date: Date;
  readonly id?: string;
  readonly part?: string;
  readonly ext?: string;
  readonly batchId?: string;
}

const pad = (n: number, width = 2): string => String(n).padStart(width, '0');

/** `20261124T155000Z`: the window start as it appears in batch names. */
export function compactUtc(date: Date): string {
  return `${date.getUTCFullYear()}${pad(date.getUTCMonth() + 1)}${pad(date.getUTCDate())}T${pad(date.getUTCHours())}${pad(date.getUTCMinutes())}${pad(date.getUTCSeconds())}Z`;
}

/**
 * Renders a template (already checked by {@link templateProblems}).
 * @throws EdgeMLError MESSAGE_INVALID when the date is invalid or the name would be unusable
 */
export function renderBlobName(template: string, values: NameValues): string {
  if (Number.isNaN(values.date.getTime())) throw new EdgeMLError('MESSAGE_INVALID', 'source.detectedAt is not a valid date');
  const d = values.date;
  const map: Record<string, string | undefined> = {
    deviceId: values.deviceId,
    moduleId: values.moduleId,
    kind: values.kind,
    dataset: values.dataset,
    yyyy: pad(d.getUTCFullYear(), 4),
    MM: pad(d.getUTCMonth() + 1),
    dd: pad(d.getUTCDate()),
    HH: pad(d.getUTCHours()),
    windowStart: compactUtc(d),
    id: values.id,
    part: values.part,
    ext: values.ext,
    batchId: values.batchId,
  };
  const name = template.replace(PLACEHOLDER, (_m, key: string) => safeSegment(map[key] ?? '_'));
  if (name.length > MAX_BLOB_NAME_LENGTH) throw new EdgeMLError('MESSAGE_INVALID', `blob name is ${name.length} characters; the limit is ${MAX_BLOB_NAME_LENGTH}`);
  if (name.split('/').some((s) => s === '' || s === '.' || s === '..')) throw new EdgeMLError('MESSAGE_INVALID', `blob name ${JSON.stringify(name)} has an empty, . or .. segment`);
  return name;
}
