import type { Worker } from 'node:worker_threads';
import { EdgeMLError, encodeNpyHeader, startWorker, type PreprocessingSpec } from '@edgeml/shared';
import { buildTensorFile, tensorFileBytes } from './tensor-file.js';
import { tensorShape, type CanvasPlacement, type RgbPixels } from './tensor.js';
import type { TensorWorkerRequest, TensorWorkerResponse } from './tensor-worker.js';

/** A tensor as a complete `.npy` file in one buffer, ready to be written with one call. */
export interface EncodedTensor {
  /** The whole file: header, then the data. */
  readonly bytes: Buffer;
  readonly sha256: string;
  readonly shape: readonly number[];
  readonly dtype: PreprocessingSpec['dtype'];
  readonly layout: PreprocessingSpec['layout'];
}

/** Normalises resized pixels into tensor files. */
export interface TensorEncoder {
  /**
   * @throws EdgeMLError INTERNAL (the pixels do not fit the canvas, or a worker died),
   *   ABORTED (the encoder was closed)
   */
  encode(pixels: RgbPixels, placement: CanvasPlacement, spec: PreprocessingSpec): Promise<EncodedTensor>;
  /** Hands a written tensor's buffer back for reuse; `tensor.bytes` must not be used afterwards. */
  recycle(tensor: EncodedTensor): void;
  /** Sets the number of threads (image.tensorWorkers); an encoder without threads ignores it. */
  setThreads(threads: number): void;
  /** Stops the threads; work still queued or running is rejected with ABORTED. Idempotent. */
  close(): Promise<void>;
}

/** Free tensor buffers kept for reuse, by size, at most `maxBytes` in all. */
class BufferRecycler {
  readonly #free = new Map<number, ArrayBuffer[]>();
  readonly #maxBytes: number;
  #bytes = 0;

  constructor(maxBytes: number) {
    this.#maxBytes = maxBytes;
  }

  take(byteLength: number): ArrayBuffer | undefined {
    const buffer = this.#free.get(byteLength)?.pop();
    if (buffer !== undefined) this.#bytes -= byteLength;
    return buffer;
  }

  give(buffer: ArrayBuffer): void {
    if (buffer.byteLength === 0 || this.#bytes + buffer.byteLength > this.#maxBytes) return;
    const list = this.#free.get(buffer.byteLength) ?? [];
    list.push(buffer);
    this.#free.set(buffer.byteLength, list);
    this.#bytes += buffer.byteLength;
  }
}

/**
 * Reused buffers kept per encoder: enough for a few det-sized (4.9 MB) tensors per thread, small
 * beside the decoded images in flight.
 */
const DEFAULT_MAX_RECYCLED_BYTES = 64 * 1024 * 1024;

function prepare(recycler: BufferRecycler, placement: CanvasPlacement, spec: PreprocessingSpec) {
  const shape = tensorShape({ layout: spec.layout, width: placement.outputWidth, height: placement.outputHeight });
  const header = encodeNpyHeader(spec.dtype, shape);
  const reuse = recycler.take(tensorFileBytes(header, placement, spec.dtype));
  return { shape, header, reuse };
}

function encoded(buffer: ArrayBuffer, sha256: string, shape: number[], spec: PreprocessingSpec): EncodedTensor {
  return { bytes: Buffer.from(buffer), sha256, shape, dtype: spec.dtype, layout: spec.layout };
}

/** The same work on the calling thread (tests, and the benchmark's main-thread candidate). */
export function createInlineTensorEncoder(options: { maxRecycledBytes?: number } = {}): TensorEncoder {
  const recycler = new BufferRecycler(options.maxRecycledBytes ?? DEFAULT_MAX_RECYCLED_BYTES);
  return {
    encode(pixels, placement, spec) {
      try {
        const { shape, header, reuse } = prepare(recycler, placement, spec);
        const file = buildTensorFile({ pixels, placement, spec, header, ...(reuse === undefined ? {} : { reuse }) });
        return Promise.resolve(encoded(file.buffer, file.sha256, shape, spec));
      } catch (err: unknown) {
        return Promise.reject(new EdgeMLError('INTERNAL', `tensor could not be built: ${(err as Error).message}`, { cause: err }));
      }
    },
    recycle: (tensor) => recycler.give(tensor.bytes.buffer as ArrayBuffer),
    setThreads: () => undefined,
    close: () => Promise.resolve(),
  };
}

interface Pending {
  readonly request: TensorWorkerRequest;
  readonly transfer: ArrayBuffer[];
  readonly shape: number[];
  readonly spec: PreprocessingSpec;
  readonly resolve: (t: EncodedTensor) => void;
  readonly reject: (err: unknown) => void;
}

interface PoolWorker {
  readonly worker: Worker;
  job: Pending | undefined;
  /** Set once the pool no longer counts on it (terminated on purpose, or lost). */
  gone: boolean;
}

/** Starts one worker thread running tensor-worker.{js,ts}. */
export function spawnTensorWorker(): Worker {
  return startWorker(import.meta.url, './tensor-worker');
}

/**
 * Tensor files built on worker threads, so normalising and hashing multi-megabyte tensors never
 * holds the main thread (message handling, sends, twin updates). Threads start on first use; at most
 * `threads` run, each one job at a time, jobs queue in order. A worker that dies fails its job
 * (INTERNAL) and is replaced on the next job. Buffers handed back with {@link recycle}, and the
 * buffers that carried pixels, travel to the worker with the next job of the same size (transferred,
 * not copied).
 */
export class TensorWorkerPool implements TensorEncoder {
  #threads: number;
  readonly #spawn: () => Worker;
  readonly #recycler: BufferRecycler;
  readonly #workers = new Set<PoolWorker>();
  readonly #idle: PoolWorker[] = [];
  readonly #queue: Pending[] = [];
  #nextId = 1;
  #closing: Promise<void> | undefined;

  constructor(options: { threads: number; maxRecycledBytes?: number; spawn?: () => Worker }) {
    this.#threads = options.threads;
    this.#spawn = options.spawn ?? (() => spawnTensorWorker());
    this.#recycler = new BufferRecycler(options.maxRecycledBytes ?? DEFAULT_MAX_RECYCLED_BYTES);
  }

  /** Threads now running (started on demand, up to the configured number). */
  get size(): number {
    return this.#workers.size;
  }

  /** Changes the number of threads: extra idle ones stop now, busy ones after their job. */
  setThreads(threads: number): void {
    this.#threads = threads;
    while (this.#workers.size > this.#threads && this.#idle.length > 0) this.#retire(this.#idle.pop()!);
    this.#pump();
  }

  encode(pixels: RgbPixels, placement: CanvasPlacement, spec: PreprocessingSpec): Promise<EncodedTensor> {
    if (this.#closing !== undefined) return Promise.reject(new EdgeMLError('ABORTED', 'the tensor pool is closed'));
    let prepared: ReturnType<typeof prepare>;
    try {
      prepared = prepare(this.#recycler, placement, spec);
    } catch (err: unknown) {
      return Promise.reject(new EdgeMLError('INTERNAL', `tensor could not be built: ${(err as Error).message}`, { cause: err }));
    }
    const { shape, header, reuse } = prepared;
    // The pixels travel in a buffer of their own, transferred there and back and reused: copying
    // them here is cheaper than letting the worker allocate fresh memory for each job (page faults).
    const staged = this.#recycler.take(pixels.data.byteLength) ?? new ArrayBuffer(pixels.data.byteLength);
    const data = new Uint8Array(staged);
    data.set(pixels.data);
    const job = { pixels: { data, width: pixels.width, height: pixels.height }, placement, spec, header, ...(reuse === undefined ? {} : { reuse }) };
    return new Promise<EncodedTensor>((resolve, reject) => {
      this.#queue.push({ request: { id: this.#nextId++, job }, transfer: reuse === undefined ? [staged] : [staged, reuse], shape, spec, resolve, reject });
      this.#pump();
    });
  }

  recycle(tensor: EncodedTensor): void {
    this.#recycler.give(tensor.bytes.buffer as ArrayBuffer);
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      const aborted = (): EdgeMLError => new EdgeMLError('ABORTED', 'the tensor pool is closed');
      for (const p of this.#queue.splice(0)) p.reject(aborted());
      const workers = [...this.#workers];
      this.#workers.clear();
      this.#idle.length = 0;
      await Promise.all(
        workers.map(async (w) => {
          w.gone = true;
          w.job?.reject(aborted());
          w.job = undefined;
          await w.worker.terminate();
        }),
      );
    })();
    return this.#closing;
  }

  #pump(): void {
    while (this.#queue.length > 0 && this.#closing === undefined) {
      let w = this.#idle.pop();
      if (w === undefined) {
        if (this.#workers.size >= this.#threads) return;
        w = this.#start();
      }
      const job = this.#queue.shift()!;
      w.job = job;
      // Referenced while it works, so an awaited tensor keeps the process alive; idle threads do not.
      w.worker.ref();
      w.worker.postMessage(job.request, job.transfer);
    }
  }

  #start(): PoolWorker {
    const w: PoolWorker = { worker: this.#spawn(), job: undefined, gone: false };
    this.#workers.add(w);
    w.worker.on('message', (response: TensorWorkerResponse) => this.#answered(w, response));
    w.worker.on('error', (err: unknown) => this.#lost(w, `tensor worker failed: ${err instanceof Error ? err.message : String(err)}`, err));
    w.worker.on('messageerror', (err: unknown) => this.#lost(w, 'tensor worker sent an unreadable message', err));
    w.worker.on('exit', (code: number) => this.#lost(w, `tensor worker exited with code ${code}`, undefined));
    return w;
  }

  #answered(w: PoolWorker, response: TensorWorkerResponse): void {
    const job = w.job;
    if (w.gone || job === undefined || job.request.id !== response.id) return;
    w.job = undefined;
    this.#recycler.give(response.pixels);
    if (response.ok) job.resolve(encoded(response.buffer, response.sha256, job.shape, job.spec));
    else job.reject(new EdgeMLError('INTERNAL', `tensor could not be built: ${response.message}`));
    if (this.#workers.size > this.#threads) this.#retire(w);
    else {
      w.worker.unref();
      this.#idle.push(w);
    }
    this.#pump();
  }

  /** A worker died (crash, out of memory, killed): its job fails, the next job starts a new one. */
  #lost(w: PoolWorker, reason: string, cause: unknown): void {
    if (w.gone) return;
    w.gone = true;
    this.#workers.delete(w);
    const i = this.#idle.indexOf(w);
    if (i >= 0) this.#idle.splice(i, 1);
    w.job?.reject(new EdgeMLError('INTERNAL', reason, { cause }));
    w.job = undefined;
    void w.worker.terminate();
    this.#pump();
  }

  #retire(w: PoolWorker): void {
    w.gone = true;
    this.#workers.delete(w);
    void w.worker.terminate();
  }
}
