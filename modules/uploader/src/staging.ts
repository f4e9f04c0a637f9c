import { rm, rmdir } from 'node:fs/promises';
import path from 'node:path';
import { isWithin } from '@edgeml/shared';
import type { UploaderContext } from './context.js';

/**
 * Deletes a staging file the uploader owns (uploaded, or a duplicate of something uploaded), and its
 * per-content directory once empty (the transformer stages under staging/<id>/). Callers make sure
 * the file is no longer the only copy first: its upload was recorded durably. Never throws.
 */
export async function removeStagingFile(ctx: Pick<UploaderContext, 'paths' | 'logger' | 'logOnce'>, file: string): Promise<void> {
  try {
    await rm(file, { force: true });
    const dir = path.dirname(file);
    if (isWithin(ctx.paths.staging, dir) && dir !== ctx.paths.staging) {
      await rmdir(dir).catch((err: unknown) => {
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== 'ENOTEMPTY' && code !== 'EEXIST' && code !== 'ENOENT') ctx.logger.debug({ err, dir }, 'staging directory not removed');
      });
    }
  } catch (err: unknown) {
    ctx.logOnce('rm-staging', 'warn', { err, file }, 'could not delete an uploaded staging file');
  }
}
