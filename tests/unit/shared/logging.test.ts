import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createLogger, createRepeatLimiter, redactSecrets, routeAzureSdkLogs, EdgeMLError } from '@edgeml/shared';

function capture(): { stream: Writable; lines: () => string[] } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk.toString('utf8'));
      cb();
    },
  });
  return { stream, lines: () => chunks.join('').split('\n').filter((l) => l.length > 0) };
}

const ACCOUNT_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';
const MODULE_KEY = 'MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=';
const SAS_SIG = 'j1zQc%2BJ24%2Bt02Ep1wET1QhJf%2F6d513C8d3xmMSXVxCI%3D';

describe('shared/logging', () => {
  it('redacts connection strings, account keys and SAS signatures wherever they appear', async () => {
    const { stream, lines } = capture();
    const logger = createLogger({ name: 'test', destination: stream });
    const cs = `DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=${ACCOUNT_KEY};BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;`;
    const hubCs = `HostName=h.azure-devices.net;DeviceId=d;ModuleId=m;SharedAccessKey=${MODULE_KEY}`;
    const sasUrl = `https://acct.blob.core.windows.net/c?sv=2023-01-03&ss=b&sp=r&sig=${SAS_SIG}`;
    const token = `SharedAccessSignature sr=h.azure-devices.net%2Fdevices%2Fd&sig=${SAS_SIG}&se=1767225600`;
    logger.info(`connecting with ${cs}`);
    logger.info({ storage: cs, url: sasUrl, nested: { deeper: [hubCs] } }, 'config');
    logger.error({ err: new EdgeMLError('SINK_UNAVAILABLE', `failed for ${sasUrl}`, { cause: new Error(`inner ${hubCs}`) }) }, 'upload failed');
    logger.warn({ password: token, connectionString: 'anything' }, `token ${token}`);
    logger.flush();
    await new Promise((r) => setImmediate(r));
    const out = lines().join('\n');
    assert.equal(lines().length, 4);
    for (const secret of [ACCOUNT_KEY, MODULE_KEY, SAS_SIG, decodeURIComponent(SAS_SIG)]) {
      assert.ok(!out.includes(secret), `secret leaked: ${secret}`);
    }
    assert.match(out, /AccountKey=\[REDACTED\]/);
    assert.match(out, /SharedAccessKey=\[REDACTED\]/);
    assert.match(out, /sig=\[REDACTED\]/);
    assert.match(out, /AccountName=devstoreaccount1/, 'non-secret parts are kept');
  });

  it('writes JSON lines with level label, module and err', () => {
    const { stream, lines } = capture();
    const logger = createLogger({ name: 'watcher', destination: stream }).child({ component: 'ledger' });
    logger.warn({ err: new Error('boom') }, 'something');
    const rec = JSON.parse(lines()[0]!) as Record<string, unknown>;
    assert.equal(rec['level'], 'warn');
    assert.equal(rec['module'], 'watcher');
    assert.equal(rec['component'], 'ledger');
    assert.equal((rec['err'] as { message: string }).message, 'boom');
  });

  it('redactSecrets leaves ordinary text alone', () => {
    assert.equal(redactSecrets('signature=ok; design=sig'), 'signature=ok; design=sig');
  });

  it('limits a repeated event to one line per interval, with the count', () => {
    let t = 0;
    const limiter = createRepeatLimiter(1_000, () => t);
    assert.deepEqual(limiter('k'), { log: true, suppressed: 0 });
    assert.equal(limiter('k').log, false);
    assert.equal(limiter('k').log, false);
    t = 1_000;
    assert.deepEqual(limiter('k'), { log: true, suppressed: 2 });
  });

  it("routes the Azure SDK's own logger into pino, redacted", async () => {
    const { stream, lines } = capture();
    const logger = createLogger({ name: 'uploader', destination: stream });
    await routeAzureSdkLogs(logger, 'info');
    const { AzureLogger } = (await import('@azure/logger' as string)) as { AzureLogger: { log: (...args: unknown[]) => void } };
    AzureLogger.log('azure:storage-blob:info request failed for', `https://a.blob.core.windows.net/c?sig=${SAS_SIG}`);
    logger.flush();
    await new Promise((r) => setImmediate(r));
    const rec = JSON.parse(lines().at(-1)!) as { component: string; msg: string };
    assert.equal(rec.component, 'azure-sdk');
    assert.match(rec.msg, /request failed for https:\/\/a\.blob\.core\.windows\.net\/c\?sig=\[REDACTED\]/);
  });
});
