/**
 * `$upstream`: the local stand-in for IoT Hub. Messages routed there are written to `upstream.jsonl`
 * (one line each) and shown to live listeners.
 */
import { appendFileSync } from 'node:fs';
import type { Logger } from '@edgeml/shared';

/** One line of `upstream.jsonl`. */
export interface UpstreamRecord {
  readonly receivedAt: string;
  readonly source: string;
  readonly systemProperties: Readonly<Record<string, string>>;
  readonly properties: Readonly<Record<string, string>>;
  /** The body parsed when it is JSON, otherwise its base64 text. */
  readonly body: unknown;
}

/** The body as the journal shows it: parsed when it is UTF-8 JSON, `''` when empty, base64 text otherwise. */
export function journalBody(body: Buffer): unknown {
  if (body.length === 0) return '';
  const text = body.toString('utf8');
  // Valid UTF-8 round-trips; anything else is binary.
  if (Buffer.byteLength(text) === body.length && !text.includes('\ufffd')) {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      // not JSON: fall through to base64
    }
  }
  return body.toString('base64');
}

export class UpstreamJournal {
  readonly file: string;
  readonly #listeners = new Set<(r: UpstreamRecord) => void>();
  readonly #logger: Logger;

  constructor(file: string, logger: Logger) {
    this.file = file;
    this.#logger = logger;
  }

  append(record: UpstreamRecord): void {
    appendFileSync(this.file, `${JSON.stringify(record)}\n`);
    for (const l of this.#listeners) {
      try {
        l(record);
      } catch (err: unknown) {
        this.#logger.error({ err }, 'upstream listener threw');
      }
    }
  }

  /** Returns the unsubscribe function. */
  listen(listener: (record: UpstreamRecord) => void): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }
}
