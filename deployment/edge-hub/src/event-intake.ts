/**
 * A module's output event: its property bag decoded as edgeHub does, stamped with the connection's
 * identity, size-checked, routed, and persisted for every module endpoint before the PUBACK; `$upstream`
 * copies go to the journal.
 */
import { randomUUID } from 'node:crypto';
import { EdgeMLError, type Logger } from '@edgeml/shared';
import type { HubCounters } from './counters.js';
import type { ForwardQueue } from './forward-queue.js';
import type { InputDelivery } from './input-delivery.js';
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
  readonly delivery: InputDelivery;
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

  constructor(options: EventIntakeOptions) {
    this.#o = options;
  }

  /**
   * Handles one output event. Returns an Error to refuse the PUBLISH without PUBACK (store-and-forward
   * full); a malformed or oversize message is acknowledged and dropped (counted), as edgeHub does.
   */
  handle(id: ModuleIdentity, bag: string, payload: Buffer): Error | undefined {
    const { metrics, counters } = this.#o;
    const from = this.#o.label(id.moduleId);
    const decoded = decodePropertyBag(bag);
    if (!decoded.ok) {
      metrics.refusedPublishes.inc({ id: from, reason: 'malformed_properties' });
      counters.drop('invalid', from, '');
      this.#o.warnOnce(`bag:${id.moduleId}`, { moduleId: id.moduleId, problem: decoded.problem }, 'output event with a malformed property bag dropped');
      return undefined;
    }
    const { systemProperties, properties } = splitProperties(decoded.pairs);
    const outputName = systemProperties['outputName'];
    systemProperties['connectionDeviceId'] = id.deviceId;
    systemProperties['connectionModuleId'] = id.moduleId;
    systemProperties['edgeMessageId'] = randomUUID();
    systemProperties['edgeHubOriginInterface'] = 'internal';
    counters.received++;
    const size = messageSize(payload, systemProperties, properties);
    metrics.messagesReceived.inc({ route_output: outputName ?? '', id: from });
    metrics.messageSize.observe({ id: from }, size);
    if (size > this.#o.maxMessageBytes) {
      metrics.refusedPublishes.inc({ id: from, reason: 'too_large' });
      counters.drop('too_large', from, outputName ?? '');
      this.#o.warnOnce(`too-large:${id.moduleId}`, { moduleId: id.moduleId, sizeBytes: size }, `output event over ${this.#o.maxMessageBytes} bytes dropped`);
      return undefined;
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
      return undefined;
    }
    if (this.#deliver(message, matches, size) === 'storage_full') {
      metrics.messagesUnack.inc({ reason: 'storage_full', from, from_route_output: outputName ?? '' });
      this.#o.warnOnce('storage-full', { moduleId: id.moduleId, storedBytes: this.#o.queue.bytes }, 'store-and-forward is full (storeLimits.maxSizeBytes); publish refused without PUBACK');
      return new Error('store-and-forward is full');
    }
    return undefined;
  }

  /**
   * Queues `message` for `<moduleId>/<inputName>` through store-and-forward (objects become JSON
   * utf-8) with the global TTL. @throws EdgeMLError QUOTA_EXCEEDED when store-and-forward is full
   */
  inject(moduleId: string, inputName: string, message: InjectedMessage): void {
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
    const endpoint = `${moduleId}/${inputName}`;
    this.#o.queue.enqueue([
      {
        endpoint,
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
      },
    ]);
    this.#o.delivery.schedule(endpoint);
  }

  /** Persists module deliveries (all or none) within storeLimits; upstream ones go to the journal. */
  #deliver(message: RoutedMessage, matches: Matches, sizeBytes: number): 'ok' | 'storage_full' {
    const t = this.#o.now();
    const fromModule = message.source.moduleId ?? '';
    const fromOutput = message.source.outputName ?? '';
    const rows: NewMessage[] = [];
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
        body: Buffer.from(message.body),
      });
    }
    if (rows.length > 0 && this.#o.queue.wouldExceed(rows.length * sizeBytes)) return 'storage_full';
    if (rows.length > 0) {
      this.#o.queue.enqueue(rows);
      // Straight to the wire when the input is idle: one event-loop turn less per message than scheduling.
      for (const r of rows) this.#o.delivery.pump(r.endpoint);
    }
    const upstream = matches.find((m) => m.endpoint.kind === 'upstream');
    if (upstream !== undefined) {
      const record: UpstreamRecord = {
        receivedAt: new Date(t).toISOString(),
        source: message.sourcePath,
        systemProperties: message.systemProperties,
        properties: message.properties,
        body: journalBody(Buffer.from(message.body)),
      };
      this.#o.journal.append(record);
      this.#o.counters.sent++;
      this.#o.metrics.messagesSent.inc({ from: this.#o.label(fromModule), to: '$upstream', from_route_output: fromOutput, to_route_input: '', priority: String(upstream.priority) });
    }
    return 'ok';
  }
}
