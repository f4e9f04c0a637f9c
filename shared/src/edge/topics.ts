/**
 * The MQTT 5 topic scheme: the route table of `deployment.template.json` translated into topics, so
 * one manifest describes both targets (IoT Edge with edgeHub, Kubernetes with an MQTT 5 broker).
 *
 * ```
 * <prefix>/<module>/outputs/<output>                    what sendOutput(<output>) publishes (QoS 1)
 * $share/<module>-<input>/<prefix>/<m>/outputs/<o>      what input <input> subscribes to, one per route
 *                                                       FROM /messages/modules/<m>/outputs/<o> INTO
 *                                                       BrokeredEndpoint("/modules/<module>/inputs/<input>")
 * <prefix>/<module>/methods/<method>                    a method request answered by any one replica
 * <prefix>/<module>/instances/<clientId>/methods/<m>    a method request answered by that replica
 * <prefix>/<module>/status/<clientId>                   retained: the replica's reported properties
 * ```
 *
 * Routes `INTO $upstream` keep their output topic: on Azure IoT Operations a data flow reads it (its
 * WHERE clause becomes the data flow's filter); they are listed in {@link TopicPlan.upstream}. A
 * module-to-module route with a WHERE clause cannot be expressed as a subscription and is refused,
 * as is a module whose two inputs would receive the same topic (MQTT 5 subscription identifiers would
 * tell them apart, but the Azure IoT Operations broker does not support them).
 */
import { EdgeMLError } from '../errors.js';

/** Default first topic level. Changeable per deployment (one broker, several suites). */
export const DEFAULT_TOPIC_PREFIX = 'edgeml';

export interface InputSubscription {
  readonly input: string;
  /** The topic filter without the `$share/<group>/` part, as it matches a received topic. */
  readonly filter: string;
  /** What is subscribed: `$share/<group>/<filter>`. */
  readonly subscription: string;
  /** The route it comes from (its name in the manifest). */
  readonly route: string;
}

export interface UpstreamRoute {
  readonly route: string;
  readonly filter: string;
  readonly where: string | undefined;
  readonly priority: number | undefined;
}

export interface TopicPlan {
  readonly prefix: string;
  /** Subscriptions per module (inputs fed by routes). */
  readonly inputs: Readonly<Record<string, readonly InputSubscription[]>>;
  readonly upstream: readonly UpstreamRoute[];
}

const SEGMENT = /^[A-Za-z0-9_.-]+$/;
const ROUTE = /^\s*FROM\s+(\S+)(?:\s+WHERE\s+(.+?))?\s+INTO\s+(.+?)\s*$/i;
const BROKERED = /^BrokeredEndpoint\(\s*"\/modules\/([^/"]+)\/inputs\/([^/"]+)"\s*\)$/i;

/** Topic on which `module` publishes output `output`. */
export function outputTopic(prefix: string, module: string, output: string): string {
  return `${prefix}/${module}/outputs/${output}`;
}

/** Topic of a method request served by any one replica of `module`. */
export function methodTopic(prefix: string, module: string, method: string): string {
  return `${prefix}/${module}/methods/${method}`;
}

/** Topic of a method request served by one named replica (its MQTT client id). */
export function instanceMethodTopic(prefix: string, module: string, clientId: string, method: string): string {
  return `${prefix}/${module}/instances/${clientId}/methods/${method}`;
}

/** Retained topic of one replica's reported properties. */
export function statusTopic(prefix: string, module: string, clientId: string): string {
  return `${prefix}/${module}/status/${clientId}`;
}

/** Default response topic for a requester, after the Azure IoT Operations SDK convention (`clients/<clientId>/…`). */
export function responseTopic(clientId: string, module: string, method: string): string {
  return `clients/${clientId}/${module}/methods/${method}/response`;
}

/** MQTT topic-filter matching (`+` one level, `#` the rest). */
export function topicMatches(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length) return false;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}

/** Whether some topic could match both filters. */
function filtersOverlap(a: string, b: string): boolean {
  const x = a.split('/');
  const y = b.split('/');
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    if (x[i] === '#' || y[i] === '#') return true;
    if (x[i] === undefined || y[i] === undefined) return false;
    if (x[i] !== '+' && y[i] !== '+' && x[i] !== y[i]) return false;
  }
  return true;
}

/** The `FROM` source as a topic filter; undefined when it is not a module output. */
function sourceFilter(prefix: string, source: string): string | undefined {
  if (source === '/messages/*' || source === '/messages/modules/*') return `${prefix}/+/outputs/+`;
  const m = /^\/messages\/modules\/([^/]+)\/(?:(\*)|outputs\/([^/]+))$/.exec(source);
  if (m === null || !SEGMENT.test(m[1] ?? '')) return undefined;
  const output = m[2] === '*' || m[3] === '*' ? '+' : m[3];
  if (output !== '+' && !SEGMENT.test(output ?? '')) return undefined;
  return `${prefix}/${m[1]}/outputs/${output}`;
}

/** Extracts `$edgeHub.properties.desired.routes` from a deployment manifest, or takes a bare routes object. */
export function routesFromDocument(doc: unknown): Record<string, unknown> {
  const obj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (!obj(doc)) throw new EdgeMLError('CONFIG_INVALID', 'routes document is not a JSON object');
  const content = obj(doc['modulesContent']) ? doc['modulesContent'] : doc;
  const edgeHub = content['$edgeHub'];
  if (obj(edgeHub)) {
    const desired = edgeHub['properties.desired'];
    if (obj(desired) && obj(desired['routes'])) return desired['routes'];
    throw new EdgeMLError('CONFIG_INVALID', 'the manifest has no $edgeHub properties.desired.routes');
  }
  if (obj(content['routes'])) return content['routes'];
  return content;
}

/**
 * Translates edgeHub routes into the topic plan. Route values are strings or `{ route, priority }`.
 * @throws EdgeMLError ROUTE_COMPILE_ERROR listing every route that cannot be translated.
 */
export function planTopics(routes: Readonly<Record<string, unknown>>, prefix: string = DEFAULT_TOPIC_PREFIX): TopicPlan {
  const problems: string[] = [];
  if (!prefix.split('/').every((s) => SEGMENT.test(s))) problems.push(`topic prefix "${prefix}" must be levels of letters, digits, '_', '.' or '-'`);
  const inputs: Record<string, InputSubscription[]> = {};
  const upstream: UpstreamRoute[] = [];
  for (const [name, value] of Object.entries(routes)) {
    const text = typeof value === 'string' ? value : typeof value === 'object' && value !== null ? (value as { route?: unknown }).route : undefined;
    const priorityRaw = typeof value === 'object' && value !== null ? (value as { priority?: unknown }).priority : undefined;
    const priority = typeof priorityRaw === 'number' ? priorityRaw : undefined;
    if (typeof text !== 'string') {
      problems.push(`route ${name}: not a route string or { route, priority }`);
      continue;
    }
    const m = ROUTE.exec(text);
    if (m === null) {
      problems.push(`route ${name}: expected "FROM <source> [WHERE <condition>] INTO <sink>"`);
      continue;
    }
    const filter = sourceFilter(prefix, m[1] ?? '');
    if (filter === undefined) {
      problems.push(`route ${name}: source ${m[1]} is not a module output (/messages/modules/<m>/outputs/<o>, …/outputs/*, /messages/modules/<m>/* or /messages/*)`);
      continue;
    }
    const where = m[2];
    const sink = (m[3] ?? '').trim();
    if (sink.toLowerCase() === '$upstream') {
      upstream.push({ route: name, filter, where, priority });
      continue;
    }
    const b = BROKERED.exec(sink);
    if (b === null || !SEGMENT.test(b[1] ?? '') || !SEGMENT.test(b[2] ?? '')) {
      problems.push(`route ${name}: sink ${sink} is neither $upstream nor BrokeredEndpoint("/modules/<m>/inputs/<i>")`);
      continue;
    }
    if (where !== undefined) {
      problems.push(`route ${name}: a WHERE clause on a module-to-module route cannot be expressed as an MQTT subscription; filter in the receiving module or split the output`);
      continue;
    }
    const module = b[1] ?? '';
    const input = b[2] ?? '';
    (inputs[module] ??= []).push({ input, filter, subscription: `$share/${module}-${input}/${filter}`, route: name });
  }
  for (const [module, subs] of Object.entries(inputs)) {
    for (let i = 0; i < subs.length; i++) {
      for (let j = i + 1; j < subs.length; j++) {
        const a = subs[i];
        const b = subs[j];
        if (a !== undefined && b !== undefined && a.input !== b.input && filtersOverlap(a.filter, b.filter)) {
          problems.push(`routes ${a.route} and ${b.route}: inputs ${a.input} and ${b.input} of ${module} would receive the same topic`);
        }
      }
    }
  }
  if (problems.length > 0) throw new EdgeMLError('ROUTE_COMPILE_ERROR', `routes cannot be translated to MQTT topics: ${problems.join('; ')}`, { details: { problems } });
  return Object.freeze({ prefix, inputs, upstream });
}

/** The input a received topic belongs to, for one module's subscriptions. */
export function inputForTopic(subscriptions: readonly InputSubscription[], topic: string): string | undefined {
  return subscriptions.find((s) => topicMatches(s.filter, topic))?.input;
}
