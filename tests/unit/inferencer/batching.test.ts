import assert from 'node:assert/strict';
import { BUNDLED_BATCHING, bundledModels, effectiveBatching, warmupBatchSizes, type ModelManifest } from '@edgeml/inferencer';

const det = bundledModels().find((b) => b.profile === 'det')!.manifest as ModelManifest;
const cls = bundledModels().find((b) => b.profile === 'cls')!.manifest as ModelManifest;
const entry = { name: 'm', version: '1' };

describe('inferencer batching in force per model and provider', () => {
  it("takes the manifest's measured default for the provider the model runs on", () => {
    assert.deepEqual(effectiveBatching({ entry, manifest: det, provider: 'cpu', fixedBatchOne: false }, { maxBatchSize: 32 }), { maxBatchSize: 1, preferredBatchSizes: [] });
    assert.deepEqual(effectiveBatching({ entry, manifest: det, provider: 'cuda', fixedBatchOne: false }, { maxBatchSize: 32 }), {
      maxBatchSize: BUNDLED_BATCHING.det.cuda!.maxBatchSize!,
      preferredBatchSizes: BUNDLED_BATCHING.det.cuda!.preferredBatchSizes,
    });
    assert.equal(effectiveBatching({ entry, manifest: cls, provider: 'cpu', fixedBatchOne: false }, { maxBatchSize: 32 }).maxBatchSize, BUNDLED_BATCHING.cls.cpu!.maxBatchSize);
  });

  it('the twin entry overrides the manifest; the global maxBatchSize caps both, preferred sizes above the cap are dropped', () => {
    const own = { ...entry, maxBatchSize: 24, preferredBatchSizes: [4, 16, 32] };
    assert.deepEqual(effectiveBatching({ entry: own, manifest: cls, provider: 'cuda', fixedBatchOne: false }, { maxBatchSize: 64 }), { maxBatchSize: 24, preferredBatchSizes: [4, 16] });
    assert.deepEqual(effectiveBatching({ entry: own, manifest: cls, provider: 'cuda', fixedBatchOne: false }, { maxBatchSize: 8 }), { maxBatchSize: 8, preferredBatchSizes: [4] });
    const { batching: _hint, ...noHint } = cls;
    assert.equal(effectiveBatching({ entry, manifest: noHint, provider: 'cpu', fixedBatchOne: false }, { maxBatchSize: 12 }).maxBatchSize, 12, 'no hint: the global maxBatchSize');
  });

  it('a model with a fixed batch dimension of 1 runs one by one whatever is configured', () => {
    assert.deepEqual(effectiveBatching({ entry: { ...entry, maxBatchSize: 16, preferredBatchSizes: [8] }, manifest: cls, provider: 'cuda', fixedBatchOne: true }, { maxBatchSize: 32 }), { maxBatchSize: 1, preferredBatchSizes: [] });
  });

  it('warms up at the largest batch first, then at every preferred size', () => {
    assert.deepEqual(warmupBatchSizes({ maxBatchSize: 64, preferredBatchSizes: [16, 32, 64] }), [64, 32, 16]);
    assert.deepEqual(warmupBatchSizes({ maxBatchSize: 1, preferredBatchSizes: [] }), [1]);
  });
});
