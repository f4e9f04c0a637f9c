/**
 * Desired properties from a mounted configuration file, standing in for the module twin where there
 * is no IoT Hub (Kubernetes: a ConfigMap key mounted as a file). The file holds the same JSON document
 * as the module's `properties.desired` in the deployment manifest. Every distinct content becomes a
 * `full` desired update, so the shared config binder validates, applies or rejects it and reports the
 * outcome exactly as it does for a twin; a file that does not parse is rejected with its problem.
 *
 * Change detection polls the content (a SHA-256 of the bytes) every `pollMs`, and a directory watch
 * makes it prompt: Kubernetes updates a mounted ConfigMap by swapping a `..data` symlink, which a watch
 * on the file itself misses, and network filesystems drop events, so the poll is the source of truth.
 */
import { createHash } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { errorMessage } from '../errors.js';
import type { Logger } from '../logging.js';
import type { DesiredUpdate } from './types.js';

export interface ConfigFileSourceOptions {
  readonly file: string;
  /** Period of the content check. */
  readonly pollMs: number;
  readonly logger: Logger;
}

export interface ConfigFileSource {
  /** Reads the file now and emits its document; then emits each change until close(). */
  start(emit: (update: DesiredUpdate) => void): Promise<void>;
  /** Idempotent. */
  close(): void;
}

/** Largest configuration file accepted; twins are limited to 32 KiB of desired properties. */
const MAX_CONFIG_FILE_BYTES = 256 * 1024;

/** Parses a configuration document: a JSON object, or the problems that make it unusable. */
export function parseConfigDocument(file: string, bytes: Buffer): { document: Record<string, unknown> } | { problems: string[] } {
  if (bytes.length > MAX_CONFIG_FILE_BYTES) return { problems: [`configuration file ${file} is ${bytes.length} bytes; the limit is ${MAX_CONFIG_FILE_BYTES}`] };
  let parsed: unknown;
  try {
    // Empty is refused rather than read as {}: it is what a writer that truncates first leaves for a moment.
    if (bytes.length === 0) return { problems: [`configuration file ${file} is empty`] };
    parsed = JSON.parse(bytes.toString('utf8'));
  } catch (err: unknown) {
    return { problems: [`configuration file ${file} is not valid JSON: ${errorMessage(err)}`] };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return { problems: [`configuration file ${file} must hold a JSON object`] };
  return { document: parsed as Record<string, unknown> };
}

export function createConfigFileSource(options: ConfigFileSourceOptions): ConfigFileSource {
  const { file, logger } = options;
  let emit: ((u: DesiredUpdate) => void) | undefined;
  let lastHash: string | undefined;
  let counter = 0;
  let timer: NodeJS.Timeout | undefined;
  let watcher: FSWatcher | undefined;
  let checking: Promise<void> | undefined;
  let closed = false;

  /** Reads until two reads 50 ms apart agree, so a file caught mid-write is not judged. */
  const readSettled = async (): Promise<Buffer> => {
    let bytes = await readFile(file);
    for (let i = 0; i < 10; i++) {
      await new Promise((r) => setTimeout(r, 50));
      const again = await readFile(file);
      if (again.equals(bytes)) return bytes;
      bytes = again;
    }
    return bytes;
  };

  const check = async (force: boolean): Promise<void> => {
    let bytes: Buffer;
    try {
      bytes = await readFile(file);
      const hash = createHash('sha256').update(bytes).digest('hex');
      if (!force && hash === lastHash) return;
      bytes = await readSettled();
    } catch (err: unknown) {
      const hash = `unreadable:${(err as NodeJS.ErrnoException).code ?? 'error'}`;
      if (!force && hash === lastHash) return;
      lastHash = hash;
      counter++;
      emit?.({ kind: 'full', properties: { $version: counter }, problems: [`configuration file ${file} cannot be read: ${errorMessage(err)}`] });
      return;
    }
    const hash = createHash('sha256').update(bytes).digest('hex');
    if (!force && hash === lastHash) return;
    lastHash = hash;
    counter++;
    const parsed = parseConfigDocument(file, bytes);
    if ('problems' in parsed) {
      emit?.({ kind: 'full', properties: { $version: counter }, problems: parsed.problems });
      return;
    }
    // An explicit numeric $version in the file (an operator's own) is reported as the version.
    const version = typeof parsed.document['$version'] === 'number' ? parsed.document['$version'] : counter;
    logger.info({ file, version, sha256: hash.slice(0, 16) }, 'configuration file read');
    emit?.({ kind: 'full', properties: { ...parsed.document, $version: version } });
  };

  const schedule = (force: boolean): Promise<void> => {
    // Serialised: a watch event during a poll waits for it, so updates are emitted in order.
    const next = (checking ?? Promise.resolve()).then(() => (closed ? undefined : check(force)));
    checking = next.catch((err: unknown) => logger.warn({ err, file }, `configuration file check failed: ${errorMessage(err)}`));
    return checking;
  };

  return {
    async start(listener) {
      emit = listener;
      await schedule(true);
      timer = setInterval(() => void schedule(false), options.pollMs);
      timer.unref();
      try {
        watcher = watch(path.dirname(file), { persistent: false }, () => void schedule(false));
        watcher.on('error', (err) => logger.warn({ err, file }, 'configuration directory watch failed; polling only'));
      } catch (err: unknown) {
        logger.warn({ err, file }, `configuration directory cannot be watched; polling only: ${errorMessage(err)}`);
      }
    },
    close() {
      closed = true;
      if (timer !== undefined) clearInterval(timer);
      watcher?.close();
      timer = undefined;
      watcher = undefined;
    },
  };
}
