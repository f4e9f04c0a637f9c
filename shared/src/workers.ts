import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker, type WorkerOptions } from 'node:worker_threads';

/**
 * Starts a worker thread on the module `name` beside the caller (`callerUrl`: pass
 * `import.meta.url`): `<name>.js` in built code, `<name>.ts` when the caller itself runs from
 * TypeScript sources (tests and benchmarks under tsx). Node 20 does not apply the parent's
 * `--import tsx` loader hooks to a worker's entry module, so such a worker registers tsx first,
 * found from the caller's location (not the working directory).
 */
export function startWorker(callerUrl: string, name: string, options: Omit<WorkerOptions, 'eval'> = {}): Worker {
  const fromSource = callerUrl.endsWith('.ts');
  const entry = new URL(`${name}${fromSource ? '.ts' : '.js'}`, callerUrl);
  if (!fromSource) return new Worker(entry, options);
  // tsx may run the caller as CommonJS (no import.meta.resolve), and require.resolve finds the
  // CommonJS build of tsx/esm/api, which cannot register from a worker; its ES build sits beside it.
  const tsx = pathToFileURL(createRequire(callerUrl).resolve('tsx/esm/api').replace(/\.cjs$/, '.mjs')).href;
  return new Worker(`import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(entry.href)}); })`, { ...options, eval: true });
}
