/**
 * Per-message evaluation context: case-insensitive property lookup (edgeHub builds its property dictionaries
 * with `OrdinalIgnoreCase`) and a body parsed at most once per message, shared by every route.
 */

import { parseBody } from './body.js';
import type { RouteMessage } from './types.js';

export interface EvalContext {
  /** Application property by lower-cased name. */
  appProperty(lowerName: string): string | undefined;
  /** System property by lower-cased name. */
  systemProperty(lowerName: string): string | undefined;
  /** The body as a JSON object, or undefined when `$body` queries cannot see it. Parsed once, lazily. */
  body(): Record<string, unknown> | undefined;
}

function lowerCaseMap(record: Readonly<Record<string, string>>): Map<string, string> {
  const map = new Map<string, string>();
  for (const [key, value] of Object.entries(record)) {
    const lower = key.toLowerCase();
    // edgeHub cannot even hold two keys differing only in case; keep the first.
    if (!map.has(lower)) map.set(lower, value);
  }
  return map;
}

/** Builds the context for one message. Nothing is computed until a condition asks for it. */
export function createEvalContext(message: RouteMessage): EvalContext {
  let app: Map<string, string> | undefined;
  let sys: Map<string, string> | undefined;
  let bodyParsed = false;
  let bodyValue: Record<string, unknown> | undefined;
  const systemProperty = (lowerName: string): string | undefined => {
    sys ??= lowerCaseMap(message.systemProperties);
    return sys.get(lowerName);
  };
  return {
    appProperty(lowerName) {
      app ??= lowerCaseMap(message.properties);
      return app.get(lowerName);
    },
    systemProperty,
    body() {
      if (!bodyParsed) {
        bodyParsed = true;
        bodyValue = parseBody(systemProperty('contenttype'), systemProperty('contentencoding'), message.body);
      }
      return bodyValue;
    },
  };
}
