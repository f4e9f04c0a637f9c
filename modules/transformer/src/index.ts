export { transformerModule, transformerSelfCheck } from './module.js';
export { createTransformerApp, type TransformerApp, type TransformerParts } from './app.js';
export { StatusBook, StatusReporter, type TransformerStatus, type TransformerCounts } from './status.js';
export { WorkSlots, type SlotLimits } from './slots.js';
export { createIntake, describeInvalid, SHED_RETRY_AFTER_MS } from './intake.js';
export { Outputs, type ItemContext, type Outgoing } from './outputs.js';
export {
  TRANSFORMER_CONFIG_SCHEMA,
  TRANSFORMER_DEFAULTS,
  DEFAULT_PROFILES,
  DEFAULT_CHAINS,
  type ChainConfig,
  COLUMN_TYPES,
  buildTransformerConfig,
  profileSpec,
  type TransformerConfig,
  type ImageProfileConfig,
  type ColumnType,
} from './config.js';
export { DEAD_LETTER_CODES, contentChanged, deadLetterCodeOf, type DeadLetterCode } from './errors.js';
export { planResize, geometryOf, tensorToSource, orientedSize, fitInside, workingSize, type ResizePlan } from './image/geometry.js';
export { toTensor, normalizeInto, normalizeValue, tensorShape, type CanvasPlacement, type RgbPixels, type Tensor } from './image/tensor.js';
export { buildTensorFile, tensorFileBytes, type TensorFile, type TensorFileJob } from './image/tensor-file.js';
export { TensorWorkerPool, createInlineTensorEncoder, spawnTensorWorker, type TensorEncoder, type EncodedTensor } from './image/tensor-pool.js';
// The tensor file format is a shared contract; re-exported for tests and benchmarks.
export { encodeNpy, encodeNpyHeader, decodeNpy, type NpyArray } from '@edgeml/shared';
export { configureSharp, probeImage, decodeImage, resizeRaster, encodeRaster, encodeRgb, type ImageProbe, type Raster, type EncodedImage } from './image/sharp.js';
export { classifyText, classifyJson, fitsType, widen, parseTimestampText, parseFloatText, parseBoolText, isInt64Text } from './table/values.js';
export { parseJsonExact, stringifyJsonExact } from './table/json-exact.js';
export { detectDelimiter, detectHeader, columnNames, delimiterCounts, DELIMITER_CANDIDATES, type Delimiter } from './table/sniff.js';
export { CsvSplitter } from './table/csv.js';
export { convertCsvToParquet, type ParquetTableResult, type ParquetInput } from './table/parquet.js';
export { createDuckDbEngine, type DuckDbEngine, type DuckDbSession, type DuckDbSettings } from './table/duckdb.js';
export { checkFirstRecord, scanText } from './table/scan.js';
export { writeFeatureMatrix, cellNumber, type FeatureMatrixOptions, type FeatureMatrixResult, type FeatureWindow } from './table/features.js';
export { readRecords, headerDelimiter, type TableRecord } from './table/records.js';
export { DEFAULT_TABLE_PROFILES, tableProfileSpec, type TableProfileConfig } from './table/profile-config.js';
export { windowPart } from './items/table-tensors.js';
export { ColumnBuilder, ArrowFileSink, arrowSchema, arrowType, makeRecordBatch } from './table/arrow.js';
export {
  convertTable,
  completeUtf8Length,
  MAX_BATCH_TEXT_BYTES,
  MAX_BATCH_CELLS,
  type ConvertTableInput,
  type TableResult,
  type TableFormat,
  type TableOptions,
  type ColumnReport,
} from './table/convert.js';
export { createTransformerMetrics, timeStage, type TransformerMetrics } from './metrics.js';
export { orderQuad, quadSize, rectToQuad, warpQuad, rotate90ccw, scaleQuad, type Quad, type Point } from './image/crop.js';
export { turnTensorFile180 } from './image/tensor-turn.js';
export { selectCrops, readingOrder, decodeFactor, runTag, cropTensorName, chainIds, type CropJob, type CropSelection } from './chain/plan.js';
export { createCropStep, cropTensorProperties, type CropStep } from './chain/crop-step.js';
export { createOrientStep, orientationOf, turnedPath, type OrientStep } from './chain/orient-step.js';
export { createChainIntake, MISSING_CROP_RETRY_MS, type ChainIntakeDeps } from './chain/intake.js';
