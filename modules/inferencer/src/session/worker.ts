/**
 * Entry point of a session worker thread: hosts ONNX Runtime sessions so that `session.run` (which
 * onnxruntime-node 1.30 executes synchronously on the calling thread) and the post-processing of
 * each batch never block the module's main thread (messages, batching, file reads, results).
 */
import { parentPort } from 'node:worker_threads';
import { BatchBuffers, runBatchOn, runFilesOn } from './batch-core.js';
import { openModelSession } from './open.js';
import { ORT_BACKEND, type BackendSession } from './ort.js';
import type { WorkerReply, WorkerRequest } from './protocol.js';
import { RunQueue, failureReply } from './run-queue.js';

const port = parentPort;
if (port === null) throw new Error('session/worker.ts runs as a worker thread only');

const sessions = new Map<number, BackendSession>();
const buffers = new BatchBuffers();
let nextSessionId = 1;
const runs = new RunQueue((replies) => port.postMessage(replies satisfies WorkerReply[]));

const sessionOf = (id: number): BackendSession => {
  const s = sessions.get(id);
  if (s === undefined) throw Object.assign(new Error(`session ${id} is not open in this worker`), { code: 'INFERENCE_FAILED' });
  return s;
};

/** An open or a release: answered as soon as it is done, beside the runs. */
async function manage(req: Extract<WorkerRequest, { op: 'open' | 'release' }>): Promise<void> {
  try {
    if (req.op === 'open') {
      const opened = await openModelSession(ORT_BACKEND, req.modelPath, req.options, req.cuda);
      const sessionId = nextSessionId++;
      sessions.set(sessionId, opened.session);
      runs.answer({ id: req.id, ok: true, value: { sessionId, provider: opened.provider, fallbackReason: opened.fallbackReason, inputs: opened.session.inputs, outputs: opened.session.outputs, cuda: opened.cuda } });
      return;
    }
    const s = sessions.get(req.sessionId);
    sessions.delete(req.sessionId);
    await s?.release();
    runs.answer({ id: req.id, ok: true, value: null });
  } catch (err: unknown) {
    runs.answer(failureReply(req.id, err));
  }
}

// Each message carries one or more requests (worker-host.ts sends those of one event-loop turn together).
port.on('message', (requests: readonly WorkerRequest[]) => {
  for (const req of requests) {
    switch (req.op) {
      case 'open':
      case 'release':
        void manage(req);
        break;
      // Copied, not transferred: ONNX Runtime may own the memory behind an output's buffer.
      case 'run':
        runs.add(req.id, () => sessionOf(req.sessionId).run(req.inputName, req.input));
        break;
      case 'runBatch':
        runs.add(req.id, () => runBatchOn(sessionOf(req.sessionId), req.request));
        break;
      case 'runFiles':
        runs.add(req.id, () => runFilesOn(sessionOf(req.sessionId), req.request, buffers));
        break;
    }
  }
});
