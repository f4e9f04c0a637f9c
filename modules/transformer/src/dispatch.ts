import { stat } from 'node:fs/promises';
import { EdgeMLError, errorCode, errorMessage, resolveInside, type DataPaths, type FileMessage, type Logger } from '@edgeml/shared';
import type { TransformerConfig } from './config.js';
import type { ItemHandler } from './items/types.js';
import { timeStage, type TransformerMetrics } from './metrics.js';
import type { Outputs } from './outputs.js';
import type { StatusBook } from './status.js';

/** The handler of each file kind (`other` goes to `raw` only under unknownKinds: forwardRaw). */
export interface KindHandlers {
  readonly image: ItemHandler;
  readonly table: ItemHandler;
  readonly raw: ItemHandler;
}

/**
 * Runs one admitted item to exactly one outcome: forwarded; dead-lettered (the source's fault, or a
 * bug); left for the watcher's re-emission (outputs could not be sent, or the module is stopping).
 * Resolves the source inside the share, refuses empty files, then hands it to its kind's handler.
 */
export function createDispatcher(deps: {
  paths: DataPaths;
  handlers: KindHandlers;
  outputs: Outputs;
  book: StatusBook;
  metrics: TransformerMetrics;
  logger: Logger;
  signal: AbortSignal;
}): (msg: FileMessage, config: TransformerConfig) => Promise<void> {
  const { paths, handlers, outputs, book, metrics, logger, signal } = deps;
  return async (msg, c) => {
    const kind = msg.source.kind;
    const finished = book.activity.start();
    try {
      const file = await timeStage(metrics, 'resolve', () => resolveInside(paths.share, msg.source.path, { mustBeFile: true }));
      const { size } = await stat(file);
      metrics.inputBytes.inc({ kind }, size);
      if (size === 0) throw new EdgeMLError('INPUT_MALFORMED', 'the file is empty (0 bytes)');
      if (kind === 'image') await handlers.image(msg, file, size, c);
      else if (kind === 'table') await handlers.table(msg, file, size, c);
      else if (c.unknownKinds === 'forwardRaw') await handlers.raw(msg, file, size, c);
      else throw new EdgeMLError('UNSUPPORTED_KIND', `files of kind '${kind}' (${msg.source.extension || 'no extension'}) are not transformed; set unknownKinds to 'forwardRaw' to upload them as they are`);
      book.item(kind, 'forwarded');
      finished();
    } catch (err: unknown) {
      if (signal.aborted) {
        // Stopping: not the file's fault. Leave it; the watcher re-emits it after a restart.
        logger.info({ id: msg.id, path: msg.source.path }, 'stopped before this item finished; it will be re-emitted');
        return;
      }
      if (errorCode(err) === 'EDGE_SEND_FAILED') {
        book.item(kind, 'sendFailed');
        logger.error({ err, id: msg.id, path: msg.source.path }, `outputs could not be sent; the watcher will re-emit: ${errorMessage(err)}`);
        return;
      }
      await outputs.deadLetter({ id: msg.id, path: msg.source.path, kind }, err);
    }
  };
}
