/**
 * A new model version uploaded to Azurite (the Storage emulator, run from npm) and named in the
 * twin by a SAS URL is downloaded, verified, swapped in and reported; a wrong hash, a missing blob
 * and an oversized blob are refused while the old model serves. The SAS never reaches a report.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { BlobSASPermissions, BlobServiceClient, StorageSharedKeyCredential } from '@azure/storage-blob';
import { bundledModels } from '@edgeml/inferencer';
import { preprocessCls, renderText, sha256Hex, startInferencer, writeTensor, type Harness } from './support.js';

// Azurite's documented development account (public, not a secret).
const ACCOUNT = 'devstoreaccount1';
const KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

async function startAzurite(): Promise<{ url: string; child: ChildProcess }> {
  const bin = path.resolve('node_modules/.bin/azurite-blob');
  const child = spawn(bin, ['--silent', '--loose', '--inMemoryPersistence', '--disableTelemetry', '--skipApiVersionCheck', '--blobHost', '127.0.0.1', '--blobPort', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`Azurite did not start: ${out}`)), 20_000);
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listens on (http:\/\/[\d.]+:\d+)/.exec(out);
      if (m?.[1] !== undefined) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.once('exit', (code) => reject(new Error(`Azurite exited with ${String(code)}: ${out}`)));
  });
  return { url: `${url}/${ACCOUNT}`, child };
}

describe('inferencer model from Azurite via a SAS URL', function () {
  this.timeout(60_000);
  let azurite: { url: string; child: ChildProcess };
  let h: Harness;
  let sas: (blob: string) => Promise<string>;
  let modelSha: string;

  before(async () => {
    azurite = await startAzurite();
    const credential = new StorageSharedKeyCredential(ACCOUNT, KEY);
    const service = new BlobServiceClient(azurite.url, credential);
    const container = service.getContainerClient('models');
    await container.create();
    const cls = bundledModels().find((b) => b.profile === 'cls')!;
    const bytes = await readFile(cls.file);
    modelSha = sha256Hex(bytes);
    await container.getBlockBlobClient('paddleocr-cls/3/model.onnx').uploadData(bytes);
    sas = (blob) => container.getBlockBlobClient(blob).generateSasUrl({ permissions: BlobSASPermissions.parse('r'), expiresOn: new Date(Date.now() + 3600_000) });
    h = await startInferencer({ models: { cls: { name: 'paddleocr-cls', version: '1' } } });
  });
  after(async () => {
    await h?.close();
    azurite?.child.kill('SIGTERM');
  });

  it('downloads, verifies, swaps in and reports a new version named by a SAS URL', async () => {
    const uri = await sas('paddleocr-cls/3/model.onnx');
    assert.match(uri, /sig=/);
    const report = await h.patch({ models: { cls: { name: 'paddleocr-cls', version: '3', uri, sha256: modelSha } } });
    assert.equal(report.status, 'applied', JSON.stringify(report.problems));
    const cls = (h.client.reported['models'] as Record<string, { version: string; origin: string; sha256: string }>)['cls']!;
    assert.equal(cls.version, '3');
    assert.equal(cls.origin, 'url');
    assert.equal(cls.sha256, modelSha);
    // Installed into the store, so a restart does not download again.
    const stored = path.join(h.root, 'models', 'paddleocr-cls', '3', 'model.onnx');
    assert.equal((await stat(stored)).size > 0, true);
    assert.equal(sha256Hex(await readFile(stored)), modelSha);
    const img = await renderText(200, 40, [{ text: 'from the cloud', x: 6, y: 29, fontSize: 26 }]);
    const msg = await writeTensor(h.root, { profile: 'cls', ...(await preprocessCls(img)), seed: 'azurite' });
    await h.client.deliver('tensors', msg);
    const r = h.results().find((x) => x['id'] === msg.id);
    assert.equal((r?.['model'] as { version: string }).version, '3');
  });

  it('refuses a wrong hash, a missing blob and an oversized blob; the SAS stays out of reports', async () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ version: '4', uri: await sas('paddleocr-cls/3/model.onnx'), sha256: 'b'.repeat(64) }, /SHA-256 mismatch/],
      [{ version: '5', uri: await sas('paddleocr-cls/404/model.onnx'), sha256: modelSha }, /MODEL_DOWNLOAD_FAILED.*HTTP 404/],
    ];
    for (const [entry, expected] of cases) {
      const report = await h.patch({ models: { cls: { name: 'paddleocr-cls', ...entry } } });
      assert.equal(report.status, 'rejected');
      assert.match(report.problems.join(' '), expected);
    }
    const big = await h.patch({ maxModelBytes: 100_000, models: { cls: { name: 'paddleocr-cls', version: '6', uri: await sas('paddleocr-cls/3/model.onnx'), sha256: modelSha } } });
    assert.equal(big.status, 'rejected');
    assert.match(big.problems.join(' '), /FILE_TOO_LARGE/);
    const cls = (h.client.reported['models'] as Record<string, { version: string; lastError: { attempted: { uri: string } } }>)['cls']!;
    assert.equal(cls.version, '3');
    assert.doesNotMatch(cls.lastError.attempted.uri, /sig=/);
    const everything = JSON.stringify([h.client.reported['models'], h.alerts()]);
    assert.doesNotMatch(everything, /sig=[A-Za-z0-9%]/);
  });
});
