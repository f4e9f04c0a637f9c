/** The `WWW-Authenticate` header of a 401: which scheme the registry wants, and its parameters. */

export interface Challenge {
  /** Lower-cased: `basic` or `bearer`. */
  readonly scheme: string;
  /** Names lower-cased (`realm`, `service`, `scope`), values unquoted. */
  readonly params: Readonly<Record<string, string>>;
}

/** Parses `Bearer realm="…",service="…"` / `Basic realm="…"`. */
export function parseChallenge(header: string | null): Challenge | undefined {
  if (header === null) return undefined;
  const m = /^\s*(\w+)\s*(.*)$/s.exec(header);
  if (m === null) return undefined;
  const params: Record<string, string> = {};
  for (const p of m[2]!.matchAll(/(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))/g)) params[p[1]!.toLowerCase()] = (p[2] ?? p[3] ?? '').replace(/\\(.)/g, '$1');
  return { scheme: m[1]!.toLowerCase(), params };
}
