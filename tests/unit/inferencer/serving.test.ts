/**
 * The models serving each profile (models/serving.ts) with fakes that implement the real interfaces
 * (ModelStore, the session factory): a twin change applies as a whole or not at all, and sessions that
 * died with their worker are reopened.
 */
import assert from 'node:assert/strict';
import { createLogger } from '@edgeml/shared';
import {
  INFERENCER_DEFAULTS,
  ModelServing,
  bundledModels,
  type InferencerConfig,
  type ModelEntry,
  type ModelManifest,
  type ModelSession,
  type ModelStore,
  type StagedModel,
} from '@edgeml/inferencer';

const logger = createLogger({ name: 'test', level: 'silent' });
const clsManifest = bundledModels().find((b) => b.profile === 'cls')!.manifest as ModelManifest;

function fakeStore(broken: ReadonlySet<string> = new Set()): ModelStore {
  return {
    dir: '/fake',
    clearStaging: () => Promise.resolve(),
    installBundled: () => Promise.resolve([]),
    stage(entry: ModelEntry): Promise<StagedModel> {
      // These fakes always name their models (only an OCI artifact entry may leave them out).
      const name = entry.name!;
      const version = entry.version!;
      if (broken.has(version)) return Promise.reject(Object.assign(new Error(`version ${entry.version} is corrupt`), { code: 'MODEL_INVALID' }));
      return Promise.resolve({
        entry,
        file: `/fake/${entry.name}/${entry.version}/model.onnx`,
        sha256: 'a'.repeat(64),
        sizeBytes: 1,
        // Model names are `m-<profile>`: the manifest says which profile the model is for.
        manifest: { ...clsManifest, name, version, preprocessing: { ...clsManifest.preprocessing, profile: name.slice(2) } },
        origin: 'store',
        commit: () => Promise.resolve(),
        discard: () => Promise.resolve(),
      });
    },
  };
}

/** Sessions that answer every batch with a classification, and count their releases. */
function fakeSessions() {
  const opened: { file: string; session: ModelSession; released: boolean }[] = [];
  const open = (file: string): Promise<ModelSession> => {
    const rec = { file, released: false, session: undefined as unknown as ModelSession };
    rec.session = {
      provider: 'cpu',
      fallbackReason: undefined,
      replicas: 1,
      inputs: [{ name: 'x', dtype: 'float32', shape: [-1, 3, 48, 192] }],
      outputs: [{ name: 'softmax_0.tmp_0', dtype: 'float32', shape: [-1, 2] }],
      run: () => Promise.resolve([]),
      runBatch: (req) => Promise.resolve({ inferMs: 1, postprocessMs: 0, items: req.geometries.map(() => ({ outputs: { label: '0', score: 0.9, top: [{ label: '0', score: 0.9 }] }, label: '0', score: 0.9 })) }),
      runFiles: (req) => Promise.resolve({ inferMs: 1, postprocessMs: 0, items: req.items.map(() => ({ outputs: { label: '0', score: 0.9 }, label: '0', score: 0.9 })) }),
      release: () => {
        rec.released = true;
        return Promise.resolve();
      },
    };
    opened.push(rec);
    return Promise.resolve(rec.session);
  };
  return { opened, open };
}

const config = (models: Record<string, ModelEntry>): InferencerConfig => ({ ...INFERENCER_DEFAULTS, models, rollout: {} });

describe('inferencer model serving (fakes of the store and the sessions)', () => {
  it('applies a twin change as a whole: one refused candidate keeps every model as it was', async () => {
    const sessions = fakeSessions();
    const refusals: string[] = [];
    const serving = new ModelServing({
      store: fakeStore(new Set(['bad'])),
      openSession: sessions.open,
      logger,
      now: () => new Date(0),
      signal: new AbortController().signal,
      installBundled: false,
      events: { swapped: () => undefined, refused: (p) => (refusals.push(p), Promise.resolve()), changed: () => Promise.resolve() },
    });
    const first = config({ cls: { name: 'm-cls', version: '1' }, vec: { name: 'm-vec', version: '1' } });
    await serving.apply(first, undefined);
    assert.equal(serving.serving('cls')?.entry.version, '1');
    assert.equal(serving.serving('vec')?.entry.version, '1');
    const next = config({ cls: { name: 'm-cls', version: '2' }, vec: { name: 'm-vec', version: 'bad' } });
    await assert.rejects(serving.apply(next, first), { code: 'MODEL_INVALID' });
    assert.equal(serving.serving('cls')?.entry.version, '1', 'the good candidate was not swapped in alone');
    assert.deepEqual(refusals, ['vec']);
    assert.equal(serving.serving('vec')?.entry.version, '1');
    assert.equal(sessions.opened.find((o) => o.file.includes('/2/'))?.released, true, 'the unused candidate was released');
  });

  it('reopens the model whose session died with its worker', async () => {
    const sessions = fakeSessions();
    const serving = new ModelServing({
      store: fakeStore(),
      openSession: sessions.open,
      logger,
      now: () => new Date(0),
      signal: new AbortController().signal,
      installBundled: false,
      events: { swapped: () => undefined, refused: () => Promise.resolve(), changed: () => Promise.resolve() },
    });
    await serving.apply(config({ cls: { name: 'm-cls', version: '1' } }), undefined);
    const dead = serving.serving('cls')!.session;
    serving.sessionsLost([dead]);
    for (let i = 0; i < 50 && serving.serving('cls')?.session === dead; i++) await new Promise((r) => setTimeout(r, 1));
    assert.notEqual(serving.serving('cls')?.session, dead, 'a new session serves the profile');
    assert.equal(sessions.opened.length, 2);
  });
});
