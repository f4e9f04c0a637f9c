/**
 * Eclipse Mosquitto (Debian package `mosquitto`) as the local MQTT 5 broker: started on loopback with
 * TLS, password authentication on one listener and X.509 client certificates on another, the way the
 * Azure IoT Operations broker is reached inside a cluster (TLS, authenticated, QoS 1, shared
 * subscriptions, persistent sessions).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { userInfo } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { execFile } from 'node:child_process';
import { EdgeMLError, errorMessage, sleep } from '@edgeml/shared';
import { freePort } from '@edgeml/runtime';
import { createLocalPki, type LocalPki } from './pki.js';

export const MOSQUITTO_BINARY = '/usr/sbin/mosquitto';

export interface MosquittoOptions {
  /** Where the configuration, PKI, password file and log go. */
  readonly dir: string;
  /** Username → password for the password listener. */
  readonly users: Readonly<Record<string, string>>;
  /** Messages a broker keeps for one offline persistent session (Mosquitto's default, 1000, is small for a backlog). */
  readonly maxQueuedMessages?: number;
  readonly binary?: string;
}

export interface MosquittoBroker {
  readonly host: string;
  /** TLS listener with username/password. */
  readonly port: number;
  /** TLS listener that requires a client certificate signed by the local CA (CN = username). */
  readonly x509Port: number;
  readonly pki: LocalPki;
  /** A file with the password of `user`, as AIO_MQTT_PASSWORD_FILE expects. */
  passwordFile(user: string): string;
  readonly logFile: string;
  stop(): Promise<void>;
}

async function waitForPort(port: number, child: ChildProcess, deadlineMs: number): Promise<void> {
  const until = Date.now() + deadlineMs;
  while (Date.now() < until) {
    if (child.exitCode !== null) throw new EdgeMLError('EDGE_CONNECT_FAILED', `mosquitto exited with code ${child.exitCode} during start`);
    const open = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (open) return;
    await sleep(50);
  }
  throw new EdgeMLError('TIMEOUT', `mosquitto did not listen on ${port} within ${deadlineMs} ms`);
}

/** Starts Mosquitto. @throws EdgeMLError EDGE_CONNECT_FAILED (it exited), TIMEOUT, INTERNAL (certificates) */
export async function startMosquitto(options: MosquittoOptions): Promise<MosquittoBroker> {
  const dir = path.resolve(options.dir);
  await mkdir(dir, { recursive: true });
  const pki = await createLocalPki(path.join(dir, 'pki'));
  const passwords = path.join(dir, 'passwords');
  await writeFile(passwords, Object.entries(options.users).map(([u, p]) => `${u}:${p}\n`).join(''), { mode: 0o600 });
  try {
    // Hashes the plain-text file in place (PBKDF2-SHA512), as the broker requires.
    await promisify(execFile)('mosquitto_passwd', ['-U', passwords]);
  } catch (err: unknown) {
    throw new EdgeMLError('INTERNAL', `mosquitto_passwd failed: ${errorMessage(err)}`, { cause: err });
  }
  for (const [u, p] of Object.entries(options.users)) await writeFile(path.join(dir, `password-${u}`), p, { mode: 0o600 });
  const port = await freePort();
  const x509Port = await freePort();
  const logFile = path.join(dir, 'mosquitto.log');
  const conf = [
    // Started as root, Mosquitto switches to the `mosquitto` user, which cannot read our private temp
    // folder: stay whoever started it (a no-op for other users).
    `user ${userInfo().username}`,
    'per_listener_settings true',
    'persistence false',
    `max_queued_messages ${options.maxQueuedMessages ?? 100_000}`,
    'max_inflight_messages 0',
    'log_dest stdout',
    'log_type error',
    'log_type warning',
    'log_type notice',
    'log_type information',
    'connection_messages true',
    `listener ${port} 127.0.0.1`,
    'protocol mqtt',
    'allow_anonymous false',
    `password_file ${passwords}`,
    `certfile ${pki.server.certFile}`,
    `keyfile ${pki.server.keyFile}`,
    `listener ${x509Port} 127.0.0.1`,
    'protocol mqtt',
    'allow_anonymous false',
    'require_certificate true',
    'use_identity_as_username true',
    `cafile ${pki.caFile}`,
    `certfile ${pki.server.certFile}`,
    `keyfile ${pki.server.keyFile}`,
    '',
  ].join('\n');
  const confFile = path.join(dir, 'mosquitto.conf');
  await writeFile(confFile, conf);
  const log = createWriteStream(logFile, { flags: 'a' });
  const child = spawn(options.binary ?? MOSQUITTO_BINARY, ['-c', confFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout?.pipe(log, { end: false });
  child.stderr?.pipe(log, { end: false });
  const spawned = new Promise<void>((resolve, reject) => {
    child.once('spawn', () => resolve());
    child.once('error', (err) => reject(new EdgeMLError('EDGE_CONNECT_FAILED', `mosquitto cannot be started (${options.binary ?? MOSQUITTO_BINARY}; Debian package mosquitto): ${err.message}`, { cause: err })));
  });
  await spawned;
  try {
    await waitForPort(port, child, 10_000);
    await waitForPort(x509Port, child, 10_000);
  } catch (err: unknown) {
    child.kill('SIGKILL');
    throw err;
  }
  let stopping: Promise<void> | undefined;
  return {
    host: 'localhost',
    port,
    x509Port,
    pki,
    passwordFile: (user) => path.join(dir, `password-${user}`),
    logFile,
    stop() {
      stopping ??= (async () => {
        if (child.exitCode === null && child.signalCode === null) {
          const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
          child.kill('SIGTERM');
          const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
          await exited;
          clearTimeout(timer);
        }
        await new Promise<void>((resolve) => log.end(() => resolve()));
      })();
      return stopping;
    },
  };
}
