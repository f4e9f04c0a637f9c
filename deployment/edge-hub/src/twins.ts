/**
 * Twin document rules: JSON merge patches (`null` deletes) and edgeHub's ReportedPropertiesValidator
 * (reference §6). Pure functions.
 */

/** Reported-properties patch limit, UTF-8 JSON bytes. */
export const MAX_TWIN_PATCH_BYTES = 32 * 1024;
export const MAX_TWIN_DEPTH = 10;
export const MAX_TWIN_KEY_BYTES = 1024;
export const MAX_TWIN_STRING_BYTES = 4096;
const MAX_SAFE_TWIN_INT = 2 ** 52 - 1;
const MIN_SAFE_TWIN_INT = -(2 ** 52);

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Every problem with a twin patch under edgeHub's rules: an object, at most 32 KiB, depth at most 10, keys
 * non-empty, at most 1 KiB and free of control characters, `.`, `$`, `#` and whitespace (except `$version`
 * at the root when `allowVersion`), strings at most 4 KiB, integers within ±2^52, arrays without `null`.
 */
export function twinPatchProblems(patch: unknown, options: { allowVersion?: boolean } = {}): string[] {
  if (!isPlainObject(patch)) return ['patch must be a JSON object'];
  const problems: string[] = [];
  const size = Buffer.byteLength(JSON.stringify(patch));
  if (size > MAX_TWIN_PATCH_BYTES) problems.push(`patch is ${size} bytes; the limit is ${MAX_TWIN_PATCH_BYTES}`);
  const checkValue = (value: unknown, where: string, depth: number): void => {
    if (problems.length > 50) return;
    if (typeof value === 'string') {
      if (Buffer.byteLength(value) > MAX_TWIN_STRING_BYTES) problems.push(`${where}: string longer than ${MAX_TWIN_STRING_BYTES} bytes`);
    } else if (typeof value === 'number') {
      if (!Number.isFinite(value)) problems.push(`${where}: number is not finite`);
      else if (Number.isInteger(value) && (value > MAX_SAFE_TWIN_INT || value < MIN_SAFE_TWIN_INT)) problems.push(`${where}: integer outside [-2^52, 2^52-1]`);
    } else if (Array.isArray(value)) {
      value.forEach((item, i) => {
        if (item === null) problems.push(`${where}[${i}]: arrays may not contain null`);
        else checkValue(item, `${where}[${i}]`, depth + 1);
      });
    } else if (isPlainObject(value)) {
      if (depth > MAX_TWIN_DEPTH) {
        problems.push(`${where}: nesting deeper than ${MAX_TWIN_DEPTH} levels`);
        return;
      }
      for (const [key, v] of Object.entries(value)) {
        const shown = key.slice(0, 64);
        const rootVersion = options.allowVersion === true && depth === 1 && key === '$version';
        // eslint-disable-next-line no-control-regex
        if (!rootVersion && (key.length === 0 || Buffer.byteLength(key) > MAX_TWIN_KEY_BYTES || /[.$#\s\u0000-\u001f\u007f]/.test(key))) {
          problems.push(`${where}/${shown}: invalid key (empty, over 1 KiB, or containing '.', '$', '#', whitespace or a control character)`);
        }
        checkValue(v, `${where}/${shown}`, depth + 1);
      }
    }
  };
  checkValue(patch, '', 1);
  return problems;
}

/** Applies a JSON merge patch in place: objects merge recursively, `null` deletes, anything else replaces. */
export function applyMergePatch(target: Record<string, unknown>, patch: Readonly<Record<string, unknown>>): void {
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete target[key];
    else if (isPlainObject(value)) {
      const existing = target[key];
      const next = isPlainObject(existing) ? existing : {};
      applyMergePatch(next, value);
      target[key] = next;
    } else target[key] = structuredClone(value);
  }
}

/** The JSON merge patch that turns `from` into `to` (removed keys become `null`). */
export function mergePatchBetween(from: Readonly<Record<string, unknown>>, to: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const patch: Record<string, unknown> = {};
  for (const key of Object.keys(from)) if (!(key in to)) patch[key] = null;
  for (const [key, value] of Object.entries(to)) {
    const before = from[key];
    if (isPlainObject(value) && isPlainObject(before)) {
      const inner = mergePatchBetween(before, value);
      if (Object.keys(inner).length > 0) patch[key] = inner;
    } else if (JSON.stringify(before) !== JSON.stringify(value)) patch[key] = structuredClone(value);
  }
  return patch;
}
