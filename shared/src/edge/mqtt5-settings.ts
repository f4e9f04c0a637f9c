/**
 * Settings of the MQTT 5 transport, from the environment. The broker variables are the Azure IoT
 * Operations SDKs' own names (`AIO_*`), so a pod spec written for their samples works unchanged; the
 * `EDGEML_*` ones are this suite's. Every problem is listed at once (CONFIG_INVALID).
 */
import { hostname } from 'node:os';
import { EdgeMLError } from '../errors.js';
import { DEFAULT_TOPIC_PREFIX } from './topics.js';

export type Mqtt5Auth =
  | { readonly kind: 'none' }
  /** `K8S-SAT` enhanced authentication: the token file is re-read on every connect and when it changes. */
  | { readonly kind: 'sat'; readonly tokenFile: string }
  | { readonly kind: 'x509'; readonly certFile: string; readonly keyFile: string; readonly keyPasswordFile: string | undefined }
  | { readonly kind: 'password'; readonly username: string; readonly passwordFile: string | undefined };

export interface Mqtt5Settings {
  readonly host: string;
  readonly port: number;
  readonly useTls: boolean;
  readonly caFile: string | undefined;
  readonly auth: Mqtt5Auth;
  /** MQTT client id; stable per replica (a StatefulSet pod name) so a restarted replica resumes its session. */
  readonly clientId: string;
  readonly sessionExpirySeconds: number;
  readonly keepAliveSeconds: number;
  /** QoS 1 messages the broker may have in flight to us unacknowledged; bounds concurrent input handlers. */
  readonly receiveMaximum: number;
  readonly topicPrefix: string;
  /** A deployment manifest (or a bare routes object) whose routes give the topic plan. */
  readonly routesFile: string;
  /** The mounted configuration file standing in for the module twin's desired properties. */
  readonly configFile: string | undefined;
  readonly configPollMs: number;
  readonly deviceId: string;
}

export type Env = Readonly<Record<string, string | undefined>>;

/** Defaults, after the Azure IoT Operations SDK connection settings where they name one. */
export const MQTT5_DEFAULTS = {
  port: 8883,
  sessionExpirySeconds: 3600,
  keepAliveSeconds: 60,
  receiveMaximum: 64,
  configPollMs: 2_000,
  deviceId: 'kubernetes',
} as const;

function nonEmpty(v: string | undefined): string | undefined {
  return v === undefined || v.trim() === '' ? undefined : v.trim();
}

function integer(env: Env, name: string, fallback: number, min: number, max: number, problems: string[]): number {
  const raw = nonEmpty(env[name]);
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    problems.push(`${name} must be an integer from ${min} to ${max} (got "${raw}")`);
    return fallback;
  }
  return n;
}

function bool(env: Env, name: string, fallback: boolean, problems: string[]): boolean {
  const raw = nonEmpty(env[name])?.toLowerCase();
  if (raw === undefined) return fallback;
  if (raw === 'true' || raw === '1' || raw === 'yes') return true;
  if (raw === 'false' || raw === '0' || raw === 'no') return false;
  problems.push(`${name} must be true or false (got "${raw}")`);
  return fallback;
}

/**
 * Reads the MQTT 5 settings of module `moduleName` from `env`.
 *
 * Broker: `AIO_BROKER_HOSTNAME` (required), `AIO_BROKER_TCP_PORT` (8883; Azure IoT Operations listens
 * on 18883), `AIO_MQTT_USE_TLS` (true), `AIO_TLS_CA_FILE`, `AIO_MQTT_CLIENT_ID` (default
 * `<module>-<hostname>`), `AIO_MQTT_SESSION_EXPIRY` (3600 s), `AIO_MQTT_KEEP_ALIVE` (60 s).
 * Authentication, exactly one of: `AIO_SAT_FILE` (K8S-SAT), `AIO_TLS_CERT_FILE` + `AIO_TLS_KEY_FILE`
 * [+ `AIO_TLS_KEY_PASSWORD_FILE`] (X.509), `AIO_MQTT_USERNAME` [+ `AIO_MQTT_PASSWORD_FILE`].
 * Suite: `EDGEML_MQTT_ROUTES_FILE` (required), `EDGEML_MQTT_TOPIC_PREFIX` (edgeml),
 * `EDGEML_MQTT_RECEIVE_MAXIMUM` (64), `EDGEML_CONFIG_FILE`, `EDGEML_CONFIG_POLL_MS` (2000),
 * `EDGEML_DEVICE_ID` (kubernetes).
 *
 * `needsRoutes: false` for clients that only invoke methods or read status (the operator).
 *
 * @throws EdgeMLError CONFIG_INVALID with every problem.
 */
export function parseMqtt5Settings(moduleName: string, env: Env, options: { needsRoutes?: boolean } = {}): Mqtt5Settings {
  const problems: string[] = [];
  const host = nonEmpty(env['AIO_BROKER_HOSTNAME']);
  if (host === undefined) problems.push('AIO_BROKER_HOSTNAME is not set');
  const routesFile = nonEmpty(env['EDGEML_MQTT_ROUTES_FILE']);
  if (routesFile === undefined && options.needsRoutes !== false) problems.push('EDGEML_MQTT_ROUTES_FILE is not set (a deployment manifest or routes JSON that gives the topic plan)');
  const sat = nonEmpty(env['AIO_SAT_FILE']);
  const cert = nonEmpty(env['AIO_TLS_CERT_FILE']);
  const key = nonEmpty(env['AIO_TLS_KEY_FILE']);
  const username = nonEmpty(env['AIO_MQTT_USERNAME']);
  const useTls = bool(env, 'AIO_MQTT_USE_TLS', true, problems);
  const chosen = [sat && 'AIO_SAT_FILE', (cert ?? key) && 'AIO_TLS_CERT_FILE/AIO_TLS_KEY_FILE', username && 'AIO_MQTT_USERNAME'].filter((x): x is string => typeof x === 'string');
  if (chosen.length > 1) problems.push(`choose one authentication: ${chosen.join(', ')} are all set`);
  let auth: Mqtt5Auth = { kind: 'none' };
  if (sat !== undefined) auth = { kind: 'sat', tokenFile: sat };
  else if (cert !== undefined || key !== undefined) {
    if (cert === undefined || key === undefined) problems.push('X.509 authentication needs both AIO_TLS_CERT_FILE and AIO_TLS_KEY_FILE');
    if (!useTls) problems.push('X.509 authentication needs TLS (AIO_MQTT_USE_TLS=true)');
    auth = { kind: 'x509', certFile: cert ?? '', keyFile: key ?? '', keyPasswordFile: nonEmpty(env['AIO_TLS_KEY_PASSWORD_FILE']) };
  } else if (username !== undefined) auth = { kind: 'password', username, passwordFile: nonEmpty(env['AIO_MQTT_PASSWORD_FILE']) };
  const clientId = nonEmpty(env['AIO_MQTT_CLIENT_ID']) ?? `${moduleName}-${hostname()}`;
  if (/[/+#\s]/.test(clientId) || Buffer.byteLength(clientId) > 128) problems.push(`AIO_MQTT_CLIENT_ID "${clientId}" must be at most 128 bytes without '/', '+', '#' or spaces`);
  const settings: Mqtt5Settings = {
    host: host ?? '',
    port: integer(env, 'AIO_BROKER_TCP_PORT', MQTT5_DEFAULTS.port, 1, 65_535, problems),
    useTls,
    caFile: nonEmpty(env['AIO_TLS_CA_FILE']),
    auth,
    clientId,
    sessionExpirySeconds: integer(env, 'AIO_MQTT_SESSION_EXPIRY', MQTT5_DEFAULTS.sessionExpirySeconds, 0, 4_294_967_295, problems),
    keepAliveSeconds: integer(env, 'AIO_MQTT_KEEP_ALIVE', MQTT5_DEFAULTS.keepAliveSeconds, 0, 65_535, problems),
    receiveMaximum: integer(env, 'EDGEML_MQTT_RECEIVE_MAXIMUM', MQTT5_DEFAULTS.receiveMaximum, 1, 65_535, problems),
    topicPrefix: nonEmpty(env['EDGEML_MQTT_TOPIC_PREFIX']) ?? DEFAULT_TOPIC_PREFIX,
    routesFile: routesFile ?? '',
    configFile: nonEmpty(env['EDGEML_CONFIG_FILE']),
    configPollMs: integer(env, 'EDGEML_CONFIG_POLL_MS', MQTT5_DEFAULTS.configPollMs, 50, 3_600_000, problems),
    deviceId: nonEmpty(env['EDGEML_DEVICE_ID']) ?? MQTT5_DEFAULTS.deviceId,
  };
  if (problems.length > 0) throw new EdgeMLError('CONFIG_INVALID', `MQTT 5 transport settings: ${problems.join('; ')}`, { details: { problems } });
  return Object.freeze(settings);
}
