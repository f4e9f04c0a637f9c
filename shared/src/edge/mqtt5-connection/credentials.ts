/**
 * The credentials of one connection. The TLS files, the password file and the K8S-SAT token are read
 * again before every reconnect, so a rotated file is used without a restart; a rotated SAT is also
 * sent on the live connection (AUTH, reason 0x19 re-authenticate), because the Azure IoT Operations
 * broker closes the connection when the token it accepted expires.
 */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { IClientOptions, MqttClient, Packet } from 'mqtt';
import { errorMessage } from '../../errors.js';
import type { createRepeatLimiter, Logger } from '../../logging.js';
import type { Mqtt5Settings } from '../mqtt5-settings.js';
import { internals, type ClientInternals } from './internals.js';

/** K8S-SAT: the Azure IoT Operations broker's enhanced-authentication method name. */
export const SAT_AUTH_METHOD = 'K8S-SAT';
const REASON_REAUTHENTICATE = 0x19;
const REASON_CONTINUE = 0x18;

/** Reads the files the settings name, synchronously: mqtt.js builds CONNECT right after its `reconnect` event. */
export function credentialOptions(settings: Mqtt5Settings): Partial<IClientOptions> {
  const out: Partial<IClientOptions> = {};
  if (settings.caFile !== undefined) out.ca = readFileSync(settings.caFile);
  const auth = settings.auth;
  if (auth.kind === 'password') {
    out.username = auth.username;
    if (auth.passwordFile !== undefined) out.password = readFileSync(auth.passwordFile);
  } else if (auth.kind === 'x509') {
    out.cert = readFileSync(auth.certFile);
    out.key = readFileSync(auth.keyFile);
    // Passed through to tls.connect by mqtt.js, which does not declare it.
    if (auth.keyPasswordFile !== undefined) Object.assign(out, { passphrase: readFileSync(auth.keyPasswordFile, 'utf8').trim() });
  }
  return out;
}

export interface Mqtt5CredentialsOptions {
  readonly settings: Mqtt5Settings;
  readonly logger: Logger;
  /** The connection's repeat limiter (one for all its warnings). */
  readonly shouldLog: ReturnType<typeof createRepeatLimiter>;
}

export class Mqtt5Credentials {
  readonly #o: Mqtt5CredentialsOptions;
  /** The SAT last read, to tell a rotation from the same token read again. */
  #lastToken: Buffer | undefined;
  #tokenTimer: NodeJS.Timeout | undefined;

  constructor(options: Mqtt5CredentialsOptions) {
    this.#o = options;
  }

  /** The CONNECT properties of the authentication method (none unless SAT); reads the token file. */
  connectProperties(): { authenticationMethod?: string; authenticationData?: Buffer } {
    return this.#o.settings.auth.kind === 'sat' ? { authenticationMethod: SAT_AUTH_METHOD, authenticationData: this.#readToken() } : {};
  }

  /** Before a reconnect: the files read again; on failure the previous ones are kept (logged once per repeat). */
  refresh(c: MqttClient): void {
    try {
      Object.assign(c.options, credentialOptions(this.#o.settings));
      if (this.#o.settings.auth.kind === 'sat') c.options.properties = { ...c.options.properties, authenticationMethod: SAT_AUTH_METHOD, authenticationData: this.#readToken() };
    } catch (err: unknown) {
      const r = this.#o.shouldLog('credentials');
      if (r.log) this.#o.logger.warn({ err, suppressed: r.suppressed }, `credential files cannot be read; reconnecting with the previous ones: ${errorMessage(err)}`);
    }
  }

  /** mqtt.js's handleAuth: the broker asking again (AUTH 0x18) is answered with a fresh read of the token. */
  readonly answerAuth: ClientInternals['handleAuth'] = (packet, callback) => {
    if (packet.cmd === 'auth' && packet.reasonCode === REASON_CONTINUE && this.#o.settings.auth.kind === 'sat') {
      return callback(null, { cmd: 'auth', reasonCode: REASON_CONTINUE, properties: { authenticationMethod: SAT_AUTH_METHOD, authenticationData: this.#readToken() } } as Packet);
    }
    callback(null);
  };

  /** With SAT: checks the token file every `everyMs` and re-authenticates `c` when it has rotated. */
  watchRotation(c: MqttClient, everyMs: number): void {
    if (this.#o.settings.auth.kind !== 'sat') return;
    this.#tokenTimer = setInterval(() => void this.#checkRotation(c), everyMs);
    this.#tokenTimer.unref();
  }

  stop(): void {
    if (this.#tokenTimer !== undefined) clearInterval(this.#tokenTimer);
  }

  #readToken(): Buffer {
    if (this.#o.settings.auth.kind !== 'sat') return Buffer.alloc(0);
    const token = readFileSync(this.#o.settings.auth.tokenFile);
    this.#lastToken = token;
    return token;
  }

  async #checkRotation(c: MqttClient): Promise<void> {
    if (this.#o.settings.auth.kind !== 'sat') return;
    let token: Buffer;
    try {
      token = await readFile(this.#o.settings.auth.tokenFile);
    } catch (err: unknown) {
      this.#o.logger.warn({ err, file: this.#o.settings.auth.tokenFile }, 'SAT file cannot be read');
      return;
    }
    // An empty read is a file being rewritten in place (truncated, not yet written): the next check sees the token.
    if (token.length === 0 || (this.#lastToken !== undefined && token.equals(this.#lastToken))) return;
    this.#lastToken = token;
    c.options.properties = { ...c.options.properties, authenticationData: token };
    if (!c.connected) return;
    this.#o.logger.info('SAT rotated; re-authenticating on the live connection');
    internals(c)._sendPacket({ cmd: 'auth', reasonCode: REASON_REAUTHENTICATE, properties: { authenticationMethod: SAT_AUTH_METHOD, authenticationData: token } } as Packet);
  }
}
