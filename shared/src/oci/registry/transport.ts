/**
 * One request to the registry, as every operation sends it: the URL below `/v2/` (or an absolute
 * upload Location), the Authorization header for its scope, a deadline per attempt, redirects
 * followed, and up to `maxAttempts` attempts on 429, 5xx and no answer (exponential backoff; a 429's
 * Retry-After wins, capped). A 401 is answered once per request through auth.ts, and that round trip
 * is not counted as an attempt. Any other answer outside `okStatuses` fails with its code
 * (failures.ts). Cancelling the caller's signal fails with ABORTED.
 */
import { EdgeMLError, errorMessage } from '../../errors.js';
import { backoffDelayMs, sleep } from '../../retry.js';
import { scopeOf, type RegistryAuth } from './auth.js';
import { parseChallenge } from './challenge.js';
import { discard } from './content.js';
import { refusalCode, registryErrors, retryAfterMs, type Fail } from './failures.js';

export interface RequestSpec {
  readonly method: string;
  /** Path below the registry (`/v2/…`) or an absolute URL (an upload Location). */
  readonly url: string;
  readonly repository: string;
  readonly push?: boolean;
  readonly headers?: Record<string, string>;
  /** Built per attempt: a stream cannot be sent twice. */
  readonly body?: () => Uint8Array | Promise<Uint8Array>;
  readonly okStatuses: readonly number[];
  /** 404 is an answer, not an error (HEAD of a blob that may not be there). */
  readonly notFoundOk?: boolean;
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal | undefined;
  /** What the request is for, in messages. */
  readonly what: string;
}

/** Sends a request and returns the answer whose status it accepts; throws EdgeMLError otherwise. */
export type SendRequest = (spec: RequestSpec) => Promise<Response>;

export interface TransportDeps {
  /** `http[s]://host[:port]`. */
  readonly base: string;
  readonly fetch: typeof fetch;
  readonly requestTimeoutMs: number;
  readonly maxAttempts: number;
  readonly backoff: { readonly initialDelayMs: number; readonly maxDelayMs: number };
  readonly auth: RegistryAuth;
  readonly fail: Fail;
}

export function createTransport(deps: TransportDeps): SendRequest {
  const { fail, backoff } = deps;

  /** One attempt: builds the body and sends it; throws when no answer comes. */
  async function send(spec: RequestSpec, url: string, auth: string | undefined, signal: AbortSignal): Promise<Response> {
    const body = spec.body === undefined ? undefined : await spec.body();
    return await deps.fetch(url, {
      method: spec.method,
      headers: { ...spec.headers, ...(auth === undefined ? {} : { authorization: auth }) },
      ...(body === undefined ? {} : { body, duplex: 'half' }),
      redirect: 'follow',
      signal,
    } as RequestInit);
  }

  /** The error of an answer the request does not accept (its body read for the registry's error codes), and whether to try again. */
  async function refusal(spec: RequestSpec, response: Response): Promise<{ failure: EdgeMLError; retry: boolean }> {
    const errors = await registryErrors(response);
    const detail = `${spec.what}: HTTP ${response.status}${errors.text === '' ? '' : ` (${errors.text})`}`;
    const { code, retry } = refusalCode(response.status, errors.codes);
    const noCredentials = code === 'REGISTRY_UNAUTHORIZED' && !deps.auth.hasCredentials ? '; no credentials are configured for this registry' : '';
    return { failure: fail(code, `${detail}${noCredentials}`), retry };
  }

  return async function request(spec) {
    const scope = scopeOf(spec.repository, spec.push === true);
    const url = /^https?:\/\//.test(spec.url) ? spec.url : `${deps.base}${spec.url}`;
    const timeoutMs = spec.timeoutMs ?? deps.requestTimeoutMs;
    let authenticated = false;
    let lastFailure: EdgeMLError | undefined;
    for (let attempt = 1; attempt <= deps.maxAttempts; attempt++) {
      const auth = deps.auth.authorizationFor(scope);
      const timeout = AbortSignal.timeout(timeoutMs);
      const signal = spec.signal === undefined ? timeout : AbortSignal.any([timeout, spec.signal]);
      let response: Response;
      try {
        response = await send(spec, url, auth, signal);
      } catch (err: unknown) {
        if (spec.signal?.aborted === true) throw new EdgeMLError('ABORTED', `${spec.what}: cancelled`, { cause: err });
        lastFailure = fail('REGISTRY_UNAVAILABLE', `${spec.what}: no answer (${timeout.aborted ? `timed out after ${timeoutMs} ms` : errorMessage(err)})`, err);
        if (attempt < deps.maxAttempts) await sleep(backoffDelayMs(attempt, backoff), spec.signal);
        continue;
      }
      if (spec.okStatuses.includes(response.status) || (spec.notFoundOk === true && response.status === 404)) return response;
      if (response.status === 401 && !authenticated) {
        await discard(response);
        authenticated = true;
        deps.auth.forget(scope);
        await deps.auth.authenticate(parseChallenge(response.headers.get('www-authenticate')), scope, spec.signal);
        attempt--; // the challenge round trip is not a failed attempt
        continue;
      }
      const { failure, retry } = await refusal(spec, response);
      if (!retry) throw failure;
      lastFailure = failure;
      if (attempt < deps.maxAttempts) await sleep(Math.min(backoff.maxDelayMs, retryAfterMs(response) ?? backoffDelayMs(attempt, backoff)), spec.signal);
    }
    throw lastFailure ?? fail('REGISTRY_UNAVAILABLE', `${spec.what}: no answer`);
  };
}
