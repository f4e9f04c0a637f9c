import { readFile } from 'node:fs/promises';
import { EdgeMLError } from '@edgeml/shared';

/** Variables available to a template: name → value. */
export type Variables = Readonly<Record<string, string | undefined>>;

/**
 * `$NAME` or `${NAME}`, as Python's `os.path.expandvars` (what iotedgedev runs over the template) reads
 * them: `$` then word characters, or `${` up to the next `}`.
 */
const VARIABLE_REFERENCE = /\$(\w+|\{[^}]*\})/g;

/** `${MODULES.<folder>}` / `${MODULES.<folder>.<platform>}`: module images, resolved from module.json. */
export const MODULE_IMAGE_REFERENCE = /\$\{MODULES\.([^.}]+)(?:\.([^}]+))?\}/g;

/**
 * Reads a `.env` file (dotenv syntax: `KEY=value`, `#` comments, quoted values).
 * A missing file is an empty set; any other read failure throws EdgeMLError FILE_UNREADABLE.
 */
export async function readDotEnv(file: string): Promise<Record<string, string>> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err: unknown) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new EdgeMLError('FILE_UNREADABLE', `cannot read ${file}: ${(err as Error).message}`, { cause: err });
  }
  return parseDotEnv(text);
}

const DOUBLE_QUOTED_ESCAPES: Readonly<Record<string, string>> = { n: '\n', r: '\r', t: '\t', '"': '"', '\\': '\\' };

/**
 * Parses `.env` text with python-dotenv's rules (what iotedgedev reads it with), not `util.parseEnv`'s:
 * an unquoted value ends at whitespace + `#` only, so a password like `pa#ss` survives; `'…'` is literal;
 * `"…"` understands `\"`, `\\`, `\n`. `export KEY=…` is accepted. Lines without `=` are ignored.
 */
export function parseDotEnv(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const rawLine of text.split(/\r?\n/)) {
    const line = rawLine.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*=\s*(.*)$/.exec(line);
    if (m === null) continue;
    const key = m[1] ?? '';
    const rest = m[2] ?? '';
    if (rest.startsWith("'")) {
      const end = rest.indexOf("'", 1);
      out[key] = end < 0 ? rest.slice(1) : rest.slice(1, end);
    } else if (rest.startsWith('"')) {
      let value = '';
      let i = 1;
      for (; i < rest.length && rest[i] !== '"'; i++) {
        const c = rest[i] ?? '';
        if (c === '\\' && i + 1 < rest.length) {
          const next = rest[i + 1] ?? '';
          value += DOUBLE_QUOTED_ESCAPES[next] ?? `\\${next}`;
          i++;
        } else value += c;
      }
      out[key] = value;
    } else {
      out[key] = rest.replace(/\s+#.*$/, '').trim();
    }
  }
  return out;
}

/**
 * The environment wins over `.env`, as iotedgedev loads `.env` without overriding variables already set
 * (so CI can inject secrets without writing them to a file).
 */
export function combineVariables(environment: Variables, dotEnv: Variables): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(dotEnv)) if (value !== undefined) out[key] = value;
  for (const [key, value] of Object.entries(environment)) if (value !== undefined) out[key] = value;
  return out;
}

function referenceName(token: string): string {
  return token.startsWith('{') ? token.slice(1, -1) : token;
}

/**
 * Replaces every `$NAME` / `${NAME}` whose NAME is set (an empty value counts as set) and leaves the others
 * as written, like `os.path.expandvars`. Returns the names that stayed unresolved.
 */
export function expandVariables(text: string, variables: Variables): { value: string; unresolved: string[] } {
  const unresolved: string[] = [];
  const value = text.replace(VARIABLE_REFERENCE, (whole, token: string) => {
    const name = referenceName(token);
    const replacement = Object.hasOwn(variables, name) ? variables[name] : undefined;
    if (replacement === undefined) {
      unresolved.push(name);
      return whole;
    }
    return replacement;
  });
  return { value, unresolved };
}

/** Names of the variables a text references (`${MODULES.…}` image references excluded). */
export function variableReferences(text: string): string[] {
  const names: string[] = [];
  for (const match of text.matchAll(VARIABLE_REFERENCE)) {
    const name = referenceName(match[1] ?? '');
    if (!name.startsWith('MODULES.')) names.push(name);
  }
  return names;
}
