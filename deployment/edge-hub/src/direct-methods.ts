/**
 * Direct methods invoked on modules: the request goes to the module's connection, the response is
 * matched by `$rid`, and the hub keeps its own timeout (the SDK never answers an unknown method).
 */
import { randomUUID } from 'node:crypto';
import type { ModuleConnections } from './connections.js';
import type { HubMetrics } from './metrics.js';
import type { ModuleIdentity } from './sas.js';

export interface MethodResult {
  readonly status: number;
  readonly payload: unknown;
}

interface PendingMethod {
  readonly moduleId: string;
  readonly settle: (result: MethodResult) => void;
}

export class DirectMethods {
  readonly #pending = new Map<string, PendingMethod>();
  readonly #connections: ModuleConnections;
  readonly #metrics: HubMetrics;
  readonly #label: (moduleId: string) => string;
  readonly #now: () => number;
  readonly #warnOnce: (key: string, fields: Record<string, unknown>, msg: string) => void;

  constructor(options: {
    connections: ModuleConnections;
    metrics: HubMetrics;
    label: (moduleId: string) => string;
    now: () => number;
    warnOnce: (key: string, fields: Record<string, unknown>, msg: string) => void;
  }) {
    this.#connections = options.connections;
    this.#metrics = options.metrics;
    this.#label = options.label;
    this.#now = options.now;
    this.#warnOnce = options.warnOnce;
  }

  /** 404 when the module is not connected or holds no method subscription; 504 after `timeoutMs`. */
  invoke(moduleId: string, methodName: string, payload: unknown, timeoutMs: number): Promise<MethodResult> {
    const to = this.#label(moduleId);
    this.#metrics.directMethods.inc({ from: '$local', to });
    const client = this.#connections.clientOf(moduleId);
    if (client === undefined || !this.#connections.hasFeature(moduleId, 'methods')) {
      return Promise.resolve({ status: 404, payload: { message: `module ${moduleId} is not connected or has no method handler subscription` } });
    }
    const rid = randomUUID();
    const key = `${moduleId}\n${rid}`;
    const startedAtMs = this.#now();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        if (this.#pending.delete(key)) resolve({ status: 504, payload: { message: `module ${moduleId} did not answer ${methodName} within ${timeoutMs} ms` } });
      }, timeoutMs);
      this.#pending.set(key, {
        moduleId,
        settle: (result) => {
          clearTimeout(timer);
          this.#metrics.directMethodDuration.observe({ from: '$local', to }, (this.#now() - startedAtMs) / 1000);
          resolve(result);
        },
      });
      // An empty body is not "no payload" for the SDK: its parser sees a Buffer, JSON.parse('') fails and it
      // answers 400 itself (observed). Absent payloads go as JSON null.
      this.#connections.send(client, `$iothub/methods/POST/${methodName}/?$rid=${rid}`, JSON.stringify(payload ?? null));
    });
  }

  /** A module's `$iothub/methods/res/<status>/?$rid=` publish. */
  handleResponse(id: ModuleIdentity, status: string, rid: string | undefined, payload: Buffer): void {
    const key = `${id.moduleId}\n${(rid ?? '').toLowerCase()}`;
    const pending = this.#pending.get(key);
    if (pending === undefined) {
      this.#warnOnce(`method-late:${id.moduleId}`, { moduleId: id.moduleId, rid }, 'direct method response for no pending request (late or unknown $rid)');
      return;
    }
    this.#pending.delete(key);
    let body: unknown = null;
    if (payload.length > 0) {
      const text = payload.toString('utf8');
      try {
        body = JSON.parse(text) as unknown;
      } catch {
        body = text;
      }
    }
    // edgeHub: a missing or non-integer status gives a generic 400.
    const code = /^[0-9]+$/.test(status) ? Number(status) : 400;
    pending.settle({ status: code, payload: body });
  }

  /** Answers every pending invocation with 503 (the hub is stopping). */
  cancelAll(): void {
    for (const [key, p] of this.#pending) {
      this.#pending.delete(key);
      p.settle({ status: 503, payload: { message: 'edge hub stopping' } });
    }
  }
}
