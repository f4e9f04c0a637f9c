/**
 * Security of a full run: after the suite has processed real files and the inferencer has swapped in a
 * model downloaded through a Blob SAS URL set in its twin, no secret (Azurite account key, any module's
 * SAS key, that model's SAS signature, any SAS signature) appears in any log file of the work folder,
 * in any module's reported properties, in any durable state file a module wrote (data/state, the model
 * store) or in the `$upstream` journal; and the running hub refuses a module that presents another
 * module's identity.
 */
import assert from 'node:assert/strict';
import { readFile, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { BlobSASPermissions, BlobServiceClient } from '@azure/storage-blob';
import { bundledModels } from '@edgeml/inferencer';
import { AZURITE_KEY, renderTextImage, telemetryCsv } from '@edgeml/runtime';
import { rawClient } from '../integration/edge-hub/helpers.js';
import { dropFile, readJournal, restartCounts, sha256, startSuite, waitFor, RESULT_SCHEMA, type SuiteHandle } from '../helpers/suite.js';

interface Secret {
  readonly label: string;
  readonly value: string;
}

/** Every encoding a secret could leak in: as is, URL-encoded, and base64url. */
function variants(s: Secret): Secret[] {
  const out = [s, { label: `${s.label} (url-encoded)`, value: encodeURIComponent(s.value) }];
  const b64url = s.value.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  if (b64url !== s.value) out.push({ label: `${s.label} (base64url)`, value: b64url });
  return out;
}

/** SAS signatures in any form: `sig=<value>` in a URL or `SharedAccessSignature sr=…&sig=…`. Redacted placeholders are fine. */
const SIG_PATTERN = /sig=(?!\[?REDACTED|\*{3}|<redacted>)[A-Za-z0-9%+/=_-]{8,}/gi;
const ACCOUNT_KEY_PATTERN = /AccountKey=(?!\[?REDACTED|\*{3}|<redacted>)[A-Za-z0-9%+/=]{20,}/gi;
const SHARED_ACCESS_KEY_PATTERN = /SharedAccessKey=(?!\[?REDACTED|\*{3}|<redacted>)[A-Za-z0-9%+/=]{20,}/gi;

function findLeaks(text: string, secrets: readonly Secret[]): string[] {
  const leaks: string[] = [];
  for (const s of secrets) if (text.includes(s.value)) leaks.push(s.label);
  for (const re of [SIG_PATTERN, ACCOUNT_KEY_PATTERN, SHARED_ACCESS_KEY_PATTERN]) {
    for (const m of text.matchAll(re)) leaks.push(`pattern ${re.source.slice(0, 20)}…: ${m[0].slice(0, 24)}…`);
  }
  return leaks;
}

async function filesUnder(dir: string): Promise<string[]> {
  const names = await readdir(dir, { recursive: true }).catch(() => [] as string[]);
  const out: string[] = [];
  for (const n of names) {
    const abs = path.join(dir, n);
    if ((await stat(abs)).isFile()) out.push(abs);
  }
  return out;
}

describe('faults: security of a full run', function () {
  this.timeout(15 * 60_000);
  let suite: SuiteHandle;
  /** The model URL set in the inferencer's twin, SAS included. */
  let modelSasUrl = '';

  before(async function () {
    this.timeout(10 * 60_000);
    suite = await startSuite('edgeml-security-', { runtimeLog: true });
    const rt = suite.runtime;
    await dropFile(rt, 'sec-1.png', await renderTextImage('Serial 0042-XK'));
    await dropFile(rt, 'sec-2.jpg', await renderTextImage('Gate 3 North', { format: 'jpeg', rotate180: true }));
    await dropFile(rt, 'sec-3.csv', telemetryCsv(100));
    await dropFile(rt, 'sec-4-bad.jpg', Buffer.from('not a jpeg at all'));
    await rt.waitUntilIdle({ signal: AbortSignal.timeout(8 * 60_000) });
    // A retrained classifier published to Blob Storage and named in the twin by a SAS URL, as an operator does.
    const cls = bundledModels().find((b) => b.profile === 'cls')!;
    const bytes = await readFile(cls.file);
    const container = BlobServiceClient.fromConnectionString(rt.storageConnectionString!).getContainerClient('models');
    await container.createIfNotExists();
    const blob = container.getBlockBlobClient('paddleocr-cls/7/model.onnx');
    await blob.uploadData(bytes);
    modelSasUrl = await blob.generateSasUrl({ permissions: BlobSASPermissions.parse('r'), expiresOn: new Date(Date.now() + 3_600_000) });
    assert.match(modelSasUrl, /[?&]sig=/);
    // `models` replaces the default map: the detector is named again.
    await rt.hub.patchDesired('inferencer', {
      models: { cls: { name: 'paddleocr-cls', version: '7', uri: modelSasUrl, sha256: sha256(bytes) }, det: { name: 'paddleocr-det', version: '1' } },
    });
    await waitFor(
      () => {
        const m = (rt.hub.getTwin('inferencer').reported['models'] as Record<string, { version?: string; origin?: string }> | undefined)?.['cls'];
        return m?.version === '7' && m.origin === 'url';
      },
      120_000,
      'the inferencer swapped in the model downloaded through the SAS URL',
    );
    await dropFile(rt, 'sec-5.png', await renderTextImage('After the swap'));
    await rt.waitUntilIdle({ signal: AbortSignal.timeout(5 * 60_000) });
    // The stores reported by the modules are periodic: let one more status report land.
    await rt.summary();
  });
  after(async function () {
    this.timeout(120_000);
    await suite?.close();
  });

  it('the scanner finds a planted secret (control: the grep can fail)', () => {
    const planted: Secret = { label: 'planted', value: 'c2VjcmV0LWtleS1mb3ItdGhlLWNvbnRyb2w=' };
    assert.deepEqual(findLeaks(`{"msg":"x","key":"${planted.value}"}`, [planted]), ['planted']);
    assert.equal(findLeaks('https://a.blob.core.windows.net/c?sv=2024&sig=abcdEFGH1234%2B%3D', []).length, 1);
    assert.equal(findLeaks('DefaultEndpointsProtocol=http;AccountName=a;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1', []).length, 1);
    assert.equal(findLeaks('"sig=[REDACTED]" AccountKey=[REDACTED]', []).length, 0);
  });

  it('no secret in any log, reported property, durable state file or $upstream message, after a model swap through a SAS URL', async () => {
    const rt = suite.runtime;
    const identities = JSON.parse(await readFile(path.join(suite.workDir, 'hub', 'identities.json'), 'utf8')) as {
      modules: Record<string, { primaryKey: string; secondaryKey: string }>;
    };
    const secrets: Secret[] = variants({ label: 'Azurite account key', value: AZURITE_KEY });
    const sig = new URL(modelSasUrl).searchParams.get('sig');
    assert.ok(sig !== null && sig.length > 20, 'the model URL carries a SAS signature');
    secrets.push(...variants({ label: 'model SAS signature', value: sig }), { label: 'model SAS query', value: new URL(modelSasUrl).search.slice(1) });
    for (const [m, k] of Object.entries(identities.modules)) {
      assert.ok(k.primaryKey.length >= 40 && k.secondaryKey.length >= 40, `${m} has keys`);
      secrets.push(...variants({ label: `${m} primary key`, value: k.primaryKey }), ...variants({ label: `${m} secondary key`, value: k.secondaryKey }));
    }

    const journal = await readJournal(rt.hub.upstreamJournalFile);
    assert.ok(journal.some((r) => r.body.schema === RESULT_SCHEMA), 'the run produced results (there is something to grep)');
    const sources: Array<{ where: string; text: string }> = [];
    const logFiles = await filesUnder(path.join(suite.workDir, 'logs'));
    for (const f of logFiles) sources.push({ where: path.relative(suite.workDir, f), text: await readFile(f, 'utf8') });
    for (const m of [...rt.processes.keys(), 'runtime']) {
      const log = sources.find((s) => s.where === `logs/${m}.log`);
      assert.ok(log !== undefined && log.text.length > 0, `${m} wrote a log`);
    }
    sources.push({ where: 'hub/upstream.jsonl', text: await readFile(rt.hub.upstreamJournalFile, 'utf8') });
    for (const m of rt.processes.keys()) {
      const reported = rt.hub.getTwin(m).reported;
      assert.ok(Object.keys(reported).length > 0, `${m} reported properties`);
      sources.push({ where: `${m} reported properties`, text: JSON.stringify(reported) });
    }
    const cls = (rt.hub.getTwin('inferencer').reported['models'] as Record<string, { version: string }>)['cls'];
    assert.equal(cls?.version, '7', 'the reported properties scanned are those after the swap');
    assert.match(JSON.stringify(rt.hub.getTwin('inferencer').reported['config']), /model\.onnx\?\[query hidden\]/, 'the model URL is reported, without its query');
    // Every durable file a module wrote: ledgers and queues (SQLite, read as bytes), the model store's manifests.
    // Not scanned: the hub's own twin store, which holds the desired properties where the operator put the URL
    // (as IoT Hub holds them), and the model files themselves.
    const durable = [...(await filesUnder(path.join(rt.paths.root, 'state'))), ...(await filesUnder(rt.paths.models)).filter((f) => !f.endsWith('.onnx'))];
    assert.ok(durable.some((f) => f.includes(`${path.sep}state${path.sep}watcher${path.sep}`)), 'the watcher ledger is among the files scanned');
    assert.ok(durable.some((f) => f.endsWith(path.join('paddleocr-cls', '7', 'manifest.json'))), 'the swapped-in model\'s manifest is among the files scanned');
    for (const f of durable) sources.push({ where: path.relative(suite.workDir, f), text: (await readFile(f)).toString('latin1') });
    const leaks = sources.flatMap((s) => findLeaks(s.text, secrets).map((l) => `${s.where}: ${l}`));
    const bytes = sources.reduce((n, s) => n + s.text.length, 0);
    process.stdout.write(`      scanned ${sources.length} sources (${(bytes / 1024).toFixed(0)} KiB; ${durable.length} durable state files) for ${secrets.length} secret strings + sig=/AccountKey=/SharedAccessKey= patterns\n`);
    assert.deepEqual(leaks, []);
  });

  it('the running hub refuses a module presenting another module identity', async () => {
    const rt = suite.runtime;
    const hub = rt.hub;
    const transformerKey = /SharedAccessKey=([^;]+)/.exec(hub.moduleEnv('transformer')['EdgeHubConnectionString'] ?? '')?.[1];
    assert.ok(transformerKey !== undefined && transformerKey.length > 0);
    const refused = async (what: string, connect: Promise<unknown>): Promise<void> => {
      await assert.rejects(connect, (err: Error & { code?: number }) => err.code === 5 || /Not authorized/i.test(err.message), what);
    };
    // transformer's valid token, but claiming to be the watcher (client id, then user name).
    await refused('clientId of another module', rawClient(hub, 'transformer', { clientId: `${hub.deviceId}/watcher` }));
    await refused('user name of another module', rawClient(hub, 'transformer', { usernameModule: 'watcher' }));
    // The watcher's identity signed with the transformer's key.
    await refused("another module's key", rawClient(hub, 'watcher', { key: transformerKey }));
    // The uploader's identity signed with the transformer's key, everything else consistent.
    await refused("another module's key (uploader)", rawClient(hub, 'uploader', { key: transformerKey }));

    // The real modules kept their sessions and nothing restarted.
    await waitFor(() => hub.stats().connected.length >= 5, 30_000, 'all five modules still connected');
    assert.deepEqual(restartCounts(rt), { watcher: 0, transformer: 0, inferencer: 0, uploader: 0, aggregator: 0 });
    const s = await rt.summary();
    assert.equal(s.unaccounted, 0);
    process.stdout.write(`      4 impersonation attempts refused (CONNACK 5); modules connected: ${hub.stats().connected.join(', ')}\n`);
  });
});
