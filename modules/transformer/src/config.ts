import { PADDLE_CLS_SPEC, PADDLE_DET_SPEC, type PreprocessingSpec } from '@edgeml/shared';

/**
 * Desired properties of the transformer (twin `properties.desired`), as a JSON Schema with every
 * default, `additionalProperties: false` at every level so a misspelt key is reported, and bounds
 * on every number and list so a hostile patch cannot ask for unbounded work.
 */

/** Column types a table can carry (Arrow types in the IPC file). */
export const COLUMN_TYPES = ['null', 'bool', 'int64', 'float64', 'timestamp', 'utf8'] as const;
export type ColumnType = (typeof COLUMN_TYPES)[number];

/** A named tensor profile: the preprocessing spec plus whether it runs. */
export interface ImageProfileConfig extends PreprocessingSpec {
  readonly enabled: boolean;
}

export interface TransformerConfig {
  /** Items processed at once (images and tables together). */
  readonly maxConcurrentItems: number;
  /** Items waiting for a slot; beyond this, messages are shed (the watcher re-emits them). */
  readonly maxQueuedItems: number;
  /** What happens to a file of kind `other`: dead-letter it, or forward it raw to the uploader. */
  readonly unknownKinds: 'deadLetter' | 'forwardRaw';
  /** How often the `status` reported property is refreshed. */
  readonly statusReportIntervalMs: number;
  readonly image: {
    readonly maxFileSizeBytes: number;
    /** Decompression-bomb guard: width × height of the decoded image (sharp `limitInputPixels`). */
    readonly limitInputPixels: number;
    /** libvips worker threads per image operation (sharp.concurrency). */
    readonly vipsThreads: number;
    /** Worker threads that normalise, encode and hash tensors off the main thread. */
    readonly tensorWorkers: number;
    readonly profiles: Readonly<Record<string, ImageProfileConfig>>;
    readonly artifact: {
      readonly enabled: boolean;
      readonly format: 'png' | 'jpeg';
      readonly maxWidth: number;
      readonly maxHeight: number;
      readonly jpegQuality: number;
    };
  };
  readonly table: {
    readonly maxFileSizeBytes: number;
    readonly delimiter: 'auto' | ',' | ';' | '\t' | '|';
    readonly header: 'auto' | 'present' | 'absent';
    readonly raggedRows: 'skip' | 'fail';
    readonly nullValues: readonly string[];
    readonly columnTypes: Readonly<Record<string, ColumnType>>;
    readonly batchRows: number;
    readonly maxColumns: number;
    readonly maxRecordBytes: number;
  };
}

/** The two default profiles: the shared PaddleOCR specs (cls and det), enabled. */
export const DEFAULT_PROFILES = {
  cls: { enabled: true, ...PADDLE_CLS_SPEC },
  det: { enabled: true, ...PADDLE_DET_SPEC },
} as const satisfies Record<string, ImageProfileConfig>;

/** Defaults of every scalar setting, in one place (the schema below takes them from here). */
export const TRANSFORMER_DEFAULTS = {
  maxConcurrentItems: 2,
  // Above the watcher's default maxInFlight (100): with the defaults a burst is queued, never shed
  // (a shed item only comes back after the watcher's completion timeout). An item is a parsed message, ~1–2 KiB.
  maxQueuedItems: 256,
  unknownKinds: 'deadLetter',
  statusReportIntervalMs: 60_000,
  image: {
    maxFileSizeBytes: 64 * 1024 * 1024,
    // 100 MP: a 12 000 × 8 000 photo passes, a 50 000 × 50 000 header (2.5 GP, ~7.5 GB decoded) does not.
    limitInputPixels: 100_000_000,
    vipsThreads: 1,
    // One thread builds a 640×640 det tensor file in a few milliseconds (bench/transformer.ts), far
    // above what decoding and resizing feed it at maxConcurrentItems 2.
    tensorWorkers: 1,
    artifact: { enabled: true, format: 'png', maxWidth: 1024, maxHeight: 1024, jpegQuality: 90 },
  },
  table: {
    maxFileSizeBytes: 8 * 1024 * 1024 * 1024,
    delimiter: 'auto',
    header: 'auto',
    raggedRows: 'skip',
    nullValues: ['', 'NA', 'N/A', 'null', 'NULL'],
    batchRows: 16_384,
    maxColumns: 4096,
    maxRecordBytes: 1024 * 1024,
  },
} as const;

const PROFILE_NAME = '^[a-z][a-z0-9_-]{0,31}$';
const MAX_PROFILES = 8;
/** Output tensors above this many elements per image are refused (64 M float32 = 256 MiB). */
const MAX_TENSOR_ELEMENTS = 64 * 1024 * 1024;

const triple = (min: number, max: number, exclusiveMin = false) =>
  ({
    type: 'array',
    minItems: 3,
    maxItems: 3,
    items: exclusiveMin ? { type: 'number', exclusiveMinimum: min, maximum: max } : { type: 'number', minimum: min, maximum: max },
  }) as const;

/** Schema of one profile; `defaults` fills every field (cls/det), otherwise every field is required. */
function profileSchema(defaults?: ImageProfileConfig): Record<string, unknown> {
  const d = <T>(key: keyof ImageProfileConfig, schema: T): T => (defaults === undefined ? schema : { ...schema, default: defaults[key] });
  return {
    type: 'object',
    additionalProperties: false,
    ...(defaults === undefined
      ? { required: ['width', 'height', 'resize', 'colorOrder', 'layout', 'dtype', 'scale', 'mean', 'std', 'background'] }
      : { default: defaults }),
    properties: {
      enabled: { type: 'boolean', default: defaults?.enabled ?? true },
      width: d('width', { type: 'integer', minimum: 1, maximum: 8192 }),
      height: d('height', { type: 'integer', minimum: 1, maximum: 8192 }),
      resize: d('resize', { enum: ['fill', 'contain', 'cover', 'padRight'] }),
      colorOrder: d('colorOrder', { enum: ['RGB', 'BGR'] }),
      layout: d('layout', { enum: ['NCHW', 'NHWC'] }),
      dtype: d('dtype', { enum: ['float32', 'uint8'] }),
      scale: d('scale', { type: 'number', exclusiveMinimum: 0, maximum: 1e6 }),
      mean: d('mean', triple(-1e6, 1e6)),
      std: d('std', triple(0, 1e6, true)),
      background: d('background', triple(0, 255)),
    },
  };
}

const T = TRANSFORMER_DEFAULTS;

export const TRANSFORMER_CONFIG_SCHEMA = {
  $id: 'https://edgeml.example/schemas/transformer.desired.json',
  title: 'transformer desired properties',
  type: 'object',
  additionalProperties: false,
  properties: {
    maxConcurrentItems: { type: 'integer', minimum: 1, maximum: 16, default: T.maxConcurrentItems },
    maxQueuedItems: { type: 'integer', minimum: 0, maximum: 10_000, default: T.maxQueuedItems },
    unknownKinds: { enum: ['deadLetter', 'forwardRaw'], default: T.unknownKinds },
    statusReportIntervalMs: { type: 'integer', minimum: 1000, maximum: 86_400_000, default: T.statusReportIntervalMs },
    image: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        maxFileSizeBytes: { type: 'integer', minimum: 1, maximum: 2 ** 31 - 1, default: T.image.maxFileSizeBytes },
        limitInputPixels: { type: 'integer', minimum: 1, maximum: 1_000_000_000, default: T.image.limitInputPixels },
        vipsThreads: { type: 'integer', minimum: 1, maximum: 64, default: T.image.vipsThreads },
        tensorWorkers: { type: 'integer', minimum: 1, maximum: 16, default: T.image.tensorWorkers },
        profiles: {
          type: 'object',
          default: {},
          maxProperties: MAX_PROFILES,
          propertyNames: { pattern: PROFILE_NAME },
          properties: { cls: profileSchema(DEFAULT_PROFILES.cls), det: profileSchema(DEFAULT_PROFILES.det) },
          additionalProperties: profileSchema(),
        },
        artifact: {
          type: 'object',
          additionalProperties: false,
          default: {},
          properties: {
            enabled: { type: 'boolean', default: T.image.artifact.enabled },
            format: { enum: ['png', 'jpeg'], default: T.image.artifact.format },
            maxWidth: { type: 'integer', minimum: 1, maximum: 16384, default: T.image.artifact.maxWidth },
            maxHeight: { type: 'integer', minimum: 1, maximum: 16384, default: T.image.artifact.maxHeight },
            jpegQuality: { type: 'integer', minimum: 1, maximum: 100, default: T.image.artifact.jpegQuality },
          },
        },
      },
    },
    table: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        maxFileSizeBytes: { type: 'integer', minimum: 1, maximum: 2 ** 50, default: T.table.maxFileSizeBytes },
        delimiter: { enum: ['auto', ',', ';', '\t', '|'], default: T.table.delimiter },
        header: { enum: ['auto', 'present', 'absent'], default: T.table.header },
        raggedRows: { enum: ['skip', 'fail'], default: T.table.raggedRows },
        nullValues: { type: 'array', maxItems: 32, uniqueItems: true, items: { type: 'string', maxLength: 64 }, default: T.table.nullValues },
        columnTypes: {
          type: 'object',
          default: {},
          maxProperties: 1024,
          propertyNames: { minLength: 1, maxLength: 256 },
          additionalProperties: { enum: [...COLUMN_TYPES] },
        },
        batchRows: { type: 'integer', minimum: 1, maximum: 1_048_576, default: T.table.batchRows },
        maxColumns: { type: 'integer', minimum: 1, maximum: 65_536, default: T.table.maxColumns },
        maxRecordBytes: { type: 'integer', minimum: 1024, maximum: 64 * 1024 * 1024, default: T.table.maxRecordBytes },
      },
    },
  },
} as const;

/**
 * Cross-field checks the schema cannot express, then the typed config. Receives a document the
 * schema already validated (defaults filled in).
 */
export function buildTransformerConfig(validated: Record<string, unknown>): { config: TransformerConfig } | { problems: string[] } {
  const config = validated as unknown as TransformerConfig;
  const problems: string[] = [];
  for (const [name, p] of Object.entries(config.image.profiles)) {
    const elements = p.width * p.height * 3;
    if (elements > MAX_TENSOR_ELEMENTS) {
      problems.push(`/image/profiles/${name}: ${p.width}×${p.height}×3 = ${elements} elements; the limit is ${MAX_TENSOR_ELEMENTS}`);
    }
  }
  if (!config.image.artifact.enabled && !Object.values(config.image.profiles).some((p) => p.enabled)) {
    problems.push('/image: the artifact and every profile are disabled, so an image would yield no parts');
  }
  if (config.image.artifact.maxWidth * config.image.artifact.maxHeight > config.image.limitInputPixels) {
    problems.push('/image/artifact: maxWidth × maxHeight exceeds image.limitInputPixels');
  }
  return problems.length > 0 ? { problems } : { config };
}

/** The preprocessing spec of a profile (what the signature is computed over: no `enabled`). */
export function profileSpec(profile: ImageProfileConfig): PreprocessingSpec {
  return {
    width: profile.width,
    height: profile.height,
    resize: profile.resize,
    colorOrder: profile.colorOrder,
    layout: profile.layout,
    dtype: profile.dtype,
    scale: profile.scale,
    mean: [profile.mean[0], profile.mean[1], profile.mean[2]],
    std: [profile.std[0], profile.std[1], profile.std[2]],
    background: [profile.background[0], profile.background[1], profile.background[2]],
  };
}
