import { CHAIN_NAME_PATTERN, MAX_CHAIN_CROPS, PADDLE_CLS_SPEC, PADDLE_DET_SPEC, PADDLE_REC_SPEC, type PreprocessingSpec } from '@edgeml/shared';
import { DEFAULT_TABLE_PROFILES, tableProfileSchema, tableProfileProblems, type TableProfileConfig } from './table/profile-config.js';

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

/**
 * An inference chain (shared `chains.ts`): the results of the `detector` profile's model are cut into
 * crops, each crop goes through the `orientation` profile's classifier (when set) and is turned
 * upright, then through the `reader` profile's model; the aggregator gathers the readings into one
 * result per source file.
 */
export interface ChainConfig {
  readonly enabled: boolean;
  /** An enabled image profile: its results feed the chain (route them to input `detections`). */
  readonly detector: string;
  /** A profile whose model says 0° or 180° for each crop (labels `0`/`180`); '' for no orientation step. */
  readonly orientation: string;
  /** The profile each (upright) crop is read with: a recogniser (text) or a classifier (label). */
  readonly reader: string;
  /** Boxes the detector scored lower are not cropped. */
  readonly minBoxScore: number;
  /** Boxes whose deskewed short side is smaller (source pixels) are not cropped. */
  readonly minBoxSizePx: number;
  /** Most crops per source; boxes beyond it (in reading order) are dropped and counted. */
  readonly maxCrops: number;
  /** A crop is turned 180° when the orientation result's label is `180` with at least this score (PaddleOCR's cls_thresh). */
  readonly rotateThreshold: number;
  /** A crop at least this much taller than wide is turned 90° counter-clockwise before it is read (vertical text, PaddleOCR's 1.5). */
  readonly verticalRatio: number;
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
    /** The artifact written for a CSV: Parquet (through DuckDB) or Arrow IPC (the built-in parser). JSON lines are always Arrow. */
    readonly format: 'parquet' | 'arrow';
    readonly parquetCompression: 'zstd' | 'snappy';
    /** Rows per Parquet row group. */
    readonly rowGroupRows: number;
    /** DuckDB's memory limit for one conversion engine (shared by concurrent conversions). */
    readonly engineMemoryLimitBytes: number;
    readonly engineThreads: number;
    /** Table profiles: feature-matrix tensors for the inferencer (table/profile-config.ts). */
    readonly profiles: Readonly<Record<string, TableProfileConfig>>;
  };
  /** Inference chains by name (`chain:<name>` is the part each adds to an image). */
  readonly chains: Readonly<Record<string, ChainConfig>>;
}

/**
 * The default profiles: the shared PaddleOCR specs. `cls` and `det` run on every image; `rec` (the
 * recogniser's text-line spec) is not enabled for whole images, only the `ocr` chain uses it on crops.
 */
export const DEFAULT_PROFILES = {
  cls: { enabled: true, ...PADDLE_CLS_SPEC },
  det: { enabled: true, ...PADDLE_DET_SPEC },
  rec: { enabled: false, ...PADDLE_REC_SPEC },
} as const satisfies Record<string, ImageProfileConfig>;

/** The bundled chain: PaddleOCR's detection → orientation → recognition. */
export const DEFAULT_CHAINS = {
  ocr: {
    enabled: true,
    detector: 'det',
    orientation: 'cls',
    reader: 'rec',
    minBoxScore: 0,
    minBoxSizePx: 4,
    maxCrops: 64,
    rotateThreshold: 0.9,
    verticalRatio: 1.5,
  },
} as const satisfies Record<string, ChainConfig>;
const MAX_CHAINS = 4;

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
    format: 'parquet',
    parquetCompression: 'zstd',
    // DuckDB's default row group (122 880 rows): large enough for column statistics and scans to pay,
    // small enough to hold in memory while writing a wide table.
    rowGroupRows: 122_880,
    engineMemoryLimitBytes: 512 * 1024 * 1024,
    engineThreads: 2,
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
      widthStep: defaults?.widthStep === undefined ? { type: 'integer', minimum: 1, maximum: 8192 } : { type: 'integer', minimum: 1, maximum: 8192, default: defaults.widthStep },
    },
  };
}

/** Schema of one chain; `defaults` fills every field (ocr), otherwise detector and reader are required. */
function chainSchema(defaults?: ChainConfig): Record<string, unknown> {
  const d = <T>(key: keyof ChainConfig, schema: T): T => (defaults === undefined ? schema : { ...schema, default: defaults[key] });
  const fallback = DEFAULT_CHAINS.ocr;
  return {
    type: 'object',
    additionalProperties: false,
    ...(defaults === undefined ? { required: ['detector', 'reader'] } : { default: defaults }),
    properties: {
      enabled: { type: 'boolean', default: defaults?.enabled ?? true },
      detector: d('detector', { type: 'string', pattern: PROFILE_NAME }),
      orientation: { type: 'string', pattern: '^(|[a-z][a-z0-9_-]{0,31})$', default: defaults?.orientation ?? '' },
      reader: d('reader', { type: 'string', pattern: PROFILE_NAME }),
      minBoxScore: { type: 'number', minimum: 0, maximum: 1, default: defaults?.minBoxScore ?? fallback.minBoxScore },
      minBoxSizePx: { type: 'integer', minimum: 1, maximum: 4096, default: defaults?.minBoxSizePx ?? fallback.minBoxSizePx },
      maxCrops: { type: 'integer', minimum: 1, maximum: MAX_CHAIN_CROPS, default: defaults?.maxCrops ?? fallback.maxCrops },
      rotateThreshold: { type: 'number', minimum: 0, maximum: 1, default: defaults?.rotateThreshold ?? fallback.rotateThreshold },
      verticalRatio: { type: 'number', minimum: 1, maximum: 100, default: defaults?.verticalRatio ?? fallback.verticalRatio },
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
          properties: { cls: profileSchema(DEFAULT_PROFILES.cls), det: profileSchema(DEFAULT_PROFILES.det), rec: profileSchema(DEFAULT_PROFILES.rec) },
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
        format: { enum: ['parquet', 'arrow'], default: T.table.format },
        parquetCompression: { enum: ['zstd', 'snappy'], default: T.table.parquetCompression },
        rowGroupRows: { type: 'integer', minimum: 1024, maximum: 8_388_608, default: T.table.rowGroupRows },
        engineMemoryLimitBytes: { type: 'integer', minimum: 64 * 1024 * 1024, maximum: 2 ** 40, default: T.table.engineMemoryLimitBytes },
        engineThreads: { type: 'integer', minimum: 1, maximum: 64, default: T.table.engineThreads },
        profiles: {
          type: 'object',
          default: {},
          maxProperties: MAX_PROFILES,
          propertyNames: { pattern: PROFILE_NAME },
          properties: { anomaly: tableProfileSchema(DEFAULT_TABLE_PROFILES.anomaly) },
          additionalProperties: tableProfileSchema(),
        },
      },
    },
    chains: {
      type: 'object',
      default: {},
      maxProperties: MAX_CHAINS,
      propertyNames: { pattern: CHAIN_NAME_PATTERN },
      properties: { ocr: chainSchema(DEFAULT_CHAINS.ocr) },
      additionalProperties: chainSchema(),
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
  for (const [name, p] of Object.entries(config.image.profiles)) {
    if (p.widthStep !== undefined && p.resize !== 'padRight') problems.push(`/image/profiles/${name}/widthStep: only a padRight profile has a variable width`);
  }
  problems.push(...chainProblems(config));
  for (const [name, p] of Object.entries(config.table.profiles)) {
    problems.push(...tableProfileProblems(p).map((problem) => `/table/profiles/${name}${problem}`));
    if (config.image.profiles[name] !== undefined) problems.push(`/table/profiles/${name}: an image profile has the same name (both would send part result:${name})`);
  }
  return problems.length > 0 ? { problems } : { config };
}

/** A chain must name profiles that exist, and its detector must run on whole images. */
function chainProblems(config: TransformerConfig): string[] {
  const problems: string[] = [];
  const profiles = config.image.profiles;
  for (const [name, chain] of Object.entries(config.chains)) {
    if (!chain.enabled) continue;
    const detector = profiles[chain.detector];
    if (detector === undefined) problems.push(`/chains/${name}/detector: no image profile ${chain.detector}`);
    else if (!detector.enabled) problems.push(`/chains/${name}/detector: profile ${chain.detector} is not enabled, so no detection would ever feed the chain`);
    if (chain.orientation !== '' && profiles[chain.orientation] === undefined) problems.push(`/chains/${name}/orientation: no image profile ${chain.orientation}`);
    if (profiles[chain.reader] === undefined) problems.push(`/chains/${name}/reader: no image profile ${chain.reader}`);
  }
  return problems;
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
    ...(profile.widthStep === undefined ? {} : { widthStep: profile.widthStep }),
  };
}
