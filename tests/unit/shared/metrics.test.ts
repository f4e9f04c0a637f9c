import assert from 'node:assert/strict';
import { Counter, createLogger, createMetricsRegistry, startOpsServer } from '@edgeml/shared';
import { Writable } from 'node:stream';

const silent = createLogger({ name: 't', destination: new Writable({ write: (_c, _e, cb) => cb() }) });

/**
 * Minimal Prometheus text-format (0.0.4) checker: every line is a comment or `name{labels} value`.
 * Values are Go floats, which Prometheus parses case-insensitively (prom-client writes `Nan`).
 */
function assertPrometheusText(text: string): void {
  const sample = /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="(\\.|[^"\\])*",?)*\})? -?([0-9.e+-]+|nan|\+inf|-inf)( [0-9]+)?$/i;
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('# HELP ') || line.startsWith('# TYPE ')) continue;
    assert.match(line, sample, `not a Prometheus sample line: ${line}`);
  }
}

describe('shared/metrics and health', () => {
  it('serves valid Prometheus text with process metrics and a custom metric, and health endpoints', async () => {
    const registry = createMetricsRegistry('watcher');
    const counter = new Counter({ name: 'edgeml_test_items_total', help: 'items', labelNames: ['outcome'], registers: [registry] });
    counter.inc({ outcome: 'ok' }, 3);
    let ready = false;
    const server = await startOpsServer({
      registry,
      logger: silent,
      port: 0,
      host: '127.0.0.1',
      health: { live: () => true, ready: () => ({ ready, reasons: ready ? [] : ['warming up'] }) },
    });
    try {
      const base = `http://127.0.0.1:${server.port}`;
      const res = await fetch(`${base}/metrics`);
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /text\/plain/);
      const text = await res.text();
      assertPrometheusText(text);
      assert.match(text, /^edgeml_test_items_total\{outcome="ok",module="watcher"\} 3$/m);
      assert.match(text, /^edgeml_process_cpu_user_seconds_total/m);
      assert.equal((await fetch(`${base}/health/live`)).status, 200);
      const notReady = await fetch(`${base}/health/ready`);
      assert.equal(notReady.status, 503);
      assert.deepEqual(await notReady.json(), { ready: false, reasons: ['warming up'] });
      ready = true;
      assert.equal((await fetch(`${base}/health/ready`)).status, 200);
      assert.equal((await fetch(`${base}/nope`)).status, 404);
    } finally {
      await server.close();
      await server.close();
    }
  });
});
