/**
 * Starts one of this module's worker threads (the session workers, the staging janitor).
 *
 * Under tsx (tests, benchmarks, `--conditions=@edgeml/source`) the module's files are TypeScript,
 * and Node 20 does not apply the parent's loader hooks to a worker's entry point: the worker then
 * registers tsx itself before importing its entry. Built code (dist/) starts the .js entry directly.
 *
 * @param from the caller's `import.meta.url`
 * @param name the entry's file name beside the caller, without its extension
 * @param workerData given to the worker as `workerData`
 */
import { Worker } from 'node:worker_threads';

export function spawnWorker(from: string, name: string, workerData?: unknown): Worker {
  const fromSource = from.endsWith('.ts');
  const entry = new URL(`./${name}.${fromSource ? 'ts' : 'js'}`, from);
  if (!fromSource) return new Worker(entry, { workerData });
  const bootstrap = `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(entry.href)}); })`;
  return new Worker(bootstrap, { eval: true, workerData });
}
