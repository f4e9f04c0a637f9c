import path from 'node:path';
import { moveFile, sendAlert, writeFileAtomic } from '@edgeml/shared';
import type { Acknowledger } from './acks.js';
import type { Classified } from './classify.js';
import { acksOf, type ResultLine, type UploadItem, type UploaderContext } from './context.js';
import type { UploaderMetrics } from './metrics.js';

/**
 * Parks an item whose content is at fault so the queue moves on: the data goes to
 * `state/uploader/quarantine/<seq>-…` with `<seq>.error.json` saying why, each part is
 * acknowledged `deadLettered`, and one alert goes out. `retryQuarantined` puts it back.
 */
export class Quarantine {
  readonly #ctx: UploaderContext;
  readonly #acks: Acknowledger;
  readonly #metrics: UploaderMetrics;

  constructor(ctx: UploaderContext, acks: Acknowledger, metrics: UploaderMetrics) {
    this.#ctx = ctx;
    this.#acks = acks;
    this.#metrics = metrics;
  }

  /** Whether `file` is one of our quarantine copies (deleted once it is uploaded after all). */
  holds(file: string): boolean {
    return file.startsWith(this.#ctx.quarantineDir);
  }

  /** `knownRows`: a batch's lines when the caller has them already. */
  async park(item: UploadItem, c: Classified, reason: string, knownRows: readonly ResultLine[]): Promise<void> {
    const { queue, quarantineDir, logger } = this.#ctx;
    let payload = item.payload;
    const base = path.join(quarantineDir, `${item.seq}`);
    const rows = payload.type === 'batch' ? (knownRows.length > 0 ? knownRows : queue.batchRows(item.seq)) : [];
    try {
      if (payload.type === 'file' && payload.owned && !this.holds(payload.file)) {
        const dest = `${base}-${path.basename(payload.file)}`;
        await moveFile(payload.file, dest);
        payload = { ...payload, file: dest };
      }
      if (payload.type === 'batch') await writeFileAtomic(`${base}-batch.jsonl`, rows.map((r) => r.line).join('\n') + '\n');
      await writeFileAtomic(
        `${base}.error.json`,
        JSON.stringify({ key: item.key, class: item.cls, code: c.code, reason, attempts: item.attempts + 1, at: this.#ctx.now().toISOString(), payload }, null, 2),
      );
    } catch (err: unknown) {
      logger.error({ err, key: item.key }, 'could not write the quarantine copy; the item is quarantined in the queue only');
    }
    const acks = acksOf(payload, rows);
    queue.quarantine(item.seq, { code: c.code, reason, payload, outbox: acks.map((a) => this.#acks.body(a, 'deadLettered', { code: c.code, reason })) });
    this.#acks.committed();
    this.#metrics.quarantined(c.code, acks.length);
    this.#ctx.logOnce(`quarantine:${c.code}`, 'error', { code: c.code, key: item.key, reason }, `quarantined ${payload.name}: ${reason}`);
    await sendAlert(
      this.#ctx.edge,
      logger,
      {
        severity: c.kind === 'permission' ? 'critical' : 'error',
        code: c.code,
        message: `upload of ${payload.name} quarantined: ${reason}`,
        ...(payload.type === 'file' ? { id: payload.ack.id } : {}),
        details: { key: item.key, class: item.cls, quarantine: quarantineDir },
      },
      this.#ctx.now,
    );
  }
}
