/**
 * Module identity on CONNECT, checked as edgeHub does (reference §1.2–1.3): clientId `<device>/<module>`,
 * username `<host>/<device>/<module>/?api-version=…`, SAS token audience, HMAC over the URL-encoded `sr`,
 * expiry with 5 minutes of clock skew. Pure functions; time is a parameter.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** edgeHub accepts tokens up to this long after their expiry (SharedAccessSignatureConstants.MaxClockSkew). */
export const SAS_MAX_CLOCK_SKEW_SECS = 300;

export interface ModuleIdentity {
  readonly deviceId: string;
  readonly moduleId: string;
}

/** `encodeURIComponent` plus `!'()*`, as the SDK's `encodeUriComponentStrict`. */
export function encodeUriComponentStrict(text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** base64(HMAC-SHA256(base64decode(keyBase64), data)), for the SAS signature and the workload API. */
export function hmacSha256Base64(keyBase64: string, data: string | Buffer): string {
  return createHmac('sha256', Buffer.from(keyBase64, 'base64')).update(data).digest('base64');
}

/** Builds a module SAS token exactly as the SDK does (field order sr, sig, se). */
export function createModuleSasToken(options: { hostName: string; deviceId: string; moduleId: string; keyBase64: string; expirySecs: number }): string {
  const sr = encodeUriComponentStrict(`${options.hostName}/devices/${options.deviceId}/modules/${options.moduleId}`);
  const sig = hmacSha256Base64(options.keyBase64, `${sr}\n${options.expirySecs}`);
  return `SharedAccessSignature sr=${sr}&sig=${encodeUriComponentStrict(sig)}&se=${options.expirySecs}`;
}

/** The clientId must be exactly `<deviceId>/<moduleId>`. */
export function parseClientId(clientId: string): ModuleIdentity | undefined {
  const parts = clientId.split('/');
  if (parts.length !== 2 || parts[0] === '' || parts[1] === '') return undefined;
  return { deviceId: parts[0] ?? '', moduleId: parts[1] ?? '' };
}

export interface ParsedUsername {
  readonly hostName: string;
  readonly deviceId: string;
  readonly moduleId: string | undefined;
  readonly properties: Readonly<Record<string, string>>;
}

/**
 * MqttUsernameParser: `host/device/?props`, `host/device/module/?props`, and the same without `?`. Props are
 * `&`-separated `k=v`, values URL-unescaped; `api-version` must be present (its value is not checked).
 */
export function parseUsername(username: string): ParsedUsername | { problem: string } {
  const q = username.indexOf('?');
  const path = q < 0 ? username : username.slice(0, q);
  const query = q < 0 ? '' : username.slice(q + 1);
  const segments = path.split('/');
  if (segments[segments.length - 1] === '') segments.pop();
  if (segments.length < 2 || segments.length > 3 || segments.some((s) => s === '')) return { problem: 'username is not host/device[/module]/?api-version=…' };
  const properties: Record<string, string> = {};
  for (const part of query.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const key = eq < 0 ? part : part.slice(0, eq);
    try {
      properties[key] = eq < 0 ? '' : decodeURIComponent(part.slice(eq + 1));
    } catch {
      return { problem: `username property ${key} has a malformed escape` };
    }
  }
  if (properties['api-version'] === undefined) return { problem: 'username has no api-version' };
  return { hostName: segments[0] ?? '', deviceId: segments[1] ?? '', moduleId: segments[2], properties };
}

export type SasVerdict = { readonly ok: true } | { readonly ok: false; readonly reason: string };

/**
 * Verifies a module's SAS token (DeviceScopeTokenAuthenticator + SharedAccessSignature.cs):
 * - form `SharedAccessSignature sr=…&sig=…&se=…` (an `skn` field is tolerated);
 * - `sr` URL-decoded is `<host>/devices/<d>/modules/<m>` with host one of `hostNames` (case-insensitive)
 *   and d/m equal to the identity (case-insensitive);
 * - the signature is base64(HMAC-SHA256(key, rawSr + "\n" + se)) with the primary or secondary key, where
 *   `rawSr` is `sr` exactly as it appears in the token, still URL-encoded; compared in constant time;
 * - `se` + 5 min is in the future.
 */
export function verifyModuleSasToken(options: {
  readonly token: string;
  readonly identity: ModuleIdentity;
  readonly hostNames: readonly string[];
  readonly keysBase64: readonly string[];
  readonly nowSecs: number;
}): SasVerdict {
  const prefix = 'SharedAccessSignature ';
  if (!options.token.startsWith(prefix)) return { ok: false, reason: 'password is not a SharedAccessSignature' };
  const fields: Record<string, string> = {};
  for (const part of options.token.slice(prefix.length).split('&')) {
    const eq = part.indexOf('=');
    if (eq <= 0) return { ok: false, reason: 'malformed SAS field' };
    fields[part.slice(0, eq)] = part.slice(eq + 1);
  }
  const rawSr = fields['sr'];
  const rawSig = fields['sig'];
  const rawSe = fields['se'];
  if (rawSr === undefined || rawSig === undefined || rawSe === undefined) return { ok: false, reason: 'SAS token lacks sr, sig or se' };
  let sr: string;
  let sig: string;
  try {
    sr = decodeURIComponent(rawSr);
    sig = decodeURIComponent(rawSig);
  } catch {
    return { ok: false, reason: 'SAS token has a malformed escape' };
  }
  const m = /^([^/]+)\/devices\/([^/]+)\/modules\/([^/]+)$/.exec(sr);
  if (m === null) return { ok: false, reason: 'SAS audience is not <host>/devices/<d>/modules/<m>' };
  const [, host = '', d = '', mod = ''] = m;
  if (!options.hostNames.some((h) => h.toLowerCase() === host.toLowerCase())) return { ok: false, reason: `SAS audience host ${host} is neither the IoT hub nor the gateway` };
  if (d.toLowerCase() !== options.identity.deviceId.toLowerCase() || mod.toLowerCase() !== options.identity.moduleId.toLowerCase()) {
    return { ok: false, reason: 'SAS audience names another identity' };
  }
  if (!/^[0-9]+$/.test(rawSe)) return { ok: false, reason: 'SAS expiry is not a number' };
  const se = Number(rawSe);
  if (se + SAS_MAX_CLOCK_SKEW_SECS <= options.nowSecs) return { ok: false, reason: 'SAS token expired' };
  const given = Buffer.from(sig, 'base64');
  for (const key of options.keysBase64) {
    const expected = Buffer.from(hmacSha256Base64(key, `${rawSr}\n${rawSe}`), 'base64');
    if (expected.length === given.length && timingSafeEqual(expected, given)) return { ok: true };
  }
  return { ok: false, reason: 'SAS signature does not match' };
}
