/**
 * How the registry's refusals become errors: every message starts with the registry's host, each
 * status maps to one code, and the registry's own `{"errors":[…]}` body is quoted (cut at 300
 * characters). 401/403 → REGISTRY_UNAUTHORIZED, 404 → REGISTRY_NOT_FOUND, 429 → REGISTRY_THROTTLED
 * and 5xx → REGISTRY_UNAVAILABLE (both retried; Retry-After read here), DIGEST_INVALID/SIZE_INVALID →
 * DIGEST_MISMATCH, NAME_INVALID/TAG_INVALID → CONFIG_INVALID, anything else → ARTIFACT_INVALID.
 */
import { EdgeMLError, type ErrorCode } from '../../errors.js';

/** Makes an error whose message names the registry. */
export type Fail = (code: ErrorCode, message: string, cause?: unknown) => EdgeMLError;

export function registryFailure(registry: string): Fail {
  return (code, message, cause) => new EdgeMLError(code, `${registry}: ${message}`, cause === undefined ? undefined : { cause });
}

/** The registry's `{"errors":[{code,message}]}` as one line (never more than 300 characters). */
export async function registryErrors(response: Response): Promise<{ codes: string[]; text: string }> {
  const body = await response.text().catch(() => '');
  try {
    const parsed = JSON.parse(body) as { errors?: { code?: string; message?: string }[] };
    const errors = Array.isArray(parsed.errors) ? parsed.errors : [];
    return { codes: errors.map((e) => String(e.code ?? '')), text: errors.map((e) => `${String(e.code ?? '')}: ${String(e.message ?? '')}`).join('; ').slice(0, 300) };
  } catch {
    return { codes: [], text: body.slice(0, 300) };
  }
}

/** The code a refused request fails with (the status, then the registry's error codes), and whether another attempt may help. */
export function refusalCode(status: number, registryCodes: readonly string[]): { code: ErrorCode; retry: boolean } {
  if (status === 401 || status === 403) return { code: 'REGISTRY_UNAUTHORIZED', retry: false };
  if (status === 404) return { code: 'REGISTRY_NOT_FOUND', retry: false };
  if (status === 429) return { code: 'REGISTRY_THROTTLED', retry: true };
  if (status >= 500) return { code: 'REGISTRY_UNAVAILABLE', retry: true };
  if (registryCodes.includes('DIGEST_INVALID') || registryCodes.includes('SIZE_INVALID')) return { code: 'DIGEST_MISMATCH', retry: false };
  if (registryCodes.some((c) => c === 'NAME_INVALID' || c === 'TAG_INVALID')) return { code: 'CONFIG_INVALID', retry: false };
  return { code: 'ARTIFACT_INVALID', retry: false };
}

/** A 429's Retry-After (seconds or an HTTP date) in milliseconds; undefined when absent or unreadable. */
export function retryAfterMs(response: Response): number | undefined {
  const value = response.headers.get('retry-after');
  if (value === null) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}
