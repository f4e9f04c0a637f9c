import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createInterface } from 'node:readline';

/** Non-empty lines of a JSON-lines journal (0 when the file does not exist yet). */
export async function countLines(file: string): Promise<number> {
  try {
    await stat(file);
  } catch (err: unknown) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw err;
  }
  let n = 0;
  const rl = createInterface({ input: createReadStream(file), crlfDelay: Infinity });
  for await (const line of rl) if (line.trim().length > 0) n++;
  return n;
}
