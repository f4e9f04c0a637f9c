/**
 * What the edge hub benchmarks share besides their clients (hub-clients.ts): their command-line flags and
 * the deployment they give the hub (module `sender`'s outputs routed to module `receiver`'s input `in`).
 * No imports: safe to load before a benchmark re-runs itself under the `@edgeml/source` condition.
 */

/** The value after `--name`, else `fallback`; @throws when neither is there (a required flag). */
export function arg(name: string, fallback: string | undefined): string {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? process.argv[i + 1] : fallback;
  if (v === undefined) throw new Error(`--${name} is required`);
  return v;
}

/** A positive integer flag. @throws on anything else */
export function count(name: string, fallback: number): number {
  const v = Number(arg(name, String(fallback)));
  if (!Number.isInteger(v) || v < 1) throw new Error(`--${name} must be a positive integer (got ${arg(name, '')})`);
  return v;
}

/** The route every hub benchmark measures. */
export const BENCH_ROUTE = 'FROM /messages/modules/sender/outputs/* INTO BrokeredEndpoint("/modules/receiver/inputs/in")';

/** The hub's deployment: modules sender and receiver, {@link BENCH_ROUTE} (none when `routed` is false), a 2 h TTL. */
export function benchHubManifest(routed = true): Record<string, unknown> {
  return {
    modulesContent: {
      $edgeAgent: { 'properties.desired': { modules: routed ? { sender: {}, receiver: {} } : {} } },
      $edgeHub: {
        'properties.desired': {
          schemaVersion: '1.2',
          routes: routed ? { bench: BENCH_ROUTE } : {},
          storeAndForwardConfiguration: { timeToLiveSecs: 7200 },
        },
      },
    },
  };
}
