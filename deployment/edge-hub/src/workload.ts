/**
 * A stand-in for the IoT Edge workload API (reference §4.2, wire notes §8), so modules can run through the
 * production `IOTEDGE_*` path: HTTP/1.1 over a unix socket with `GET /trust-bundle` and
 * `POST /modules/{m}/genid/{g}/sign`. Replies carry `content-type: application/json`, without which the
 * SDK does not parse the body.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { readFileSync, rmSync } from 'node:fs';
import { errorMessage, type Logger } from '@edgeml/shared';
import type { EdgeHub } from './hub.js';

/** Largest sign request body accepted (the SDK sends about 200 bytes). */
const MAX_BODY_BYTES = 64 * 1024;

function reply(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify(body));
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        reject(new Error('request body too large'));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/**
 * Serves the workload API on `socketPath` (removed first if a stale socket is there). Point modules at it
 * with `IOTEDGE_WORKLOADURI=unix://<socketPath>`.
 */
export async function startWorkloadApi(options: { socketPath: string; hub: EdgeHub; logger: Logger }): Promise<{ close(): Promise<void> }> {
  const { hub, logger } = options;
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    void (async () => {
      if (req.method === 'GET' && url.pathname === '/trust-bundle') {
        reply(res, 200, { certificate: readFileSync(hub.caCertificateFile, 'utf8') });
        return;
      }
      const sign = /^\/modules\/([^/]+)\/genid\/([^/]+)\/sign$/.exec(url.pathname);
      if (req.method === 'POST' && sign !== null) {
        const moduleId = decodeURIComponent(sign[1] ?? '');
        const generationId = decodeURIComponent(sign[2] ?? '');
        let body: { keyId?: unknown; algo?: unknown; data?: unknown };
        try {
          body = JSON.parse(await readBody(req)) as typeof body;
        } catch (err: unknown) {
          reply(res, 400, { message: `invalid sign request: ${errorMessage(err)}` });
          return;
        }
        if (typeof body.data !== 'string' || (body.algo !== undefined && body.algo !== 'HMACSHA256')) {
          reply(res, 400, { message: 'sign request needs data (base64) and algo HMACSHA256' });
          return;
        }
        try {
          const digest = hub.sign(moduleId, generationId, typeof body.keyId === 'string' ? body.keyId : 'primary', body.data);
          reply(res, 200, { digest });
        } catch (err: unknown) {
          reply(res, 404, { message: errorMessage(err) });
        }
        return;
      }
      reply(res, 404, { message: `no route for ${req.method ?? ''} ${url.pathname}` });
    })().catch((err: unknown) => {
      logger.error({ err }, 'workload API request failed');
      if (!res.headersSent) reply(res, 500, { message: 'internal error' });
    });
  });
  rmSync(options.socketPath, { force: true });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.socketPath, () => {
      server.off('error', reject);
      resolve();
    });
  });
  logger.info({ socketPath: options.socketPath }, 'workload API listening');
  let closed: Promise<void> | undefined;
  return {
    close() {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closed;
    },
  };
}
