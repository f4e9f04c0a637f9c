/**
 * What a module may publish and subscribe to (reference §1.4, wire notes §9): only its own
 * `devices/<d>/modules/<m>/...` namespace and the `$iothub/...` request topics, which the hub answers
 * per connection. Pure functions.
 */
import { parseEventTopic, parseTopicQuery } from './property-bag.js';
import type { ModuleIdentity } from './sas.js';

export type PublishKind =
  | { readonly kind: 'event'; readonly bag: string }
  | { readonly kind: 'twinGet'; readonly rid: string | undefined }
  | { readonly kind: 'twinReported'; readonly rid: string | undefined }
  | { readonly kind: 'methodResponse'; readonly status: string; readonly rid: string | undefined }
  | { readonly kind: 'refused'; readonly reason: string };

/** Classifies a PUBLISH from `identity`; anything that is not one of its own topics is refused. */
export function classifyPublish(identity: ModuleIdentity, topic: string): PublishKind {
  if (topic.startsWith('$iothub/')) {
    const path = topic.split('?')[0] ?? '';
    const rid = parseTopicQuery(topic)['$rid'];
    if (path === '$iothub/twin/GET/') return { kind: 'twinGet', rid };
    if (path === '$iothub/twin/PATCH/properties/reported/') return { kind: 'twinReported', rid };
    const m = /^\$iothub\/methods\/res\/([^/]*)\/$/.exec(path);
    if (m !== null) return { kind: 'methodResponse', status: m[1] ?? '', rid };
    return { kind: 'refused', reason: `unsupported $iothub topic ${path}` };
  }
  const event = parseEventTopic(topic);
  if (event !== undefined) {
    // The identity is the authenticated one; a topic naming another device or module is refused.
    if (event.deviceId !== identity.deviceId || event.moduleId !== identity.moduleId) {
      return { kind: 'refused', reason: `publish names another identity (${event.deviceId}/${event.moduleId})` };
    }
    return { kind: 'event', bag: event.bag };
  }
  if (topic.startsWith('devices/')) return { kind: 'refused', reason: 'modules may only publish output events on devices/<d>/modules/<m>/messages/events' };
  return { kind: 'refused', reason: 'topic outside the module namespace' };
}

/** The `$iothub` filters the SDK subscribes to (all literal; wire notes §4). */
export const IOTHUB_FILTERS = {
  methods: '$iothub/methods/POST/#',
  twinResponses: '$iothub/twin/res/#',
  desired: '$iothub/twin/PATCH/properties/desired/#',
} as const;

export type SubscriptionFeature = 'inputs' | 'methods' | 'twinResponses' | 'desired';

/**
 * The feature a subscription enables for `identity` (edgeHub's SessionStateParser), or undefined when the
 * filter is not allowed: another module's namespace, wildcards elsewhere, or unknown topics.
 */
export function subscriptionFeature(identity: ModuleIdentity, filter: string): SubscriptionFeature | undefined {
  const own = `devices/${identity.deviceId}/modules/${identity.moduleId}/`;
  if (filter === `${own}inputs/#` || filter === `${own}#`) return 'inputs';
  if (filter === IOTHUB_FILTERS.methods) return 'methods';
  if (filter === IOTHUB_FILTERS.twinResponses) return 'twinResponses';
  if (filter === IOTHUB_FILTERS.desired) return 'desired';
  return undefined;
}
