/**
 * `$upstream`: the local stand-in for IoT Hub. Messages routed there are appended to `upstream.jsonl`
 * (one line each) and then shown to live listeners.
 *
 * Writes are asynchronous and grouped: the lines of one event-loop turn go out in one `write` while the
 * publish path goes on; one write is in flight at a time, so lines keep their order. A line's `written`
 * callback runs once the write returned (the line is in the file, so it survives a kill of the hub),
 * and the hub sends the PUBACK only then.
 */
import { open, type FileHandle } from 'node:fs/promises';
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

interface PendingLine {
  readonly record: UpstreamRecord;
  readonly line: string;
  readonly written: (err: Error | undefined) => void;
}

export class UpstreamJournal {
  readonly file: string;
  readonly #listeners = new Set<(r: UpstreamRecord) => void>();
  readonly #logger: Logger;
  #pending: PendingLine[] = [];
  #handle: Promise<FileHandle> | undefined;
  #writing: Promise<void> | undefined;
  #scheduled = false;
  #closed = false;

  constructor(file: string, logger: Logger) {
    this.file = file;
    this.#logger = logger;
  }

  /** Queues one line; `written` runs once it is in the file (or with the write error). */
  append(record: UpstreamRecord, written: (err: Error | undefined) => void): void {
    if (this.#closed) {
      written(new Error('the $upstream journal is closed'));
      return;
    }
    this.#pending.push({ record, line: `${JSON.stringify(record)}\n`, written });
    if (this.#writing === undefined && !this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => {
        this.#scheduled = false;
        this.#writeNext();
      });
    }
  }

  /** Returns the unsubscribe function. */
  listen(listener: (record: UpstreamRecord) => void): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  /** Writes what is pending, then closes the file. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    while (this.#writing !== undefined || this.#pending.length > 0) {
      if (this.#writing === undefined) this.#writeNext();
      await this.#writing;
    }
    const handle = this.#handle;
    this.#handle = undefined;
    if (handle !== undefined) await (await handle).close();
  }

  #writeNext(): void {
    if (this.#writing !== undefined || this.#pending.length === 0) return;
    const batch = this.#pending;
    this.#pending = [];
    this.#writing = (async () => {
      let error: Error | undefined;
      try {
        this.#handle ??= open(this.file, 'a');
        const handle = await this.#handle;
        await handle.appendFile(batch.map((p) => p.line).join(''));
      } catch (err: unknown) {
        error = err instanceof Error ? err : new Error(String(err));
        this.#handle = undefined;
        this.#logger.error({ err, lines: batch.length }, '$upstream journal write failed; the publishes are not acknowledged and will be sent again');
      }
      for (const p of batch) p.written(error);
      if (error === undefined) for (const p of batch) this.#notify(p.record);
    })().finally(() => {
      this.#writing = undefined;
      if (this.#pending.length > 0) this.#writeNext();
    });
  }

  #notify(record: UpstreamRecord): void {
    for (const l of this.#listeners) {
      try {
        l(record);
      } catch (err: unknown) {
        this.#logger.error({ err }, 'upstream listener threw');
      }
    }
  }
}
