/**
 * URLs as they may be shown (reported properties, logs, alerts): without their query string and user
 * information. A Blob SAS URL carries its signature in the query, so a model `uri` set in a twin
 * would otherwise be echoed in the module's reported `config.effective`, readable by anyone with
 * twin read rights.
 */

/** A URL anywhere in a text: a scheme, `://`, then everything up to whitespace or a quote. */
const URL_IN_TEXT = /\b[a-z][a-z0-9+.-]*:\/\/[^\s"'<>`]+/gi;

/** Marker left where a query string was, so an operator sees that there was one. */
export const QUERY_HIDDEN = '?[query hidden]';

/**
 * One URL without its query and user information (`https://a.blob.core.windows.net/m/model.onnx?[query hidden]`).
 * Text that does not parse as a URL is returned unchanged.
 */
export function redactUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    // Not parseable: keep what precedes a '?' (a query is still a query).
    const q = url.indexOf('?');
    return q < 0 ? url : `${url.slice(0, q)}${QUERY_HIDDEN}`;
  }
  if (parsed.search === '' && parsed.username === '' && parsed.password === '') return url;
  const host = parsed.host === '' ? '' : `//${parsed.host}`;
  return `${parsed.protocol}${host}${parsed.pathname}${parsed.search === '' ? '' : QUERY_HIDDEN}`;
}

/** A text with every URL in it redacted by {@link redactUrl}. */
export function redactUrlsInText(text: string): string {
  return text.replace(URL_IN_TEXT, (url) => redactUrl(url));
}

/** A deep copy of a JSON-like value with every URL inside its strings redacted (keys are kept). */
export function redactUrlsDeep<T>(value: T): T {
  if (typeof value === 'string') return redactUrlsInText(value) as T;
  if (Array.isArray(value)) return value.map((v: unknown) => redactUrlsDeep(v)) as T;
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) out[k] = redactUrlsDeep(v);
  return out as T;
}
