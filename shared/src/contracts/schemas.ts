import { CHAIN_NAME_PATTERN, CHAIN_STEPS, MAX_CHAIN_CROPS } from './chains.js';
import { SCHEMAS } from './messages.js';

/**
 * JSON Schemas (draft-07) of every message contract, published for route consumers
 * (`npm run schemas` writes them to shared/schemas/*.json). Additional properties are allowed at
 * the top level so a v1 consumer keeps working when a v1 producer adds a field.
 */
const sha256Hex = { type: 'string', pattern: '^[0-9a-f]{64}$' } as const;
const isoTime = { type: 'string', minLength: 10, maxLength: 40 } as const;
const nonEmpty = (maxLength: number) => ({ type: 'string', minLength: 1, maxLength }) as const;
const partList = { type: 'array', minItems: 1, maxItems: 32, uniqueItems: true, items: nonEmpty(128) } as const;

const sourceRef = {
  type: 'object',
  required: ['path', 'sha256', 'sizeBytes', 'detectedAt'],
  properties: {
    path: nonEmpty(4096),
    sha256: sha256Hex,
    sizeBytes: { type: 'integer', minimum: 0 },
    detectedAt: isoTime,
  },
} as const;

export const FILE_MESSAGE_SCHEMA = {
  $id: 'https://edgeml.example/schemas/edgeml.file.v1.json',
  title: SCHEMAS.file,
  type: 'object',
  required: ['schema', 'id', 'messageId', 'attempt', 'source', 'detectedAt', 'stableAt', 'createdAt'],
  properties: {
    schema: { const: SCHEMAS.file },
    id: sha256Hex,
    messageId: nonEmpty(256),
    attempt: { type: 'integer', minimum: 1 },
    doneParts: partList,
    source: {
      ...sourceRef,
      required: [...sourceRef.required, 'name', 'extension', 'kind', 'mtimeMs'],
      properties: {
        ...sourceRef.properties,
        name: nonEmpty(1024),
        extension: { type: 'string', maxLength: 64 },
        kind: { enum: ['image', 'table', 'other'] },
        mtimeMs: { type: 'number', minimum: 0 },
      },
    },
    detectedAt: isoTime,
    stableAt: isoTime,
    createdAt: isoTime,
  },
} as const;

const imagePreprocessingSpec = {
  type: 'object',
  required: ['width', 'height', 'resize', 'colorOrder', 'layout', 'dtype', 'scale', 'mean', 'std', 'background'],
  properties: {
    width: { type: 'integer', minimum: 1, maximum: 16384 },
    height: { type: 'integer', minimum: 1, maximum: 16384 },
    resize: { enum: ['fill', 'contain', 'cover', 'padRight'] },
    colorOrder: { enum: ['RGB', 'BGR'] },
    layout: { enum: ['NCHW', 'NHWC'] },
    dtype: { enum: ['float32', 'uint8'] },
    scale: { type: 'number' },
    mean: { type: 'array', minItems: 3, maxItems: 3, items: { type: 'number' } },
    std: { type: 'array', minItems: 3, maxItems: 3, items: { type: 'number', exclusiveMinimum: 0 } },
    background: { type: 'array', minItems: 3, maxItems: 3, items: { type: 'number', minimum: 0, maximum: 255 } },
    widthStep: { type: 'integer', minimum: 1, maximum: 16384 },
  },
} as const;

/** A table profile's spec (messages.ts TablePreprocessingSpec). */
const tablePreprocessingSpec = {
  type: 'object',
  required: ['kind', 'columns', 'mean', 'std', 'missing', 'windowRows', 'dtype'],
  properties: {
    kind: { const: 'table' },
    columns: { type: 'array', minItems: 1, maxItems: 1024, items: { type: 'string', minLength: 1, maxLength: 256 } },
    mean: { type: 'array', minItems: 1, maxItems: 1024, items: { type: 'number' } },
    std: { type: 'array', minItems: 1, maxItems: 1024, items: { type: 'number', exclusiveMinimum: 0 } },
    missing: { enum: ['mean', 'zero'] },
    windowRows: { type: 'integer', minimum: 1, maximum: 1_048_576 },
    dtype: { const: 'float32' },
  },
} as const;

const preprocessingSpec = { anyOf: [imagePreprocessingSpec, tablePreprocessingSpec] } as const;

/** A table window's rows (messages.ts PreprocessingInfo.rows). */
const tableRows = {
  type: 'object',
  required: ['first', 'count'],
  properties: { first: { type: 'integer', minimum: 0 }, count: { type: 'integer', minimum: 1 } },
} as const;

const modelRef = {
  type: 'object',
  required: ['name', 'version', 'sha256'],
  properties: { name: nonEmpty(128), version: nonEmpty(64), sha256: sha256Hex, digest: { type: 'string', pattern: '^sha256:[0-9a-f]{64}$' } },
} as const;

const point = { type: 'array', minItems: 2, maxItems: 2, items: { type: 'number' } } as const;
const bbox = {
  type: 'object',
  required: ['x', 'y', 'width', 'height'],
  properties: { x: { type: 'number' }, y: { type: 'number' }, width: { type: 'number', minimum: 0 }, height: { type: 'number', minimum: 0 } },
} as const;
const chainName = { type: 'string', pattern: CHAIN_NAME_PATTERN } as const;
const orientationDecision = {
  type: 'object',
  required: ['label', 'score', 'rotated'],
  properties: { label: nonEmpty(64), score: { type: 'number' }, rotated: { type: 'boolean' }, model: modelRef },
} as const;
const tensorRef = {
  type: 'object',
  required: ['path', 'sha256', 'dtype', 'shape', 'layout'],
  properties: {
    path: nonEmpty(4096),
    sha256: sha256Hex,
    dtype: { enum: ['float32', 'uint8'] },
    shape: { type: 'array', minItems: 1, maxItems: 8, items: { type: 'integer', minimum: 1 } },
    layout: { enum: ['NCHW', 'NHWC', 'NC'] },
  },
} as const;
const preprocessingInfo = {
  type: 'object',
  required: ['profile', 'signature', 'spec'],
  properties: {
    profile: nonEmpty(64),
    signature: nonEmpty(128),
    spec: preprocessingSpec,
    geometry: { type: 'object' },
    rows: tableRows,
  },
} as const;

/** The `chain` field of a crop tensor and its result (chains.ts `ChainLink`). */
const chainLink = {
  type: 'object',
  description: 'An inference chain crop: which chain, run (the detection result message id), step and crop.',
  required: ['name', 'run', 'step', 'index', 'count'],
  properties: {
    name: chainName,
    run: nonEmpty(256),
    step: { enum: [...CHAIN_STEPS] },
    index: { type: 'integer', minimum: 0, maximum: MAX_CHAIN_CROPS - 1 },
    count: { type: 'integer', minimum: 1, maximum: MAX_CHAIN_CROPS },
    next: {
      type: 'object',
      required: ['tensor', 'preprocessing', 'contentWidth'],
      properties: { tensor: tensorRef, preprocessing: preprocessingInfo, contentWidth: { type: 'integer', minimum: 1 } },
    },
    orientation: orientationDecision,
  },
} as const;

export const TENSOR_MESSAGE_SCHEMA = {
  $id: 'https://edgeml.example/schemas/edgeml.tensor.v1.json',
  title: SCHEMAS.tensor,
  type: 'object',
  required: ['schema', 'id', 'messageId', 'source', 'part', 'expectedParts', 'tensor', 'preprocessing', 'createdAt'],
  properties: {
    schema: { const: SCHEMAS.tensor },
    id: sha256Hex,
    messageId: nonEmpty(256),
    source: sourceRef,
    part: nonEmpty(128),
    expectedParts: partList,
    tensor: {
      type: 'object',
      required: ['path', 'sha256', 'dtype', 'shape', 'layout'],
      properties: {
        path: nonEmpty(4096),
        sha256: sha256Hex,
        dtype: { enum: ['float32', 'uint8'] },
        shape: { type: 'array', minItems: 1, maxItems: 8, items: { type: 'integer', minimum: 1 } },
        layout: { enum: ['NCHW', 'NHWC', 'NC'] },
      },
    },
    preprocessing: {
      type: 'object',
      required: ['profile', 'signature', 'spec'],
      properties: {
        profile: nonEmpty(64),
        signature: nonEmpty(128),
        spec: preprocessingSpec,
        geometry: { type: 'object' },
        rows: tableRows,
      },
    },
    chain: chainLink,
    createdAt: isoTime,
  },
} as const;

export const ARTIFACT_MESSAGE_SCHEMA = {
  $id: 'https://edgeml.example/schemas/edgeml.artifact.v1.json',
  title: SCHEMAS.artifact,
  type: 'object',
  required: ['schema', 'id', 'messageId', 'source', 'part', 'expectedParts', 'artifact', 'createdAt'],
  properties: {
    schema: { const: SCHEMAS.artifact },
    id: sha256Hex,
    messageId: nonEmpty(256),
    source: sourceRef,
    part: nonEmpty(128),
    expectedParts: partList,
    artifact: {
      type: 'object',
      required: ['path', 'sha256', 'sizeBytes', 'kind', 'format', 'contentType', 'metadata'],
      properties: {
        path: nonEmpty(4096),
        sha256: sha256Hex,
        sizeBytes: { type: 'integer', minimum: 0 },
        kind: { enum: ['image', 'table', 'raw'] },
        format: nonEmpty(32),
        contentType: nonEmpty(128),
        metadata: { type: 'object' },
      },
    },
    createdAt: isoTime,
  },
} as const;

/** A candidate model's answer beside the result's own (shadow or canary rollout). */
const resultComparison = {
  type: 'object',
  required: ['mode', 'model', 'agrees'],
  properties: {
    mode: { enum: ['shadow', 'canary'] },
    model: modelRef,
    agrees: { type: 'boolean' },
    label: { type: 'string' },
    score: { type: 'number' },
  },
} as const;

export const RESULT_MESSAGE_SCHEMA = {
  $id: 'https://edgeml.example/schemas/edgeml.inference.result.v1.json',
  title: SCHEMAS.result,
  type: 'object',
  required: ['schema', 'id', 'messageId', 'source', 'part', 'expectedParts', 'model', 'runtime', 'outputs', 'createdAt'],
  properties: {
    schema: { const: SCHEMAS.result },
    id: sha256Hex,
    messageId: nonEmpty(256),
    source: sourceRef,
    part: nonEmpty(128),
    expectedParts: partList,
    model: modelRef,
    runtime: {
      type: 'object',
      required: ['provider', 'batchSize', 'queueMs', 'inferMs'],
      properties: {
        provider: nonEmpty(64),
        batchSize: { type: 'integer', minimum: 1 },
        queueMs: { type: 'number', minimum: 0 },
        inferMs: { type: 'number', minimum: 0 },
      },
    },
    outputs: {
      type: 'object',
      description: 'Post-processor output. classification: {label, score, top: [{label, score}]}.',
      properties: {
        label: { type: 'string' },
        score: { type: 'number' },
        top: { type: 'array', items: { type: 'object', required: ['label', 'score'], properties: { label: { type: 'string' }, score: { type: 'number' } } } },
      },
    },
    comparison: resultComparison,
    chain: chainLink,
    createdAt: isoTime,
  },
} as const;

export const HARD_EXAMPLE_MESSAGE_SCHEMA = {
  $id: 'https://edgeml.example/schemas/edgeml.hard-example.v1.json',
  title: SCHEMAS.hardExample,
  type: 'object',
  required: ['schema', 'id', 'messageId', 'source', 'part', 'profile', 'reasons', 'model', 'image', 'dataset', 'createdAt'],
  properties: {
    schema: { const: SCHEMAS.hardExample },
    id: sha256Hex,
    messageId: nonEmpty(256),
    source: sourceRef,
    part: nonEmpty(128),
    profile: nonEmpty(64),
    reasons: { type: 'array', minItems: 1, uniqueItems: true, items: { enum: ['lowConfidence', 'disagreement'] } },
    model: modelRef,
    label: { type: 'string', maxLength: 256 },
    score: { type: 'number' },
    comparison: resultComparison,
    image: { type: 'object', required: ['blob', 'url'], properties: { blob: nonEmpty(1024), url: nonEmpty(2048) } },
    dataset: { type: 'object', required: ['folder', 'blob'], properties: { folder: nonEmpty(1024), blob: nonEmpty(1024) } },
    createdAt: isoTime,
  },
} as const;

const chainBox = {
  points: { type: 'array', minItems: 4, maxItems: 4, items: point },
  bbox,
} as const;

export const CROPS_MESSAGE_SCHEMA = {
  $id: 'https://edgeml.example/schemas/edgeml.crops.v1.json',
  title: SCHEMAS.crops,
  description: 'How one detection became crops for an inference chain (transformer → aggregator).',
  type: 'object',
  required: ['schema', 'id', 'messageId', 'source', 'part', 'expectedParts', 'chain', 'detection', 'crops', 'droppedBoxes', 'createdAt'],
  properties: {
    schema: { const: SCHEMAS.crops },
    id: sha256Hex,
    messageId: nonEmpty(256),
    source: sourceRef,
    part: nonEmpty(128),
    expectedParts: partList,
    chain: {
      type: 'object',
      required: ['name', 'run', 'orientation', 'reader'],
      properties: { name: chainName, run: nonEmpty(256), orientation: { type: ['string', 'null'], maxLength: 64 }, reader: nonEmpty(64) },
    },
    detection: {
      type: 'object',
      required: ['part', 'messageId', 'model'],
      properties: { part: nonEmpty(128), messageId: nonEmpty(256), model: modelRef },
    },
    crops: {
      type: 'array',
      maxItems: MAX_CHAIN_CROPS,
      items: {
        type: 'object',
        required: ['index', 'row', 'points', 'bbox', 'score', 'width', 'height', 'rotated90'],
        properties: {
          index: { type: 'integer', minimum: 0 },
          row: { type: 'integer', minimum: 0 },
          ...chainBox,
          score: { type: 'number' },
          width: { type: 'integer', minimum: 1 },
          height: { type: 'integer', minimum: 1 },
          rotated90: { type: 'boolean' },
        },
      },
    },
    droppedBoxes: { type: 'integer', minimum: 0 },
    skipped: { type: 'string', maxLength: 1024 },
    createdAt: isoTime,
  },
} as const;

export const CHAIN_RESULT_MESSAGE_SCHEMA = {
  $id: 'https://edgeml.example/schemas/edgeml.chain.result.v1.json',
  title: SCHEMAS.chainResult,
  description: 'Everything one inference chain found in one source file: each detected region with what the last step read (text and confidence, or label and score).',
  type: 'object',
  required: ['schema', 'id', 'messageId', 'source', 'part', 'expectedParts', 'chain', 'run', 'models', 'items', 'text', 'upsideDown', 'minConfidence', 'droppedBoxes', 'createdAt'],
  properties: {
    schema: { const: SCHEMAS.chainResult },
    id: sha256Hex,
    messageId: nonEmpty(256),
    source: sourceRef,
    part: nonEmpty(128),
    expectedParts: partList,
    chain: chainName,
    run: nonEmpty(256),
    models: {
      type: 'object',
      required: ['detector'],
      properties: { detector: modelRef, orientation: modelRef, reader: modelRef },
    },
    items: {
      type: 'array',
      maxItems: MAX_CHAIN_CROPS,
      items: {
        type: 'object',
        required: ['index', 'row', 'points', 'bbox', 'accepted', 'detectionScore'],
        properties: {
          index: { type: 'integer', minimum: 0 },
          row: { type: 'integer', minimum: 0 },
          ...chainBox,
          text: { type: 'string', maxLength: 4096 },
          confidence: { type: 'number', minimum: 0, maximum: 1 },
          label: { type: 'string', maxLength: 256 },
          score: { type: 'number' },
          accepted: { type: 'boolean' },
          detectionScore: { type: 'number' },
          orientation: orientationDecision,
        },
      },
    },
    text: { type: 'string', maxLength: 131_072 },
    upsideDown: { type: 'boolean' },
    minConfidence: { type: 'number', minimum: 0, maximum: 1 },
    droppedBoxes: { type: 'integer', minimum: 0 },
    skipped: { type: 'string', maxLength: 1024 },
    createdAt: isoTime,
  },
} as const;

export const COMPLETION_MESSAGE_SCHEMA = {
  $id: 'https://edgeml.example/schemas/edgeml.completion.v1.json',
  title: SCHEMAS.completion,
  type: 'object',
  required: ['schema', 'id', 'messageId', 'part', 'expectedParts', 'outcome', 'module', 'createdAt'],
  properties: {
    schema: { const: SCHEMAS.completion },
    id: sha256Hex,
    messageId: nonEmpty(256),
    part: nonEmpty(128),
    expectedParts: partList,
    outcome: { enum: ['uploaded', 'deadLettered', 'deferred', 'held'] },
    module: nonEmpty(64),
    code: nonEmpty(64),
    reason: { type: 'string', maxLength: 4096 },
    retryAfterMs: { type: 'integer', minimum: 0, maximum: 86_400_000 },
    leaseMs: { type: 'integer', minimum: 1_000, maximum: 86_400_000 },
    blob: {
      type: 'object',
      required: ['sink', 'name', 'md5'],
      properties: { sink: { enum: ['blob', 'directory'] }, name: nonEmpty(1024), md5: nonEmpty(64) },
    },
    createdAt: isoTime,
  },
  // The non-final outcomes are only meaningful with their timing field.
  allOf: [
    { if: { properties: { outcome: { const: 'deferred' } } }, then: { required: ['retryAfterMs'] } },
    { if: { properties: { outcome: { const: 'held' } } }, then: { required: ['leaseMs'] } },
  ],
} as const;

export const ALERT_MESSAGE_SCHEMA = {
  $id: 'https://edgeml.example/schemas/edgeml.alert.v1.json',
  title: SCHEMAS.alert,
  type: 'object',
  required: ['schema', 'messageId', 'module', 'severity', 'code', 'message', 'createdAt'],
  properties: {
    schema: { const: SCHEMAS.alert },
    messageId: nonEmpty(256),
    module: nonEmpty(64),
    severity: { enum: ['info', 'warning', 'error', 'critical'] },
    code: nonEmpty(64),
    message: { type: 'string', maxLength: 8192 },
    id: sha256Hex,
    details: { type: 'object' },
    createdAt: isoTime,
  },
} as const;

const rolloutModel = {
  type: 'object',
  required: ['name', 'version', 'digest'],
  properties: { name: nonEmpty(128), version: nonEmpty(64), digest: { type: 'string', pattern: '^sha256:[0-9a-f]{64}$' }, artifact: { type: ['string', 'null'] } },
} as const;

export const ROLLOUT_MESSAGE_SCHEMA = {
  $id: 'https://edgeml.example/schemas/edgeml.rollout.v1.json',
  title: SCHEMAS.rollout,
  type: 'object',
  required: ['schema', 'messageId', 'module', 'profile', 'event', 'mode', 'candidate', 'live', 'createdAt'],
  properties: {
    schema: { const: SCHEMAS.rollout },
    messageId: nonEmpty(256),
    module: nonEmpty(64),
    profile: nonEmpty(32),
    event: { enum: ['started', 'progress', 'promoted', 'rolledBack', 'refused'] },
    mode: { enum: ['shadow', 'canary'] },
    candidate: { type: 'object' },
    live: { oneOf: [rolloutModel, { type: 'null' }] },
    thresholds: { type: 'object' },
    figures: {
      type: 'object',
      description: 'items, agreed, disagreed, candidateErrors, agreement, errorRate, liveMsPerItem, candidateMsPerItem, latencyRatio, consecutiveErrors',
    },
    reason: { type: ['string', 'null'] },
    createdAt: isoTime,
  },
} as const;

export const SHARE_FILE_EVENT_SCHEMA = {
  $id: 'https://edgeml.example/schemas/ase.fileevent.json',
  title: 'Azure Stack Edge FileEvent',
  type: 'object',
  required: ['ChangeType', 'ShareRelativeFilePath', 'ShareName'],
  properties: {
    ChangeType: nonEmpty(64),
    ShareRelativeFilePath: nonEmpty(4096),
    ShareName: nonEmpty(256),
  },
} as const;

export const MESSAGE_SCHEMAS = {
  [SCHEMAS.file]: FILE_MESSAGE_SCHEMA,
  [SCHEMAS.tensor]: TENSOR_MESSAGE_SCHEMA,
  [SCHEMAS.artifact]: ARTIFACT_MESSAGE_SCHEMA,
  [SCHEMAS.result]: RESULT_MESSAGE_SCHEMA,
  [SCHEMAS.completion]: COMPLETION_MESSAGE_SCHEMA,
  [SCHEMAS.alert]: ALERT_MESSAGE_SCHEMA,
  [SCHEMAS.hardExample]: HARD_EXAMPLE_MESSAGE_SCHEMA,
  [SCHEMAS.rollout]: ROLLOUT_MESSAGE_SCHEMA,
  [SCHEMAS.crops]: CROPS_MESSAGE_SCHEMA,
  [SCHEMAS.chainResult]: CHAIN_RESULT_MESSAGE_SCHEMA,
} as const;
