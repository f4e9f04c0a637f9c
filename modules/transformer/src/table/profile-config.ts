/**
 * Table profiles (twin `table.profiles`): which numeric columns of a table become a feature-matrix
 * tensor for the inferencer, how each is scaled, what a missing value becomes, and how many rows go
 * in one tensor. A profile applies to a table that has every one of its columns; other tables get
 * only their artifact.
 */
import { TELEMETRY_ANOMALY_SPEC, type TablePreprocessingSpec } from '@edgeml/shared';

/** A table profile: the preprocessing spec plus whether it runs. */
export interface TableProfileConfig extends Omit<TablePreprocessingSpec, 'kind'> {
  readonly enabled: boolean;
}

/** The bundled profile: the telemetry anomaly model's features (shared TELEMETRY_ANOMALY_SPEC). */
export const DEFAULT_TABLE_PROFILES = {
  anomaly: {
    enabled: true,
    columns: TELEMETRY_ANOMALY_SPEC.columns,
    mean: TELEMETRY_ANOMALY_SPEC.mean,
    std: TELEMETRY_ANOMALY_SPEC.std,
    missing: TELEMETRY_ANOMALY_SPEC.missing,
    windowRows: TELEMETRY_ANOMALY_SPEC.windowRows,
    dtype: TELEMETRY_ANOMALY_SPEC.dtype,
  },
} as const satisfies Record<string, TableProfileConfig>;

const MAX_COLUMNS = 256;

/** Schema of one table profile; `defaults` fills every field, otherwise columns, mean and std are required. */
export function tableProfileSchema(defaults?: TableProfileConfig): Record<string, unknown> {
  const d = <T>(key: keyof TableProfileConfig, schema: T): T => (defaults === undefined ? schema : { ...schema, default: defaults[key] });
  return {
    type: 'object',
    additionalProperties: false,
    ...(defaults === undefined ? { required: ['columns', 'mean', 'std'] } : { default: defaults }),
    properties: {
      enabled: { type: 'boolean', default: defaults?.enabled ?? true },
      columns: d('columns', { type: 'array', minItems: 1, maxItems: MAX_COLUMNS, uniqueItems: true, items: { type: 'string', minLength: 1, maxLength: 256 } }),
      mean: d('mean', { type: 'array', minItems: 1, maxItems: MAX_COLUMNS, items: { type: 'number', minimum: -1e12, maximum: 1e12 } }),
      std: d('std', { type: 'array', minItems: 1, maxItems: MAX_COLUMNS, items: { type: 'number', exclusiveMinimum: 0, maximum: 1e12 } }),
      missing: { enum: ['mean', 'zero'], default: defaults?.missing ?? 'mean' },
      windowRows: { type: 'integer', minimum: 1, maximum: 65_536, default: defaults?.windowRows ?? 64 },
      dtype: { const: 'float32', default: 'float32' },
    },
  };
}

/** Cross-field problems of a profile (JSON paths relative to it). */
export function tableProfileProblems(p: TableProfileConfig): string[] {
  const problems: string[] = [];
  if (p.mean.length !== p.columns.length) problems.push(`/mean: ${p.mean.length} values for ${p.columns.length} columns`);
  if (p.std.length !== p.columns.length) problems.push(`/std: ${p.std.length} values for ${p.columns.length} columns`);
  return problems;
}

/** The preprocessing spec of a table profile (what the signature is computed over: no `enabled`). */
export function tableProfileSpec(p: TableProfileConfig): TablePreprocessingSpec {
  return { kind: 'table', columns: [...p.columns], mean: [...p.mean], std: [...p.std], missing: p.missing, windowRows: p.windowRows, dtype: 'float32' };
}
