import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { EdgeHub } from '@edgeml/edge-hub';
import { EdgeMLError, errorMessage, type Logger } from '@edgeml/shared';

/** Largest request body the control API reads (a twin patch; edgeHub's own limit is 32 KiB). */
const MAX_BODY_BYTES = 1024 * 1024;

export interface ControlApiOptions {
  /** The hub now in charge (the runtime replaces it on restartHub). */
  readonly hub: () => EdgeHub;
  /** `GET /status`. */
  readonly status: () => Promise<unknown>;
  /** `GET /summary`; absent → 404 (the hub alone has no suite to summarise). */
  readonly summary?: () => Promise<unknown>;
  readonly logger: Logger;
}

export interface ControlApi {
  /** `http://127.0.0.1:<port>`. */
  readonly url: string;
  /** Idempotent. */
  close(): Promise<void>;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

async function readJsonBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, `request body over ${MAX_BODY_BYTES} bytes`);
    chunks.push(c as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.length === 0) return null;
  try {
    return JSON.parse(text) as unknown;
  } catch (err: unknown) {
    throw new HttpError(400, `request body is not JSON: ${errorMessage(err)}`);
  }
}

/**
 * The local HTTP API the `edgeml` CLI talks to (and `curl` can): `GET /status`, `GET /summary`,
 * `GET /twin/<module>`, `PATCH /twin/<module>` (desired-properties merge patch), `POST /invoke/<module>/<method>`
 * (body = method payload; answers `{ status, payload }` with the module's status). Loopback only, like
 * IoT Hub's service API for this one device. A refused patch or unknown module answers 400.
 */
export async function startControlApi(options: ControlApiOptions): Promise<ControlApi> {
  const handle = async (req: IncomingMessage): Promise<{ status: number; body: unknown }> => {
    const method = req.method ?? 'GET';
    const url = new URL(req.url ?? '/', 'http://local');
    const parts = url.pathname
      .split('/')
      .filter((p) => p.length > 0)
      .map(decodeURIComponent);
    const hub = options.hub();
    if (method === 'GET' && parts.length === 1 && parts[0] === 'status') return { status: 200, body: await options.status() };
    if (method === 'GET' && parts.length === 1 && parts[0] === 'summary' && options.summary !== undefined) return { status: 200, body: await options.summary() };
    if (parts[0] === 'twin' && parts.length === 2) {
      const moduleId = parts[1]!;
      if (!hub.moduleIds.includes(moduleId)) throw new HttpError(404, `module ${moduleId} is not in the deployment`);
      if (method === 'GET') return { status: 200, body: hub.getTwin(moduleId) };
      if (method === 'PATCH') {
        const patch = await readJsonBody(req);
        if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) throw new HttpError(400, 'a twin patch is a JSON object');
        return { status: 200, body: { version: await hub.patchDesired(moduleId, patch as Record<string, unknown>) } };
      }
    }
    if (method === 'POST' && parts[0] === 'invoke' && parts.length === 3) {
      return { status: 200, body: await hub.invokeMethod(parts[1]!, parts[2]!, await readJsonBody(req), { responseTimeoutMs: 30_000 }) };
    }
    throw new HttpError(404, `unknown control request ${method} ${url.pathname}`);
  };

  const server: Server = createServer((req, res: ServerResponse) => {
    const send = (status: number, body: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body, null, 2));
    };
    handle(req).then(
      (r) => send(r.status, r.body),
      (err: unknown) => {
        if (err instanceof HttpError) return send(err.status, { error: err.message });
        // The hub refuses bad patches and unknown modules with CONFIG_INVALID: the caller's mistake, not ours.
        if (err instanceof EdgeMLError && err.code === 'CONFIG_INVALID') return send(400, { error: err.message, code: err.code });
        options.logger.error({ err }, 'control request failed');
        send(500, { error: errorMessage(err) });
      },
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const address = server.address();
  const url = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`;
  let closed: Promise<void> | undefined;
  return {
    url,
    close() {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closed;
    },
  };
}
