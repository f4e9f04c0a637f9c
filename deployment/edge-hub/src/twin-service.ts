/**
 * Module twins: seeded from the manifest, answered on twin GET, patched by reported updates, patched
 * (desired) by the operator and pushed to the module. Stored in the hub's SQLite state.
 */
import type { Client } from 'aedes';
import { canonicalJson, EdgeMLError, type Logger } from '@edgeml/shared';
import { createHash } from 'node:crypto';
import type { ModuleConnections } from './connections.js';
import type { HubMetrics } from './metrics.js';
import type { ModuleIdentity } from './sas.js';
import type { HubStore } from './store.js';
import { applyMergePatch, mergePatchBetween, twinPatchProblems } from './twins.js';

export interface TwinDocument {
  desired: Record<string, unknown>;
  reported: Record<string, unknown>;
}

export interface TwinServiceOptions {
  readonly store: HubStore;
  readonly connections: ModuleConnections;
  readonly metrics: HubMetrics;
  readonly logger: Logger;
  readonly known: ReadonlySet<string>;
  readonly label: (moduleId: string) => string;
  readonly warnOnce: (key: string, fields: Record<string, unknown>, msg: string) => void;
  /** False once the store is closed. */
  readonly isOpen: () => boolean;
}

const sha256Hex = (text: string): string => createHash('sha256').update(text).digest('hex');

export class TwinService {
  readonly #o: TwinServiceOptions;
  /** The desired document each module last received (GET or push) while this hub ran. */
  readonly #seenDesired = new Map<string, Record<string, unknown>>();

  constructor(options: TwinServiceOptions) {
    this.#o = options;
  }

  /** Seeds desired from the manifest with `$version` 1; a changed manifest section replaces desired (version + 1). */
  seed(moduleId: string, desired: Record<string, unknown>): void {
    const { store, logger } = this.#o;
    const seedHash = sha256Hex(canonicalJson(desired));
    const existing = store.getTwin(moduleId);
    if (existing === undefined) store.putTwin(moduleId, { desired, reported: {}, desiredVersion: 1, reportedVersion: 1, seedHash });
    else if (existing.seedHash !== seedHash) {
      store.putTwin(moduleId, { ...existing, desired, desiredVersion: existing.desiredVersion + 1, seedHash });
      logger.info({ moduleId, desiredVersion: existing.desiredVersion + 1 }, 'module twin re-seeded from a changed manifest');
    }
  }

  /** @throws EdgeMLError INTERNAL when stopped, CONFIG_INVALID for an unknown module */
  document(moduleId: string): TwinDocument {
    if (!this.#o.isOpen()) throw new EdgeMLError('INTERNAL', 'the edge hub is stopped');
    const t = this.#o.store.getTwin(moduleId);
    if (t === undefined) throw new EdgeMLError('CONFIG_INVALID', `module ${moduleId} is not known to the hub`);
    return { desired: { ...t.desired, $version: t.desiredVersion }, reported: { ...t.reported, $version: t.reportedVersion } };
  }

  handleGet(client: Client, id: ModuleIdentity, rid: string | undefined): void {
    if (rid === undefined || rid === '') {
      this.#o.warnOnce(`twin-get-no-rid:${id.moduleId}`, { moduleId: id.moduleId }, 'twin GET without $rid ignored');
      return;
    }
    const label = this.#o.label(id.moduleId);
    this.#o.metrics.getTwin.inc({ source: label, id: label });
    const doc = this.document(id.moduleId);
    this.#seenDesired.set(id.moduleId, doc.desired);
    this.#o.connections.send(client, `$iothub/twin/res/200/?$rid=${rid}`, JSON.stringify(doc));
  }

  handleReported(client: Client, id: ModuleIdentity, rid: string | undefined, payload: Buffer): void {
    const { store, metrics } = this.#o;
    let patch: unknown;
    try {
      patch = JSON.parse(payload.toString('utf8'));
    } catch {
      metrics.refusedPublishes.inc({ id: this.#o.label(id.moduleId), reason: 'twin_body_not_json' });
      this.#error(client, rid, 400, 400004, 'reported properties patch is not JSON');
      return;
    }
    const problems = twinPatchProblems(patch);
    if (problems.length > 0) {
      this.#o.warnOnce(`reported-invalid:${id.moduleId}`, { moduleId: id.moduleId, problems }, 'reported properties patch refused');
      this.#error(client, rid, 400, 400004, `reported properties patch refused: ${problems.join('; ')}`);
      return;
    }
    const t = store.getTwin(id.moduleId);
    if (t === undefined) {
      this.#error(client, rid, 404, 404001, 'twin not found');
      return;
    }
    const reported = structuredClone(t.reported);
    applyMergePatch(reported, patch as Record<string, unknown>);
    store.putTwin(id.moduleId, { ...t, reported, reportedVersion: t.reportedVersion + 1 });
    metrics.reportedProperties.inc({ target: 'upstream', id: this.#o.label(id.moduleId) });
    if (rid !== undefined && rid !== '') this.#o.connections.send(client, `$iothub/twin/res/204/?$rid=${rid}`, '');
  }

  /**
   * Merge-patches desired (`null` deletes), increments `$version` and pushes the patch to the module
   * when it is connected and subscribed. @throws EdgeMLError INTERNAL, CONFIG_INVALID
   */
  patchDesired(moduleId: string, patch: Readonly<Record<string, unknown>>): number {
    const { store, connections } = this.#o;
    if (!this.#o.isOpen()) throw new EdgeMLError('INTERNAL', 'the edge hub is stopped');
    if (!this.#o.known.has(moduleId)) throw new EdgeMLError('CONFIG_INVALID', `module ${moduleId} is not known to the hub`);
    const problems = twinPatchProblems(patch, { allowVersion: true });
    if (problems.length > 0) throw new EdgeMLError('CONFIG_INVALID', `desired patch refused: ${problems.join('; ')}`, { details: { problems } });
    const t = store.getTwin(moduleId);
    if (t === undefined) throw new EdgeMLError('CONFIG_INVALID', `module ${moduleId} has no twin`);
    const clean = structuredClone(patch) as Record<string, unknown>;
    delete clean['$version'];
    const desired = structuredClone(t.desired);
    applyMergePatch(desired, clean);
    const version = t.desiredVersion + 1;
    store.putTwin(moduleId, { ...t, desired, desiredVersion: version });
    const client = connections.clientOf(moduleId);
    if (client !== undefined && connections.hasFeature(moduleId, 'desired')) {
      this.#o.metrics.desiredPushes.inc({ id: this.#o.label(moduleId) });
      this.#seenDesired.set(moduleId, { ...desired, $version: version });
      connections.send(client, `$iothub/twin/PATCH/properties/desired/?$version=${version}`, JSON.stringify({ ...clean, $version: version }));
    }
    return version;
  }

  /**
   * A module that reconnects without re-reading its twin (the SDK's SAS-renewal reconnect, every 45 min)
   * would miss a desired patch made while it was away: send it the difference from what it last saw.
   */
  catchUp(client: Client, moduleId: string): void {
    const seen = this.#seenDesired.get(moduleId);
    if (seen === undefined || !this.#o.isOpen() || !this.#o.connections.hasFeature(moduleId, 'desired')) return;
    const current = this.document(moduleId).desired;
    if (current['$version'] === seen['$version']) return;
    const patch = mergePatchBetween(seen, current);
    delete patch['$version'];
    this.#seenDesired.set(moduleId, current);
    this.#o.metrics.desiredPushes.inc({ id: this.#o.label(moduleId) });
    this.#o.connections.send(client, `$iothub/twin/PATCH/properties/desired/?$version=${String(current['$version'])}`, JSON.stringify({ ...patch, $version: current['$version'] }));
  }

  #error(client: Client, rid: string | undefined, status: number, errorCode: number, message: string): void {
    // The SDK ignores the status and only sees an error when the body has errorCode (wire notes §4).
    if (rid !== undefined && rid !== '') this.#o.connections.send(client, `$iothub/twin/res/${status}/?$rid=${rid}`, JSON.stringify({ errorCode, message }));
  }
}
