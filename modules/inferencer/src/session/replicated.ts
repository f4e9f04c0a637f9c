/**
 * One model session as the rest of the inferencer sees it, over one or more replicas (sessions of
 * the same model in different session workers, replicas.ts). Each run goes to the replica with the
 * fewest runs in flight, so that with two replicas two batches run at once; a warm-up can name its
 * replica so that every one is warmed.
 */
import { EdgeMLError } from '@edgeml/shared';
import { transferables, type OpenReply, type WorkerReplyValue, type WorkerRequest } from './protocol.js';
import type { BatchRequest, BatchResponse, FilesBatchRequest, ModelSession, OutputTensor, SessionTensor } from './types.js';

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
/** A request to one session of a worker, without the ids the pool adds. */
export type SessionCall = DistributiveOmit<Extract<WorkerRequest, { readonly sessionId: number }>, 'id' | 'sessionId'>;

/** One session of the model in one worker, as the pool opened it. */
export interface Replica {
  call(req: SessionCall, transfer: ArrayBuffer[]): Promise<WorkerReplyValue>;
  /** Frees the native session (nothing when its worker is gone). */
  release(): Promise<void>;
  /** The worker learns which session to report lost when it dies. */
  attach(session: ModelSession): void;
  detach(session: ModelSession): void;
}

export function replicatedSession(opened: OpenReply, replicas: readonly Replica[]): ModelSession {
  if (replicas.length === 0) throw new EdgeMLError('INTERNAL', 'a session needs at least one replica');
  const inFlight = replicas.map(() => 0);
  let released: Promise<void> | undefined;

  const least = (): number => inFlight.reduce((best, n, i) => (n < inFlight[best]! ? i : best), 0);
  const send = async (req: SessionCall, transfer: ArrayBuffer[] = [], replica = least()): Promise<WorkerReplyValue> => {
    if (released !== undefined) throw new EdgeMLError('INFERENCE_FAILED', 'session already released');
    const r = replicas[replica];
    if (r === undefined) throw new EdgeMLError('INTERNAL', `replica ${replica} of ${replicas.length} asked for`);
    inFlight[replica]!++;
    try {
      return await r.call(req, transfer);
    } finally {
      inFlight[replica]!--;
    }
  };

  const session: ModelSession = {
    provider: opened.provider,
    fallbackReason: opened.fallbackReason,
    inputs: opened.inputs,
    outputs: opened.outputs,
    replicas: replicas.length,
    async run(inputName: string, input: SessionTensor) {
      return (await send({ op: 'run', inputName, input }, transferables([input.data]))) as OutputTensor[];
    },
    async runBatch(request: BatchRequest, replica?: number) {
      return (await send({ op: 'runBatch', request }, transferables([request.input.data]), replica)) as BatchResponse;
    },
    async runFiles(request: FilesBatchRequest) {
      return (await send({ op: 'runFiles', request })) as BatchResponse;
    },
    release() {
      released ??= (async () => {
        for (const r of replicas) r.detach(session);
        await Promise.all(replicas.map((r) => r.release()));
      })();
      return released;
    },
  };
  for (const r of replicas) r.attach(session);
  return session;
}
