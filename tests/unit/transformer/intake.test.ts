import assert from 'node:assert/strict';
import { Registry, SCHEMAS, createLogger, type FileMessage, type IncomingMessage } from '@edgeml/shared';
import { StatusBook, WorkSlots, createIntake, createTransformerMetrics, describeInvalid, type ItemContext, type TransformerConfig } from '@edgeml/transformer';

const ID = 'a'.repeat(64);
const fileMessage = (id = ID, p = 'inbox/a.png'): FileMessage => ({
  schema: SCHEMAS.file,
  id,
  messageId: 'm-1',
  attempt: 1,
  source: { path: p, sha256: id, sizeBytes: 3, detectedAt: '2026-11-24T12:00:00.000Z', name: 'a.png', extension: '.png', kind: 'image', mtimeMs: 1 },
  detectedAt: '2026-11-24T12:00:00.000Z',
  stableAt: '2026-11-24T12:00:00.000Z',
  createdAt: '2026-11-24T12:00:00.000Z',
});
const body = (v: unknown): IncomingMessage => ({ inputName: 'files', body: Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)), properties: {} });

describe('transformer/intake (parse, duplicates, admission)', () => {
  it('describeInvalid acknowledges only what names a source of ours', () => {
    assert.deepEqual(describeInvalid(Buffer.from('{oops')), { id: undefined, path: undefined, kind: 'invalid' });
    assert.deepEqual(describeInvalid(Buffer.from(JSON.stringify({ schema: SCHEMAS.tensor, id: ID }))).id, undefined);
    assert.deepEqual(describeInvalid(Buffer.from(JSON.stringify({ schema: SCHEMAS.file, id: 'short', source: { path: 'inbox/x' } }))), { id: undefined, path: 'inbox/x', kind: 'invalid' });
    assert.equal(describeInvalid(Buffer.from(JSON.stringify({ schema: SCHEMAS.file, id: ID }))).id, ID);
  });

  it('runs admitted items with the config of their start, drops duplicates in flight, defers beyond the queue, dead-letters bad messages', async () => {
    const metrics = createTransformerMetrics(new Registry());
    const book = new StatusBook(metrics, () => new Date(0));
    let config = { maxConcurrentItems: 1, maxQueuedItems: 1 } as TransformerConfig;
    const slots = new WorkSlots(() => config, { inFlight: metrics.inFlight, queued: metrics.queued });
    const deadLetters: ItemContext[] = [];
    const deferred: { id: string; reason: string; retryAfterMs: number }[] = [];
    const outputs = {
      deadLetter: (ctx: ItemContext) => {
        deadLetters.push(ctx);
        return Promise.resolve();
      },
      defer: (msg: FileMessage, reason: string, retryAfterMs: number) => {
        deferred.push({ id: msg.id, reason, retryAfterMs });
        return Promise.resolve();
      },
    };
    const runs: { id: string; config: TransformerConfig }[] = [];
    let finish: () => void = () => undefined;
    const onFile = createIntake({
      book,
      slots,
      outputs,
      logger: createLogger({ name: 'test', level: 'silent' }),
      shouldLog: () => ({ log: false, suppressed: 0 }),
      config: () => config,
      isStopping: () => false,
      run: (msg, c) => {
        runs.push({ id: msg.id, config: c });
        return new Promise<void>((resolve) => (finish = resolve));
      },
    });
    const first = onFile(body(fileMessage()));
    await onFile(body(fileMessage())); // same id and path, in flight
    const queued = onFile(body(fileMessage('b'.repeat(64))));
    await onFile(body(fileMessage('c'.repeat(64)))); // queue full
    await onFile(body('{not json'));
    assert.deepEqual(runs.map((r) => r.id), [ID]);
    assert.deepEqual(deferred.map((d) => [d.id, d.retryAfterMs]), [['c'.repeat(64), 10_000]]);
    assert.match(deferred[0]!.reason, /wait queue is full \(1 items behind 1 in progress\)/);
    assert.deepEqual(deadLetters, [{ id: undefined, path: undefined, kind: 'invalid' }]);
    const before = config;
    config = { ...config, maxConcurrentItems: 2 };
    finish();
    await first;
    await Promise.resolve();
    assert.deepEqual(runs.map((r) => r.id), [ID, 'b'.repeat(64)]);
    assert.notEqual(runs[1]!.config, before, 'an item takes the configuration current when it starts');
    finish();
    await queued;
    const s = book.snapshot({ inFlight: 0, queued: 0 });
    assert.deepEqual([s.received, s.duplicates, s.shed], [5, 1, 1]);
  });
});
