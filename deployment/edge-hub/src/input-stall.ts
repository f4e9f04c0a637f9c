/**
 * The backstop against a module that is connected, has messages waiting on its inputs, and never
 * subscribes its inputs on this connection (whether or not its session held them before): input deliveries wait for that SUBSCRIBE (connections.ts),
 * and the SDK has state-machine gaps after a broker restart in which it believes it is subscribed, or
 * stops trying (wire notes §7, §11.5). After `waitMs` such a connection is closed once: the SDK treats
 * the loss as retryable, reconnects and re-subscribes the inputs it listens to. Each further close of
 * the same module waits twice as long (up to `maxWaitMs`), so a module that truly no longer listens is
 * not disconnected in a tight loop; an inputs SUBSCRIBE resets the wait.
 */
import type { Client } from 'aedes';
import type { Logger } from '@edgeml/shared';
import type { ModuleConnections } from './connections.js';
import type { HubMetrics } from './metrics.js';

export interface InputStallGuardOptions {
  readonly connections: ModuleConnections;
  /** Endpoints (`<module>/<input>`) with messages in store-and-forward. */
  readonly endpointsWithMessages: () => readonly string[];
  readonly moduleIds: readonly string[];
  readonly metrics: HubMetrics;
  readonly logger: Logger;
  readonly label: (moduleId: string) => string;
  readonly now: () => number;
  /** How long a connection may hold back its waiting inputs before it is closed. */
  readonly waitMs: number;
  /** The longest wait after repeated closes of one module. */
  readonly maxWaitMs: number;
}

interface Watch {
  client: Client;
  sinceMs: number;
  waitMs: number;
}

export class InputStallGuard {
  readonly #o: InputStallGuardOptions;
  readonly #watch = new Map<string, Watch>();

  constructor(options: InputStallGuardOptions) {
    this.#o = options;
  }

  /** Runs on the hub's sweep: closes the connections that held back their inputs for too long. */
  check(): void {
    const { connections, now } = this.#o;
    const t = now();
    const stalled: string[] = [];
    for (const m of this.#o.moduleIds) {
      const client = connections.clientOf(m);
      if (client === undefined) continue;
      const w = this.#watch.get(m);
      if (connections.takesInputs(m)) {
        if (w !== undefined) this.#watch.delete(m);
        continue;
      }
      if (w === undefined) this.#watch.set(m, { client, sinceMs: t, waitMs: this.#o.waitMs });
      else if (w.client !== client) Object.assign(w, { client, sinceMs: t });
      else if (t - w.sinceMs >= w.waitMs) stalled.push(m);
    }
    if (stalled.length === 0) return;
    const waiting = new Set(this.#o.endpointsWithMessages().map((e) => e.slice(0, e.indexOf('/'))));
    for (const m of stalled) {
      const w = this.#watch.get(m);
      if (w === undefined) continue;
      if (!waiting.has(m)) {
        // Nothing waits for it: look again after another wait, from now.
        w.sinceMs = t;
        continue;
      }
      this.#o.metrics.inputStallCloses.inc({ id: this.#o.label(m) });
      this.#o.logger.warn(
        { moduleId: m, connectedForMs: t - w.sinceMs, nextWaitMs: Math.min(w.waitMs * 2, this.#o.maxWaitMs) },
        'module connected with input messages waiting but has not subscribed its inputs on this connection; closing it so that its SDK reconnects and subscribes again',
      );
      w.sinceMs = t;
      w.waitMs = Math.min(w.waitMs * 2, this.#o.maxWaitMs);
      w.client.close();
    }
  }
}
