/**
 * `npm run edge:mqtt -- …`: the operator's verbs over MQTT 5, for Kubernetes (run where the broker is
 * reachable, with the AIO_* environment of a module pod) and for a local run (`--workdir DIR` reads
 * DIR/operator.env written by start:mqtt).
 *   status MODULE                       the retained status of every replica
 *   invoke MODULE METHOD [JSON]         a method on any one replica (--instance ID: that replica)
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { parseEnv } from '@edgeml/runtime';
import { createMqtt5Connection, createMqtt5Operator, EdgeMLError, parseMqtt5Settings, type Logger } from '@edgeml/shared';
import { readFile } from 'node:fs/promises';

// Not --env-file: Node 20 takes that flag for itself even after the script name.
export const EDGE_MQTT_USAGE = `usage: npm run edge:mqtt -- [--workdir DIR | --operator-env FILE] <command>
  status MODULE                    retained status (reported properties) of every replica
  invoke MODULE METHOD [JSON]      invoke a method on one replica; --instance ID picks the replica
options: --timeout-ms N (30000)
The broker settings come from the environment (AIO_BROKER_HOSTNAME, AIO_BROKER_TCP_PORT, AIO_TLS_CA_FILE,
AIO_SAT_FILE | AIO_MQTT_USERNAME + AIO_MQTT_PASSWORD_FILE | AIO_TLS_CERT_FILE + AIO_TLS_KEY_FILE), or from
DIR/operator.env of a local run (npm run start:mqtt).`;

export interface OperatorCommand {
  readonly env: Record<string, string | undefined>;
  readonly verb: 'status' | 'invoke';
  readonly module: string;
  readonly method?: string;
  readonly payload?: unknown;
  readonly instance?: string;
  readonly timeoutMs: number;
}

/** @throws EdgeMLError CONFIG_INVALID with the usage */
export async function parseOperatorCommand(argv: readonly string[], env: Record<string, string | undefined>, cwd: string): Promise<OperatorCommand> {
  const bad = (why: string): EdgeMLError => new EdgeMLError('CONFIG_INVALID', `${why}\n${EDGE_MQTT_USAGE}`);
  let parsed: ReturnType<typeof parseArgs<{ options: { workdir: { type: 'string' }; 'operator-env': { type: 'string' }; instance: { type: 'string' }; 'timeout-ms': { type: 'string' } }; allowPositionals: true }>>;
  try {
    parsed = parseArgs({ args: [...argv], options: { workdir: { type: 'string' }, 'operator-env': { type: 'string' }, instance: { type: 'string' }, 'timeout-ms': { type: 'string' } }, allowPositionals: true });
  } catch (err: unknown) {
    throw bad((err as Error).message);
  }
  const { values, positionals } = parsed;
  const envFile = values['operator-env'] ?? (values.workdir === undefined ? undefined : path.join(values.workdir, 'operator.env'));
  const fileEnv = envFile === undefined ? {} : parseEnv(await readFile(path.resolve(cwd, envFile), 'utf8'));
  const [verb, module, method, json] = positionals;
  if (verb !== 'status' && verb !== 'invoke') throw bad(`unknown command ${verb ?? '(none)'}`);
  if (module === undefined) throw bad('MODULE is missing');
  if (verb === 'invoke' && method === undefined) throw bad('METHOD is missing');
  let payload: unknown = null;
  if (json !== undefined) {
    try {
      payload = JSON.parse(json);
    } catch {
      throw bad(`the payload is not JSON: ${json}`);
    }
  }
  const timeoutMs = Number(values['timeout-ms'] ?? 30_000);
  if (!Number.isInteger(timeoutMs) || timeoutMs < 100) throw bad('--timeout-ms must be an integer of at least 100');
  return { env: { ...env, ...fileEnv }, verb, module, ...(method === undefined ? {} : { method }), payload, ...(values.instance === undefined ? {} : { instance: values.instance }), timeoutMs };
}

/** Runs one command; returns what to print and the exit code (0 when the method answered 2xx). */
export async function runOperatorCommand(cmd: OperatorCommand, logger: Logger): Promise<{ output: unknown; exitCode: number }> {
  const settings = parseMqtt5Settings('operator', { ...cmd.env, AIO_MQTT_CLIENT_ID: `operator-${randomBytes(4).toString('hex')}`, AIO_MQTT_SESSION_EXPIRY: '0' }, { needsRoutes: false });
  const connection = createMqtt5Connection({ settings, logger, cleanStart: true });
  try {
    await connection.connect(AbortSignal.timeout(cmd.timeoutMs));
    const operator = createMqtt5Operator(connection, settings.topicPrefix);
    if (cmd.verb === 'status') return { output: await operator.readStatus(cmd.module, 1_000), exitCode: 0 };
    const answer = await operator.invoke(cmd.module, cmd.method ?? '', cmd.payload, { timeoutMs: cmd.timeoutMs, ...(cmd.instance === undefined ? {} : { instance: cmd.instance }) });
    return { output: answer, exitCode: answer.status >= 200 && answer.status < 300 ? 0 : 1 };
  } finally {
    await connection.close();
  }
}
