/** Twin patches from the command line: `a.b.c=value` assignments into a desired-properties merge patch. */

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
