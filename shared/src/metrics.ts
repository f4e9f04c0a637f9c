import { createServer, type Server } from 'node:http';
import { Registry, collectDefaultMetrics } from 'prom-client';
import type { Logger } from './logging.js';

export { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Port edgeHub and edgeAgent serve Prometheus metrics on; ours do the same. */
export const DEFAULT_METRICS_PORT = 9600;

/** A registry with Node process metrics (prefixed `edgeml_`) and a `module` label on every series. */
export function createMetricsRegistry(moduleName: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ module: moduleName });
  collectDefaultMetrics({ register: registry, prefix: 'edgeml_' });
  return registry;
}

export interface HealthState {
  /** Process is alive and its event loop turns. */
  live(): boolean;
  /** Module is connected and configured: ready for traffic. */
  ready(): { ready: boolean; reasons: string[] };
}

export interface OpsServer {
  readonly port: number;
  close(): Promise<void>;
}

/**
 * Serves `/metrics` (Prometheus text), `/health/live` and `/health/ready` (200 or 503 with JSON
 * reasons). `port` 0 picks a free port (tests); the bound port is returned.
 */
export async function startOpsServer(options: {
  readonly registry: Registry;
  readonly health: HealthState;
  readonly port: number;
  readonly host?: string;
  readonly logger: Logger;
}): Promise<OpsServer> {
  const { registry, health, logger } = options;
  const server: Server = createServer((req, res) => {
    const url = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET') {
      res.writeHead(405).end();
      return;
    }
    if (url === '/metrics') {
      registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
        (err: unknown) => {
          logger.error({ err }, 'metrics collection failed');
          res.writeHead(500).end();
        },
      );
      return;
    }
    if (url === '/health/live') {
      const ok = health.live();
      res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify({ live: ok }));
      return;
    }
    if (url === '/health/ready') {
      const r = health.ready();
      res.writeHead(r.ready ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify(r));
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '0.0.0.0', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : options.port;
  let closed: Promise<void> | undefined;
  return {
    port,
    close() {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closed;
    },
  };
}
