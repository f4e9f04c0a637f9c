import { createRepeatLimiter, EdgeMLError, type DataPaths, type EdgeClient, type HardExampleReason, type Logger } from '@edgeml/shared';
import type { UploaderConfig } from './config.js';
import type { DurableQueue, QueueItem, ResultRow } from './queue.js';

/**
 * What every part of the uploader shares: the edge client, the clock, the queue, the configuration
 * in force and a log that says a repeated event once a minute. Each part takes this as an explicit
 * input and keeps its own state in its own fields (STYLE #18).
 */

export const MODULE_NAME = 'uploader';

/** What a completion needs to name the part it acknowledges. */
export interface PartAck {
  readonly id: string;
  readonly part: string;
  readonly expectedParts: readonly string[];
  readonly modelVersion?: string;
  /** A result line flagged as a hard example at intake (and within the hourly quota): why. */
  readonly hardExample?: readonly HardExampleReason[];
}

export type ItemPayload =
  | {
      readonly type: 'file';
      readonly name: string;
      /** Absolute path; a staging file, a share file (raw, never deleted) or our quarantine copy. */
      readonly file: string;
      /** True when the uploader may delete the file once uploaded (staging or quarantine copy). */
      readonly owned: boolean;
      readonly sizeBytes: number;
      readonly sha256: string;
      readonly contentType: string;
      readonly metadata: Readonly<Record<string, string>>;
      readonly ack: PartAck;
    }
  | { readonly type: 'batch'; readonly name: string; readonly windowStartMs: number; readonly lines: number };

export type UploadQueue = DurableQueue<ItemPayload, PartAck>;
export type UploadItem = QueueItem<ItemPayload>;
export type ResultLine = ResultRow<PartAck>;

/** The parts an item acknowledges: a file its own, a results batch one per line. */
export function acksOf(payload: ItemPayload, rows: readonly ResultLine[]): PartAck[] {
  return payload.type === 'file' ? [payload.ack] : rows.map((r) => r.ack);
}

export type LogOnce = (key: string, level: 'warn' | 'error', obj: Record<string, unknown>, msg: string) => void;

export interface UploaderContext {
  readonly edge: EdgeClient;
  readonly logger: Logger;
  readonly paths: DataPaths;
  readonly now: () => Date;
  readonly random: () => number;
  readonly deviceId: string;
  readonly moduleId: string;
  readonly queue: UploadQueue;
  /** Where quarantined copies and their records go. */
  readonly quarantineDir: string;
  /** The configuration in force. @throws EdgeMLError INTERNAL before the first `configure`. */
  settings(): UploaderConfig;
  nowMs(): number;
  /** Logs an event that may repeat: the first time, then once a minute with the count in between. */
  readonly logOnce: LogOnce;
}

/** A holder for the configuration in force, set by the composition root on every accepted twin change. */
export class Settings {
  #config: UploaderConfig | undefined;

  set(config: UploaderConfig): void {
    this.#config = config;
  }

  get configured(): boolean {
    return this.#config !== undefined;
  }

  current(): UploaderConfig {
    if (this.#config === undefined) throw new EdgeMLError('INTERNAL', 'the uploader was used before it was configured');
    return this.#config;
  }
}

export function createLogOnce(logger: Logger, nowMs: () => number): LogOnce {
  const shouldLog = createRepeatLimiter(60_000, nowMs);
  return (key, level, obj, msg) => {
    const r = shouldLog(key);
    if (r.log) logger[level]({ ...obj, ...(r.suppressed > 0 ? { repeatedSinceLastLog: r.suppressed } : {}) }, msg);
  };
}
