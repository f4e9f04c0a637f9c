/**
 * The Authorization header for each request, and how it is obtained when the registry answers 401:
 * Basic (the configured user name and password, for every request once asked), or the Bearer token
 * challenge (`realm`, `service`, `scope`: a token per scope `repository:<name>:pull[,push]`, renewed
 * shortly before it expires) — including Azure Container Registry's token exchange (an Entra ID access
 * token → refresh token → access token; or the null-GUID user with an ACR refresh token, as
 * `az acr login --expose-token` gives). Credentials are sent only to the registry's token service and
 * never appear in a message.
 */
import { errorMessage, type EdgeMLError } from '../../errors.js';
import type { Challenge } from './challenge.js';
import type { Fail } from './failures.js';
import type { RegistryCredentials } from './types.js';

const ACR_NULL_USER = '00000000-0000-0000-0000-000000000000';

export interface RegistryAuthDeps {
  /** `host[:port]`: the token service's `service` when the challenge names none. */
  readonly registry: string;
  readonly credentials: RegistryCredentials;
  readonly fetch: typeof fetch;
  /** Deadline of each token request. */
  readonly requestTimeoutMs: number;
  readonly fail: Fail;
}

export interface RegistryAuth {
  /** Whether any credentials are configured (for messages: "none configured"). */
  readonly hasCredentials: boolean;
  /** The header for a request of this scope, when one is known and not expired. */
  authorizationFor(scope: string): string | undefined;
  /** Drops the token of this scope (the registry refused it). */
  forget(scope: string): void;
  /** Answers a 401 challenge: remembers how to authorize requests of this scope. */
  authenticate(challenge: Challenge | undefined, scope: string, signal: AbortSignal | undefined): Promise<void>;
}

/** The token scope of a request: `repository:<name>:pull` or `…:pull,push`. */
export const scopeOf = (repository: string, push: boolean): string => `repository:${repository}:${push ? 'pull,push' : 'pull'}`;

export function createRegistryAuth(deps: RegistryAuthDeps): RegistryAuth {
  const { credentials: creds, fail } = deps;
  /** Authorization per scope, with its expiry. */
  const tokens = new Map<string, { header: string; expiresAt: number }>();
  /** Set once the registry asked for Basic: every request then carries it. */
  let basicOnly = false;
  const hasBasic = creds.username !== undefined && creds.password !== undefined;
  const basicHeader = hasBasic ? `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}` : undefined;
  const hasCredentials = hasBasic || creds.aadAccessToken !== undefined;
  const isAcrExchange = creds.aadAccessToken !== undefined || (creds.username === ACR_NULL_USER && creds.password !== undefined);

  /** ACR: an Entra ID access token → refresh token (POST /oauth2/exchange); else the configured ACR refresh token. */
  async function acrRefreshToken(realm: string, service: string, signal: AbortSignal): Promise<string> {
    if (creds.aadAccessToken === undefined) return creds.password!;
    const form = new URLSearchParams({ grant_type: 'access_token', service, access_token: creds.aadAccessToken, ...(creds.tenant === undefined ? {} : { tenant: creds.tenant }) });
    const exchanged = await deps.fetch(new URL('/oauth2/exchange', realm), { method: 'POST', body: form, signal });
    if (!exchanged.ok) throw fail('REGISTRY_UNAUTHORIZED', `the token exchange (/oauth2/exchange) answered ${exchanged.status}`);
    const refreshToken = ((await exchanged.json()) as { refresh_token?: string }).refresh_token;
    if (refreshToken === undefined) throw fail('REGISTRY_UNAUTHORIZED', 'the token exchange returned no refresh_token');
    return refreshToken;
  }

  /** Asks the token service of a Bearer challenge for the scopes wanted: ACR's refresh-token grant, or a GET (with Basic when configured). */
  async function askTokenService(realm: string, service: string, wanted: readonly string[], signal: AbortSignal): Promise<Response> {
    if (isAcrExchange) {
      // ACR: refresh token → access token.
      const refreshToken = await acrRefreshToken(realm, service, signal);
      const form = new URLSearchParams({ grant_type: 'refresh_token', service, scope: wanted.join(' '), refresh_token: refreshToken });
      return await deps.fetch(realm, { method: 'POST', body: form, signal });
    }
    const url = new URL(realm);
    url.searchParams.set('service', service);
    for (const w of wanted) url.searchParams.append('scope', w);
    return await deps.fetch(url, { headers: basicHeader === undefined ? {} : { authorization: basicHeader }, signal });
  }

  /** Gets a Bearer token for `scope` from the challenge's `realm` and remembers it until shortly before it expires. */
  async function bearerToken(challenge: Challenge, realm: string, scope: string, signal: AbortSignal | undefined): Promise<void> {
    const service = challenge.params['service'] ?? deps.registry;
    const wanted = [scope, ...(challenge.params['scope'] === undefined || challenge.params['scope'] === scope ? [] : [challenge.params['scope']])];
    const timeout = AbortSignal.timeout(deps.requestTimeoutMs);
    const s = signal === undefined ? timeout : AbortSignal.any([timeout, signal]);
    let answer: Response;
    try {
      answer = await askTokenService(realm, service, wanted, s);
    } catch (err: unknown) {
      if ((err as EdgeMLError).code === 'REGISTRY_UNAUTHORIZED') throw err;
      throw fail('REGISTRY_UNAVAILABLE', `the token service did not answer: ${errorMessage(err)}`, err);
    }
    if (answer.status === 401 || answer.status === 403) throw fail('REGISTRY_UNAUTHORIZED', `the token service refused the credentials (${answer.status}${hasCredentials ? '' : ', none configured'})`);
    if (!answer.ok) throw fail('REGISTRY_UNAVAILABLE', `the token service answered ${answer.status}`);
    const body = (await answer.json()) as { token?: string; access_token?: string; expires_in?: number };
    const token = body.access_token ?? body.token;
    if (token === undefined) throw fail('REGISTRY_UNAUTHORIZED', 'the token service returned no token');
    // Renewed a little before it expires; 60 s is the spec's default lifetime.
    tokens.set(scope, { header: `Bearer ${token}`, expiresAt: Date.now() + Math.max(10, (body.expires_in ?? 60) - 10) * 1000 });
  }

  return {
    hasCredentials,
    authorizationFor(scope) {
      if (basicOnly) return basicHeader;
      const t = tokens.get(scope);
      return t !== undefined && t.expiresAt > Date.now() ? t.header : undefined;
    },
    forget(scope) {
      tokens.delete(scope);
    },
    async authenticate(challenge, scope, signal) {
      if (challenge?.scheme === 'basic') {
        if (basicHeader === undefined) throw fail('REGISTRY_UNAUTHORIZED', 'the registry asks for a user name and password and none are configured');
        basicOnly = true;
        return;
      }
      const realm = challenge?.params['realm'];
      if (challenge?.scheme !== 'bearer' || realm === undefined) throw fail('REGISTRY_UNAUTHORIZED', 'the registry refused the request without an authentication challenge this client can answer');
      await bearerToken(challenge, realm, scope, signal);
    },
  };
}
