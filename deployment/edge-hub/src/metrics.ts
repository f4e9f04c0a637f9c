/**
 * Prometheus metrics with edgeHub's names and labels where one applies (reference §5). Every series
 * carries `iothub`, `edge_device` and `instance_number` as edgeHub's do. edgeHub's durations are
 * summaries; here they are histograms (same names; the shared package exposes histograms).
 */
import { randomUUID } from 'node:crypto';
import { Counter, Gauge, Histogram, Registry } from '@edgeml/shared';

export interface HubMetrics {
  readonly registry: Registry;
  readonly messagesReceived: Counter<'route_output' | 'id'>;
  /** Per-message counts of `messagesReceived`, added to it when it is read. */
  readonly receivedTally: CounterTally<'route_output' | 'id'>;
  readonly messagesSent: Counter<'from' | 'to' | 'from_route_output' | 'to_route_input' | 'priority'>;
  /** Per-message counts of `messagesSent`, added to it when it is read. */
  readonly sentTally: CounterTally<'from' | 'to' | 'from_route_output' | 'to_route_input' | 'priority'>;
  readonly messageSize: Histogram<'id'>;
  readonly messagesDropped: Counter<'reason' | 'from' | 'from_route_output'>;
  readonly messagesUnack: Counter<'reason' | 'from' | 'from_route_output'>;
  readonly messagesRedelivered: Counter<'to' | 'to_route_input'>;
  readonly queueLength: Gauge<'endpoint' | 'priority'>;
  readonly getTwin: Counter<'source' | 'id'>;
  readonly reportedProperties: Counter<'target' | 'id'>;
  readonly desiredPushes: Counter<'id'>;
  readonly directMethods: Counter<'from' | 'to'>;
  readonly directMethodDuration: Histogram<'from' | 'to'>;
  readonly connectSuccess: Counter<'id'>;
  readonly connectFailed: Counter<'id' | 'reason'>;
  readonly disconnects: Counter<'id'>;
  readonly inputStallCloses: Counter<'id'>;
  readonly connectedClients: Gauge;
  readonly refusedPublishes: Counter<'id' | 'reason'>;
}

/**
 * Counts of a per-message series kept in plain numbers, by a caller's key, and added to their prom-client
 * counter when it is read (a scrape, `registry.metrics()`). prom-client hashes and validates the label
 * object on every `inc`, also through a `labels()` child (measured: about 1 µs a call on the
 * per-message path); a tally costs a Map lookup. Keys come from module ids, output and input names and
 * priorities: as bounded as the series themselves, which prom-client keeps anyway.
 */
export class CounterTally<L extends string> {
  readonly #pending = new Map<string, { readonly labels: Partial<Record<L, string>>; n: number }>();

  /** Counts one (or `n`) for the series of `key`; `labels` makes its label values the first time. */
  add(key: string, labels: () => Partial<Record<L, string>>, n = 1): void {
    const entry = this.#pending.get(key);
    if (entry === undefined) this.#pending.set(key, { labels: labels(), n });
    else entry.n += n;
  }

  /** Adds to `counter` what was counted since the last drain. */
  drain(counter: Counter<L>): void {
    for (const entry of this.#pending.values()) {
      if (entry.n === 0) continue;
      counter.inc(entry.labels, entry.n);
      entry.n = 0;
    }
  }
}

export function createHubMetrics(labels: { iothub: string; edgeDevice: string }, queueSnapshot: () => Array<{ endpoint: string; priority: number; length: number }>): HubMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ iothub: labels.iothub, edge_device: labels.edgeDevice, instance_number: randomUUID() });
  const registers = [registry];
  const durationBuckets = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30];
  const receivedTally = new CounterTally<'route_output' | 'id'>();
  const sentTally = new CounterTally<'from' | 'to' | 'from_route_output' | 'to_route_input' | 'priority'>();
  return {
    registry,
    messagesReceived: new Counter({
      name: 'edgehub_messages_received_total',
      help: 'Messages received from modules',
      labelNames: ['route_output', 'id'],
      registers,
      collect() {
        receivedTally.drain(this);
      },
    }),
    receivedTally,
    messagesSent: new Counter({
      name: 'edgehub_messages_sent_total',
      help: 'Messages delivered (acknowledged) to module inputs or written upstream',
      labelNames: ['from', 'to', 'from_route_output', 'to_route_input', 'priority'],
      registers,
      collect() {
        sentTally.drain(this);
      },
    }),
    sentTally,
    messageSize: new Histogram({
      name: 'edgehub_message_size_bytes',
      help: 'Size of received messages (body and properties)',
      labelNames: ['id'],
      buckets: [256, 1024, 4096, 16384, 65536, 262144],
      registers,
    }),
    messagesDropped: new Counter({
      name: 'edgehub_messages_dropped_total',
      help: 'Messages dropped (no_route, ttl_expiry, invalid, too_large)',
      labelNames: ['reason', 'from', 'from_route_output'],
      registers,
    }),
    messagesUnack: new Counter({
      name: 'edgehub_messages_unack_total',
      help: 'Messages refused without an acknowledgement (storage_full)',
      labelNames: ['reason', 'from', 'from_route_output'],
      registers,
    }),
    messagesRedelivered: new Counter({
      name: 'edgehub_messages_redelivered_total',
      help: 'Input deliveries sent again because the module did not acknowledge in time',
      labelNames: ['to', 'to_route_input'],
      registers,
    }),
    queueLength: new Gauge({
      name: 'edgehub_queue_length',
      help: 'Messages waiting per endpoint and priority',
      labelNames: ['endpoint', 'priority'],
      registers,
      collect() {
        this.reset();
        for (const q of queueSnapshot()) this.set({ endpoint: q.endpoint, priority: String(q.priority) }, q.length);
      },
    }),
    getTwin: new Counter({ name: 'edgehub_gettwin_total', help: 'Twin GET requests', labelNames: ['source', 'id'], registers }),
    reportedProperties: new Counter({ name: 'edgehub_reported_properties_total', help: 'Reported-property updates', labelNames: ['target', 'id'], registers }),
    desiredPushes: new Counter({ name: 'edgehub_desired_properties_pushed_total', help: 'Desired-property patches pushed to modules', labelNames: ['id'], registers }),
    directMethods: new Counter({ name: 'edgehub_direct_methods_total', help: 'Direct method invocations', labelNames: ['from', 'to'], registers }),
    directMethodDuration: new Histogram({
      name: 'edgehub_direct_method_duration_seconds',
      help: 'Direct method round trip',
      labelNames: ['from', 'to'],
      buckets: durationBuckets,
      registers,
    }),
    connectSuccess: new Counter({ name: 'edgehub_client_connect_success_total', help: 'Accepted CONNECTs', labelNames: ['id'], registers }),
    connectFailed: new Counter({ name: 'edgehub_client_connect_failed_total', help: 'Refused CONNECTs', labelNames: ['id', 'reason'], registers }),
    disconnects: new Counter({ name: 'edgehub_client_disconnect_total', help: 'Client disconnects', labelNames: ['id'], registers }),
    inputStallCloses: new Counter({
      name: 'edgehub_input_stall_closes_total',
      help: 'Connections closed by the hub because the module had input messages waiting and had not subscribed its inputs on that connection',
      labelNames: ['id'],
      registers,
    }),
    connectedClients: new Gauge({ name: 'edgehub_connected_clients', help: 'Modules connected now', registers }),
    refusedPublishes: new Counter({
      name: 'edgehub_publish_refused_total',
      help: 'PUBLISH packets refused (another identity, unknown topic, malformed)',
      labelNames: ['id', 'reason'],
      registers,
    }),
  };
}
