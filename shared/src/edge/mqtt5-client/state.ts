import { ClientLifecycle } from '../client-state.js';

/** What the parts of one MQTT 5 edge client share: whether it is open, its lifetime (client-state.ts), the shares it took. */
export class EdgeClientState extends ClientLifecycle {
  /** What this replica takes a share of (shared subscriptions); left on a clean stop (see session.ts). */
  readonly shares = new Set<string>();
}
