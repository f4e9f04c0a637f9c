import { readFile } from 'node:fs/promises';
import { EdgeMLError } from '@edgeml/shared';

export type JsonPrimitive = string | number | boolean | null;
export type JsonValue = JsonPrimitive | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Reads and parses a JSON file.
 * @throws EdgeMLError FILE_NOT_FOUND when it does not exist, FILE_UNREADABLE when it cannot be read,
 *   CONFIG_INVALID when it is not JSON (the message names the file).
 */
export async function readJsonFile(file: string): Promise<JsonValue> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err: unknown) {
    const code = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'FILE_NOT_FOUND' : 'FILE_UNREADABLE';
    throw new EdgeMLError(code, `cannot read ${file}: ${(err as Error).message}`, { cause: err });
  }
  try {
    return JSON.parse(text) as JsonValue;
  } catch (err: unknown) {
    throw new EdgeMLError('CONFIG_INVALID', `${file} is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
}

/** Reads a JSON file that must hold an object. Same errors as {@link readJsonFile}. */
export async function readJsonObject(file: string): Promise<JsonObject> {
  const value = await readJsonFile(file);
  if (!isJsonObject(value)) throw new EdgeMLError('CONFIG_INVALID', `${file} must hold a JSON object`);
  return value;
}

/** Child of an object by key, when it is an object itself. */
export function childObject(parent: JsonValue | undefined, key: string): JsonObject | undefined {
  if (!isJsonObject(parent)) return undefined;
  const child = parent[key];
  return isJsonObject(child) ? child : undefined;
}

/** JSON pointer (RFC 6901) of a path of keys, as the schema validator reports them. */
export function pointer(keys: readonly (string | number)[]): string {
  return keys.length === 0 ? '/' : keys.map((k) => '/' + String(k).replaceAll('~', '~0').replaceAll('/', '~1')).join('');
}
