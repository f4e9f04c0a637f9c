import { isJsonObject, type JsonObject, type JsonValue } from './json.js';

/** Limits of twin-borne createOptions, in one place. */
export const CREATE_OPTIONS_LIMITS = {
  /** Characters per chunk: edgeAgent's `TwinValueMaxSize` and the tooling's (iotedgedev, VS Code). */
  chunkChars: 512,
  /**
   * Chunks the tooling writes at most (4 KiB of options); more is an error there, so here too. edgeAgent itself
   * would read up to 100 (`TwinValueMaxChunks`).
   */
  maxChunks: 8,
  /** What edgeAgent reads at most. */
  agentMaxChunks: 100,
} as const;

/** `createOptions`, `createOptions01`, `createOptions02`, …: the key of chunk `index` (0-based). */
export function createOptionsKey(index: number): string {
  return index === 0 ? 'createOptions' : `createOptions${String(index).padStart(2, '0')}`;
}

/** Keys the schemas accept for createOptions chunks (`^(createoptions|createOptions)[0-9]*$`). */
export const CREATE_OPTIONS_KEY = /^(createoptions|createOptions)([0-9]*)$/;

/**
 * Serialises Docker create options the way the tooling does (compact JSON) and cuts the text into chunks of
 * {@link CREATE_OPTIONS_LIMITS.chunkChars} characters under `createOptions`, `createOptions01`, ….
 * Cuts fall between code points, so a chunk never ends inside a surrogate pair.
 */
export function chunkCreateOptions(options: JsonObject | string, chunkChars: number = CREATE_OPTIONS_LIMITS.chunkChars): Record<string, string> {
  const text = typeof options === 'string' ? options : JSON.stringify(options);
  const codePoints = Array.from(text);
  const out: Record<string, string> = {};
  if (codePoints.length === 0) return { createOptions: '' };
  for (let i = 0, index = 0; i < codePoints.length; i += chunkChars, index++) {
    out[createOptionsKey(index)] = codePoints.slice(i, i + chunkChars).join('');
  }
  return out;
}

/**
 * Reassembles createOptions from a module's `settings` as edgeAgent does: chunk keys sorted, consecutive
 * (`createOptions`, then `01`, `02`, …), concatenated, parsed as a JSON object. Every problem is listed:
 * gaps, non-string chunks (in a manifest), chunks over the size limit, too many chunks, text that is not a
 * JSON object. With `allowObject` (a template) the first key may hold an object instead.
 */
export function joinCreateOptions(
  settings: JsonObject,
  options: { allowObject?: boolean } = {},
): { options: JsonObject | undefined; chunkCount: number; problems: string[] } {
  const problems: string[] = [];
  const chunks: { key: string; index: number; value: JsonValue }[] = [];
  for (const [key, value] of Object.entries(settings)) {
    const m = CREATE_OPTIONS_KEY.exec(key);
    if (m === null) continue;
    const digits = m[2] ?? '';
    chunks.push({ key, index: digits === '' ? 0 : Number(digits), value });
  }
  if (chunks.length === 0) return { options: undefined, chunkCount: 0, problems };
  chunks.sort((a, b) => a.index - b.index);
  chunks.forEach((chunk, i) => {
    if (chunk.index !== i || chunk.key !== createOptionsKey(i)) {
      problems.push(`chunk "${chunk.key}" is out of sequence: expected "${createOptionsKey(i)}" (keys must be createOptions, createOptions01, createOptions02, … without gaps)`);
    }
  });
  const first = chunks[0];
  if (first !== undefined && isJsonObject(first.value)) {
    if (options.allowObject !== true) problems.push(`"${first.key}" must be a string in a deployment manifest (run genconfig)`);
    if (chunks.length > 1) problems.push(`"${first.key}" is an object, so it cannot be followed by more chunks`);
    return { options: first.value, chunkCount: 1, problems };
  }
  let text = '';
  for (const chunk of chunks) {
    if (typeof chunk.value !== 'string') {
      problems.push(`"${chunk.key}" must be a string`);
      continue;
    }
    const length = Array.from(chunk.value).length;
    if (length > CREATE_OPTIONS_LIMITS.chunkChars) {
      problems.push(`"${chunk.key}" holds ${length} characters; a chunk holds at most ${CREATE_OPTIONS_LIMITS.chunkChars}`);
    }
    text += chunk.value;
  }
  if (chunks.length > CREATE_OPTIONS_LIMITS.maxChunks) {
    problems.push(`${chunks.length} createOptions chunks; the tooling allows at most ${CREATE_OPTIONS_LIMITS.maxChunks} (${CREATE_OPTIONS_LIMITS.maxChunks * CREATE_OPTIONS_LIMITS.chunkChars} characters)`);
  }
  let parsed: unknown;
  try {
    parsed = text === '' ? {} : JSON.parse(text);
  } catch (err: unknown) {
    problems.push(`the joined createOptions are not valid JSON: ${(err as Error).message}`);
    return { options: undefined, chunkCount: chunks.length, problems };
  }
  if (!isJsonObject(parsed)) {
    problems.push('the joined createOptions must be a JSON object');
    return { options: undefined, chunkCount: chunks.length, problems };
  }
  return { options: parsed, chunkCount: chunks.length, problems };
}
