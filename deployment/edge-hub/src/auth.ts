/** CONNECT authentication as edgeHub does it (sas.ts holds the token rules). Pure. */
import type { IdentityFile } from './identities.js';
import { parseClientId, parseUsername, verifyModuleSasToken, type ModuleIdentity } from './sas.js';

export type ConnectVerdict = { readonly ok: true; readonly identity: ModuleIdentity } | { readonly ok: false; readonly reason: string };

export interface ConnectPolicy {
  readonly deviceId: string;
  readonly known: ReadonlySet<string>;
  readonly identities: IdentityFile;
  /** Names a token's `sr` may carry as its host: the IoT hub name, `localhost`, the bind address. */
  readonly hostNames: readonly string[];
}

/** Verifies a CONNECT's clientId, username and SAS token (password) at `nowSecs`. */
export function authenticateConnect(policy: ConnectPolicy, clientId: string, username: string | undefined, password: Buffer | undefined, nowSecs: number): ConnectVerdict {
  const identity = parseClientId(clientId);
  if (identity === undefined) return { ok: false, reason: 'clientId is not <device>/<module>' };
  if (identity.deviceId !== policy.deviceId) return { ok: false, reason: `unknown device ${identity.deviceId}` };
  const keys = policy.identities.modules[identity.moduleId];
  if (keys === undefined || !policy.known.has(identity.moduleId)) return { ok: false, reason: `unknown module ${identity.moduleId}` };
  const user = parseUsername(username ?? '');
  if ('problem' in user) return { ok: false, reason: user.problem };
  // DeviceIdentityProvider: the ClientId must equal the identity named by the username (ordinal compare).
  if (user.deviceId !== identity.deviceId || user.moduleId !== identity.moduleId) return { ok: false, reason: 'clientId does not match the username identity' };
  if (password === undefined) return { ok: false, reason: 'no password (SAS token)' };
  const verdict = verifyModuleSasToken({
    token: password.toString('utf8'),
    identity,
    hostNames: [...policy.hostNames],
    keysBase64: [keys.primaryKey, keys.secondaryKey],
    nowSecs,
  });
  return verdict.ok ? { ok: true, identity } : { ok: false, reason: verdict.reason };
}
