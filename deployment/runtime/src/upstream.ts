import type { EdgeHub } from '@edgeml/edge-hub';

export interface UpstreamRecord {
  readonly receivedAt: string;
  readonly source: unknown;
  readonly systemProperties: Record<string, string>;
  readonly properties: Record<string, string>;
  readonly body: unknown;
}

/** Calls `listener` for every message the hub puts on $upstream; returns an unsubscribe function. */
export function followUpstream(hub: EdgeHub, listener: (rec: UpstreamRecord) => void): () => void {
  return hub.onUpstream((rec: unknown) => listener(rec as UpstreamRecord));
}
