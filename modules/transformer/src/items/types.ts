import type { DataPaths, FileMessage, Logger } from '@edgeml/shared';
import type { TransformerConfig } from '../config.js';
import type { TransformerMetrics } from '../metrics.js';
import type { Outputs } from '../outputs.js';

/** What every item handler works with. */
export interface ItemDeps {
  readonly paths: DataPaths;
  readonly outputs: Outputs;
  readonly metrics: TransformerMetrics;
  readonly logger: Logger;
  readonly now: () => Date;
  /** Aborts when the module stops; long work checks it. */
  readonly signal: AbortSignal;
}

/**
 * Turns one source file (already resolved inside the share and found non-empty) into its outputs:
 * every file written, then every message sent. Throws to dead-letter the source (an EdgeMLError with
 * a dead-letter code), or EDGE_SEND_FAILED when the outputs could not be sent.
 */
export type ItemHandler = (msg: FileMessage, file: string, sizeBytes: number, config: TransformerConfig) => Promise<void>;
