/** How many sessions of a model run side by side, and the threads each gets (session/replicas.ts). */
import assert from 'node:assert/strict';
import { MAX_AUTO_CPU_REPLICAS, replicaPlan } from '@edgeml/inferencer';

describe('inferencer session replicas', () => {
  it('on automatic, runs one replica per core on a CPU (capped) with the cores shared, and one on CUDA', () => {
    assert.deepEqual(replicaPlan({ sessionReplicas: 0, intraOpThreads: 0 }, 2), { cpu: 2, cuda: 1, intraOpThreads: 1 });
    assert.deepEqual(replicaPlan({ sessionReplicas: 0, intraOpThreads: 0 }, 16), { cpu: MAX_AUTO_CPU_REPLICAS, cuda: 1, intraOpThreads: 4 });
  });

  it("leaves ONNX Runtime's own thread count to a single session", () => {
    assert.deepEqual(replicaPlan({ sessionReplicas: 0, intraOpThreads: 0 }, 1), { cpu: 1, cuda: 1, intraOpThreads: 0 });
    assert.deepEqual(replicaPlan({ sessionReplicas: 1, intraOpThreads: 0 }, 8), { cpu: 1, cuda: 1, intraOpThreads: 0 });
  });

  it('keeps what the operator set', () => {
    assert.deepEqual(replicaPlan({ sessionReplicas: 3, intraOpThreads: 0 }, 8), { cpu: 3, cuda: 3, intraOpThreads: 2 });
    assert.deepEqual(replicaPlan({ sessionReplicas: 2, intraOpThreads: 6 }, 8), { cpu: 2, cuda: 2, intraOpThreads: 6 });
    assert.deepEqual(replicaPlan({ sessionReplicas: 0, intraOpThreads: 3 }, 4), { cpu: 4, cuda: 1, intraOpThreads: 3 });
  });

  it('never plans fewer than one thread or replica on an odd core count', () => {
    assert.deepEqual(replicaPlan({ sessionReplicas: 4, intraOpThreads: 0 }, 2), { cpu: 4, cuda: 4, intraOpThreads: 1 });
    assert.deepEqual(replicaPlan({ sessionReplicas: 0, intraOpThreads: 0 }, 0.5), { cpu: 1, cuda: 1, intraOpThreads: 0 });
  });
});
