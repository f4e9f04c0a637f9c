/** The public face of the local edge hub: its options, defaults and interface (built by hub.ts). */
import type { Logger } from '@edgeml/shared';
import type { InjectedMessage } from './event-intake.js';
import type { CompiledRouteTable } from './routes/index.js';
import type { UpstreamRecord } from './upstream.js';

/** Defaults of `createEdgeHub`; units in the names. */
export const EDGE_HUB_DEFAULTS = {
  deviceId: 'edgeml-dev',
  iotHubHostName: 'edgeml-local.azure-devices.net',
  port: 8883,
  host: '127.0.0.1',
  /** edgeHub's MessageAckTimeoutSecs: an input delivery not acknowledged within this is sent again. */
  messageAckTimeoutMs: 30_000,
  /**
   * Messages sent to one module input and not yet acknowledged. The SDK acknowledges on receipt, so
   * this bounds round trips, not the module's work; measured with bench/edge-hub.ts.
   */
  maxInFlightPerInput: 32,
  /** edgeHub's default direct-method response timeout. */
  methodResponseTimeoutMs: 30_000,
  /** How often expired messages are dropped and unacknowledged deliveries retried. */
  sweepIntervalMs: 250,
  /**
   * A module connected this long with input messages waiting and no inputs SUBSCRIBE on the connection is
   * disconnected so that its SDK reconnects and subscribes again (input-stall.ts); doubles per close.
   */
  inputStallCloseMs: 15_000,
  /** The longest such wait after repeated closes of one module. */
  inputStallMaxWaitMs: 300_000,
  /** Routed message size limit: body plus every property key and value (reference §6). */
  maxMessageBytes: 256 * 1024,
} as const;

export interface EdgeHubOptions {
  readonly workDir: string;
  /** Deployment template: `{ modulesContent: { $edgeAgent, $edgeHub, <module>: { 'properties.desired': … } } }`. */
  readonly manifest: unknown;
  /** Default: the modules in `$edgeAgent.modules`. */
  readonly moduleIds?: readonly string[];
  /** Default 'edgeml-dev'. */
  readonly deviceId?: string;
  /** Default 'edgeml-local.azure-devices.net'. */
  readonly iotHubHostName?: string;
  /** MQTT over TLS port; default 8883, 0 = ephemeral (read `port` after start()). */
  readonly port?: number;
  /** Bind address; default 127.0.0.1. */
  readonly host?: string;
  /** Prometheus `/metrics` port; 0 = ephemeral; undefined = no metrics server. */
  readonly metricsPort?: number;
  readonly logger: Logger;
  /** Default 30 000 (edgeHub's MessageAckTimeoutSecs). */
  readonly messageAckTimeoutMs?: number;
  /** Messages in flight (sent, not acknowledged) per module input, order kept; default 32, 1 = one at a time. */
  readonly maxInFlightPerInput?: number;
  /** See EDGE_HUB_DEFAULTS.inputStallCloseMs; default 15 000. */
  readonly inputStallCloseMs?: number;
  /** Clock (ms since the epoch); default Date.now. */
  readonly now?: () => number;
}

export interface EdgeHubStats {
  readonly connected: string[];
  readonly queues: Array<{ endpoint: string; priority: number; length: number; bytes: number }>;
  readonly received: number;
  readonly sent: number;
  readonly dropped: Record<string, number>;
}

export interface EdgeHub {
  /** The bound MQTT port (the configured one, or the ephemeral one after start()). */
  readonly port: number;
  /** `localhost:<port>`: the GatewayHostName modules connect to. */
  readonly gatewayHostName: string;
  /** PEM file of the development CA that signed the hub's server certificate. */
  readonly caCertificateFile: string;
  /** The bound metrics port, or undefined when no metrics server runs. */
  readonly metricsPort: number | undefined;
  readonly deviceId: string;
  readonly iotHubHostName: string;
  readonly moduleIds: readonly string[];
  readonly routes: CompiledRouteTable;
  start(): Promise<void>;
  /** Idempotent. Closes every connection at once (modules see a broker going away). */
  stop(): Promise<void>;
  /** `EdgeHubConnectionString` + `EdgeModuleCACertificateFile` for the connection-string path. @throws EdgeMLError CONFIG_INVALID for an unknown module. */
  moduleEnv(moduleId: string): Record<string, string>;
  /** base64 HMAC-SHA256 of base64-decoded `dataBase64` with the module's key (`primary`/`secondary`): the workload API's sign. */
  sign(moduleId: string, generationId: string, keyId: string, dataBase64: string): string;
  getTwin(moduleId: string): { desired: Record<string, unknown>; reported: Record<string, unknown> };
  /** Merge-patches desired (`null` deletes), increments `$version`, pushes the patch to the module. @throws EdgeMLError CONFIG_INVALID */
  patchDesired(moduleId: string, patch: Readonly<Record<string, unknown>>): Promise<number>;
  /** 404 when the module is not connected (or has no method subscription), 504 when it does not answer in time (default 30 s). */
  invokeMethod(moduleId: string, methodName: string, payload: unknown, options?: { responseTimeoutMs?: number }): Promise<{ status: number; payload: unknown }>;
  /** Queues a message for a module input through store-and-forward, as if a route had delivered it. */
  injectInput(moduleId: string, inputName: string, message: InjectedMessage): Promise<void>;
  readonly upstreamJournalFile: string;
  onUpstream(listener: (record: UpstreamRecord) => void): () => void;
  stats(): EdgeHubStats;
}
