import { open, stat } from 'node:fs/promises';
import { sleep } from '@edgeml/shared';

/**
 * Hands each complete line of `file` to `onLine`, then, with `follow`, every line appended later, until
 * `signal` aborts. A file that is truncated or replaced is read again from its start; a missing file is
 * waited for. Polls every `pollMs` (default 500): reliable on every file system, unlike fs.watch.
 * With `follow`, `onCaughtUp` is called once, after the lines already in the file.
 */
export async function readLines(
  file: string,
  options: { follow: boolean; signal: AbortSignal; onLine: (line: string) => void; onCaughtUp?: () => void; pollMs?: number },
): Promise<void> {
  let offset = 0;
  let partial = '';
  const drain = async (): Promise<void> => {
    const size = await stat(file).then(
      (s) => s.size,
      () => 0,
    );
    if (size < offset) {
      offset = 0;
      partial = '';
    }
    if (size === offset) return;
    const handle = await open(file, 'r');
    try {
      const buffer = Buffer.alloc(size - offset);
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, offset);
      offset += bytesRead;
      const lines = (partial + buffer.subarray(0, bytesRead).toString('utf8')).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) if (line.length > 0) options.onLine(line);
    } finally {
      await handle.close();
    }
  };
  await drain();
  if (!options.follow) {
    if (partial.length > 0) options.onLine(partial);
    return;
  }
  options.onCaughtUp?.();
  while (!options.signal.aborted) {
    try {
      await sleep(options.pollMs ?? 500, options.signal);
    } catch (err: unknown) {
      if (options.signal.aborted) return; // the caller asked to stop following
      throw err;
    }
    await drain();
  }
}
