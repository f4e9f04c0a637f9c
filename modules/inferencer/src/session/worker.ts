/**
 * Entry point of a session worker thread: hosts ONNX Runtime sessions so that `session.run` (which
 * onnxruntime-node 1.30 executes synchronously on the calling thread) and the post-processing of
 * each batch never block the module's main thread (messages, batching, file reads, results).
 */
import { parentPort } from 'node:worker_threads';
import { errorCode, errorMessage } from '@edgeml/shared';
import { BatchBuffers, runBatchOn, runFilesOn } from './batch-core.js';
import { openModelSession } from './open.js';
import { ORT_BACKEND, type BackendSession } from './ort.js';
import type { WorkerReply, WorkerRequest } from './protocol.js';

const port = parentPort;
if (port === null) throw new Error('session/worker.ts runs as a worker thread only');

const sessions = new Map<number, BackendSession>();
const buffers = new BatchBuffers();
let nextSessionId = 1;

/**
 * Runs go one after another in arrival order, each started once the previous one finished: the
 * batches in flight to this worker would otherwise each read their files and then wait in ONNX
 * Runtime's `setImmediate` queue behind one another, and that wait counted as their run time
 * (`inferMs`, the inference-time metric, a rollout's latency ratio: a candidate run beside the live
 * model measured the live model's run too). Nothing is lost: the runs are synchronous on this thread.
 */
let turn: Promise<unknown> = Promise.resolve();
function inTurn<T>(f: () => Promise<T>): Promise<T> {
  const next = turn.then(f);
  turn = next.catch(() => undefined);
  return next;
}

const sessionOf = (id: number): BackendSession => {
  const s = sessions.get(id);
  if (s === undefined) throw Object.assign(new Error(`session ${id} is not open in this worker`), { code: 'INFERENCE_FAILED' });
  return s;
};

async function handle(req: WorkerRequest): Promise<void> {
  try {
    switch (req.op) {
      case 'open': {
        const opened = await openModelSession(ORT_BACKEND, req.modelPath, req.options, req.cuda);
        const sessionId = nextSessionId++;
        sessions.set(sessionId, opened.session);
        const value = { sessionId, provider: opened.provider, fallbackReason: opened.fallbackReason, inputs: opened.session.inputs, outputs: opened.session.outputs, cuda: opened.cuda };
        port!.postMessage({ id: req.id, ok: true, value } satisfies WorkerReply);
        return;
      }
      case 'run': {
        const out = await inTurn(() => sessionOf(req.sessionId).run(req.inputName, req.input));
        // Copied, not transferred: ONNX Runtime may own the memory behind an output's buffer.
        port!.postMessage({ id: req.id, ok: true, value: out } satisfies WorkerReply);
        return;
      }
      case 'runBatch': {
        const out = await inTurn(() => runBatchOn(sessionOf(req.sessionId), req.request));
        port!.postMessage({ id: req.id, ok: true, value: out } satisfies WorkerReply);
        return;
      }
      case 'runFiles': {
        const out = await inTurn(() => runFilesOn(sessionOf(req.sessionId), req.request, buffers));
        port!.postMessage({ id: req.id, ok: true, value: out } satisfies WorkerReply);
        return;
      }
      case 'release': {
        const s = sessions.get(req.sessionId);
        sessions.delete(req.sessionId);
        await s?.release();
        port!.postMessage({ id: req.id, ok: true, value: null } satisfies WorkerReply);
        return;
      }
    }
  } catch (err: unknown) {
    const code = errorCode(err) === 'INTERNAL' && typeof (err as { code?: unknown }).code === 'string' ? String((err as { code: string }).code) : errorCode(err);
    port!.postMessage({ id: req.id, ok: false, error: { code, message: errorMessage(err) } } satisfies WorkerReply);
  }
}

port.on('message', (req: WorkerRequest) => {
  void handle(req);
});
