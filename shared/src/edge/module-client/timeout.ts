import { EdgeMLError, errorMessage } from '../../errors.js';

/** Bounds an SDK call that has no timeout of its own (twin GET, reported update: wire notes §7). @throws EdgeMLError TIMEOUT */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new EdgeMLError('TIMEOUT', `${what}: no answer within ${ms} ms`)), ms);
    promise.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err instanceof Error ? err : new Error(errorMessage(err)));
      },
    );
  });
}
