/** Pure parts of the `edgeml` CLI: argument parsing and twin patch building. */

export const CLI_USAGE = `Usage: npm run edge -- [--workdir DIR] <command>
  status                               per-module process state and getStatus counts
  upstream [--follow]                  the $upstream journal (one JSON object per line)
  twin get <module>                    desired and reported properties
  twin set <module> <path>=<value>…    patch desired properties (value parsed as JSON, else a string; null deletes)
  invoke <module> <method> [json]      call a direct method
  logs <module> [--follow]             the module's log (pino JSON lines)
  summary                              the same summary --until-idle prints`;

/** Parses a value as JSON when it is JSON (numbers, booleans, null, objects), else keeps the string. */
export function parseValue(raw: string): unknown {
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    return raw;
  }
}

/**
 * Builds a desired-properties patch from `a.b.c=value` assignments.
 * @throws Error on a malformed assignment or an empty path segment
 */
export function buildPatch(assignments: readonly string[]): Record<string, unknown> {
  const patch: Record<string, unknown> = {};
  for (const a of assignments) {
    const eq = a.indexOf('=');
    if (eq <= 0) throw new Error(`expected <path>=<value>, got ${JSON.stringify(a)}`);
    const keys = a.slice(0, eq).split('.');
    if (keys.some((k) => k.length === 0)) throw new Error(`empty path segment in ${JSON.stringify(a)}`);
    let node = patch;
    for (const key of keys.slice(0, -1)) {
      const next = node[key];
      if (next === undefined || next === null || typeof next !== 'object' || Array.isArray(next)) node[key] = {};
      node = node[key] as Record<string, unknown>;
    }
    node[keys[keys.length - 1]!] = parseValue(a.slice(eq + 1));
  }
  return patch;
}
