/**
 * A module's output event: its property bag decoded as edgeHub does, stamped with the connection's
 * identity, size-checked, routed, persisted for every module endpoint (forward-queue.ts: group commit)
 * and written to the `$upstream` journal before the PUBACK. Delivery starts from the commit.
 */
import { randomUUID } from 'node:crypto';
import { EdgeMLError, type Logger } from '@edgeml/shared';
import type { HubCounters } from './counters.js';
import type { ForwardQueue } from './forward-queue.js';
import { bodyToBuffer, messageSize } from './messages.js';
import type { HubMetrics } from './metrics.js';
import { decodePropertyBag, splitProperties } from './property-bag.js';
import type { CompiledRouteTable, RouteMessage } from './routes/index.js';
import type { ModuleIdentity } from './sas.js';
import type { NewMessage } from './store.js';
import type { UpstreamJournal, UpstreamRecord } from './upstream.js';
import { journalBody } from './upstream.js';

export interface EventIntakeOptions {
  readonly routes: CompiledRouteTable;
  readonly queue: ForwardQueue;
  readonly journal: UpstreamJournal;
  readonly counters: HubCounters;
  readonly metrics: HubMetrics;
  readonly logger: Logger;
  readonly label: (moduleId: string) => string;
  readonly now: () => number;
  readonly warnOnce: (key: string, fields: Record<string, unknown>, msg: string) => void;
  /** Routed message size limit: body plus every property key and value. */
  readonly maxMessageBytes: number;
}

type RoutedMessage = RouteMessage & { readonly sourcePath: string };

/** A message queued for a module input as if a route had delivered it (`EdgeHub.injectInput`). */
export interface InjectedMessage {
  readonly body: Buffer | string | object;
  readonly properties?: Readonly<Record<string, string>>;
  readonly messageId?: string;
  readonly contentType?: string;
  readonly contentEncoding?: string;
  readonly correlationId?: string;
}
type Matches = ReturnType<CompiledRouteTable['match']>;

export class EventIntake {
  readonly #o: EventIntakeOptions;
  /** The size histogram's label object per module (not one allocated per message). */
  readonly #sizeLabels = new Map<string, { id: string }>();

  constructor(options: EventIntakeOptions) {
    this.#o = options;
  }

  /**
   * Handles one output event; `done(null)` when it may be acknowledged: persisted for every module
   * endpoint and written to the `$upstream` journal, or dropped for good (malformed, oversize, no route;
   * counted, as edgeHub does). `done(error)` refuses it without PUBACK: store-and-forward is full or the
   * write failed, and the SDK sends it again.
   */
  handle(id: ModuleIdentity, bag: string, payload: Buffer, done: (err: Error | null) => void): void {
    const { metrics, counters } = this.#o;
    const from = this.#o.label(id.moduleId);
    const decoded = decodePropertyBag(bag);
    if (!decoded.ok) {
      metrics.refusedPublishes.inc({ id: from, reason: 'malformed_properties' });
      counters.drop('invalid', from, '');
      this.#o.warnOnce(`bag:${id.moduleId}`, { moduleId: id.moduleId, problem: decoded.problem }, 'output event with a malformed property bag dropped');
      return done(null);
    }
    const { systemProperties, properties } = splitProperties(decoded.pairs);
    const outputName = systemProperties['outputName'];
    systemProperties['connectionDeviceId'] = id.deviceId;
    systemProperties['connectionModuleId'] = id.moduleId;
    systemProperties['edgeMessageId'] = randomUUID();
    systemProperties['edgeHubOriginInterface'] = 'internal';
    counters.received++;
    const size = messageSize(payload, systemProperties, properties);
    // Module ids hold no newline: the first one ends the module id.
    metrics.receivedTally.add(`${id.moduleId}\n${outputName ?? ''}`, () => ({ route_output: outputName ?? '', id: from }));
    let sizeLabels = this.#sizeLabels.get(from);
    if (sizeLabels === undefined) this.#sizeLabels.set(from, (sizeLabels = { id: from }));
    metrics.messageSize.observe(sizeLabels, size);
    if (size > this.#o.maxMessageBytes) {
      metrics.refusedPublishes.inc({ id: from, reason: 'too_large' });
      counters.drop('too_large', from, outputName ?? '');
      this.#o.warnOnce(`too-large:${id.moduleId}`, { moduleId: id.moduleId, sizeBytes: size }, `output event over ${this.#o.maxMessageBytes} bytes dropped`);
      return done(null);
    }
    const sourcePath = outputName === undefined ? `/messages/modules/${id.moduleId}` : `/messages/modules/${id.moduleId}/outputs/${outputName}`;
    const message: RoutedMessage = {
      source: { kind: 'telemetry' as const, deviceId: id.deviceId, moduleId: id.moduleId, outputName },
      systemProperties,
      properties,
      body: payload,
      sourcePath,
    };
    const matches = this.#o.routes.match(message);
    if (matches.length === 0) {
      counters.drop('no_route', from, outputName ?? '');
      return done(null);
    }
    if (!this.#deliver(message, matches, size, done)) {
      metrics.messagesUnack.inc({ reason: 'storage_full', from, from_route_output: outputName ?? '' });
      this.#o.warnOnce('storage-full', { moduleId: id.moduleId, storedBytes: this.#o.queue.bytes }, 'store-and-forward is full (storeLimits.maxSizeBytes); publish refused without PUBACK');
      done(new Error('store-and-forward is full'));
    }
  }

  /**
   * Queues `message` for `<moduleId>/<inputName>` through store-and-forward (objects become JSON
   * utf-8) with the global TTL; resolves once it is committed.
   * @throws EdgeMLError QUOTA_EXCEEDED when store-and-forward is full
   */
  inject(moduleId: string, inputName: string, message: InjectedMessage): Promise<void> {
    const isObject = !Buffer.isBuffer(message.body) && typeof message.body === 'object';
    const body = bodyToBuffer(message.body);
    const systemProperties: Record<string, string> = {};
    if (message.messageId !== undefined) systemProperties['messageId'] = message.messageId;
    if (message.correlationId !== undefined) systemProperties['cid'] = message.correlationId;
    const contentType = message.contentType ?? (isObject ? 'application/json' : undefined);
    const contentEncoding = message.contentEncoding ?? (isObject ? 'utf-8' : undefined);
    if (contentType !== undefined) systemProperties['contentType'] = contentType;
    if (contentEncoding !== undefined) systemProperties['contentEncoding'] = contentEncoding;
    const properties = { ...(message.properties ?? {}) };
    const size = messageSize(body, systemProperties, properties);
    const ttl = this.#o.routes.globalTimeToLiveSecs;
    const t = this.#o.now();
    if (this.#o.queue.wouldExceed(size)) throw new EdgeMLError('QUOTA_EXCEEDED', 'store-and-forward is full (storeLimits.maxSizeBytes)');
    return new Promise((resolve, reject) => {
      const row: NewMessage = {
        endpoint: `${moduleId}/${inputName}`,
        priority: 2_000_000_000,
        enqueuedAtMs: t,
        expiresAtMs: Number.isFinite(ttl) ? t + ttl * 1000 : undefined,
        sizeBytes: size,
        systemProperties,
        properties,
        routeName: '$injected',
        fromModule: '$injected',
        fromOutput: '',
        body,
      };
      this.#o.queue.enqueue([row], (err) => (err === undefined ? resolve() : reject(err)));
    });
  }

  /**
   * Persists module deliveries (all or none, with the turn's group commit) within storeLimits and writes
   * the `$upstream` copy; `done` runs when both are durable. False: store-and-forward is full.
   */
  #deliver(message: RoutedMessage, matches: Matches, sizeBytes: number, done: (err: Error | null) => void): boolean {
    const t = this.#o.now();
    const fromModule = message.source.moduleId ?? '';
    const fromOutput = message.source.outputName ?? '';
    const rows: NewMessage[] = [];
    // One copy for every endpoint (the payload may be a view of the connection's read buffer).
    let body: Buffer | undefined;
    for (const m of matches) {
      if (m.endpoint.kind !== 'module') continue;
      rows.push({
        endpoint: m.endpoint.id,
        priority: m.priority,
        enqueuedAtMs: t,
        expiresAtMs: Number.isFinite(m.timeToLiveSecs) ? t + m.timeToLiveSecs * 1000 : undefined,
        sizeBytes,
        systemProperties: message.systemProperties,
        properties: message.properties,
        routeName: m.routeName,
        fromModule,
        fromOutput,
        body: (body ??= Buffer.from(message.body)),
      });
    }
    if (rows.length > 0 && this.#o.queue.wouldExceed(rows.length * sizeBytes)) return false;
    const upstream = matches.find((m) => m.endpoint.kind === 'upstream');
    let waiting = (rows.length > 0 ? 1 : 0) + (upstream !== undefined ? 1 : 0);
    let failed = false;
    const settle = (err: Error | undefined): void => {
      if (failed) return;
      if (err !== undefined) {
        failed = true;
        done(err);
      } else if (--waiting === 0) done(null);
    };
    if (rows.length > 0) this.#o.queue.enqueue(rows, (err) => settle(err));
    if (upstream !== undefined) {
      const record: UpstreamRecord = {
        receivedAt: new Date(t).toISOString(),
        source: message.sourcePath,
        systemProperties: message.systemProperties,
        properties: message.properties,
        body: journalBody(Buffer.from(message.body)),
      };
      this.#o.journal.append(record, (err) => {
        if (err === undefined) {
          this.#o.counters.sent++;
          this.#o.metrics.sentTally.add(`${upstream.priority}\n${fromModule}\n$upstream\n${fromOutput}`, () => ({
            from: this.#o.label(fromModule),
            to: '$upstream',
            from_route_output: fromOutput,
            to_route_input: '',
            priority: String(upstream.priority),
          }));
        }
        settle(err);
      });
    }
    return true;
  }
}
