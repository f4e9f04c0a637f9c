import { Ajv, type AnySchema } from 'ajv';
import { errorMessage } from '../errors.js';
import type { Logger } from '../logging.js';
import { formatSchemaErrors } from '../contracts/validate.js';
import type { DesiredUpdate } from '../edge/types.js';
import { redactUrlsDeep } from './redact-urls.js';

export type ConfigStatus = 'applied' | 'rejected';

/** What goes to reported properties under `config` after every desired update. */
export interface ConfigReport {
  readonly status: ConfigStatus;
  /** `$version` of the desired document this outcome is about. */
  readonly desiredVersion: number | null;
  readonly problems: readonly string[];
  /**
   * The configuration in force (after a rejection: the previous one, unchanged), with every URL
   * reported without its query string or user information (a SAS must not reach reported properties).
   */
  readonly effective: Readonly<Record<string, unknown>>;
  readonly at: string;
}

export interface TwinConfigBinderOptions<C> {
  /**
   * JSON Schema of the module's desired properties (draft-07). Give every property a `default`
   * and set `additionalProperties: false`, so an empty twin yields the defaults and a misspelt key
   * is reported instead of ignored.
   */
  readonly schema: AnySchema;
  /**
   * Checks that the schema cannot express (cross-field rules) and builds the typed config.
   * Return problems to reject; every problem is reported.
   */
  readonly build?: (validated: Record<string, unknown>) => { config: C } | { problems: string[] };
  /** Applies a validated config. A throw rejects it and keeps the previous config in force. */
  readonly apply: (config: C, previous: C | undefined) => Promise<void>;
  /** Sends a reported-properties patch (`{ config: ConfigReport }`). */
  readonly report: (patch: { config: ConfigReport }) => Promise<void>;
  readonly logger: Logger;
  readonly now?: () => Date;
}

export interface TwinConfigBinder<C> {
  /** Handles a full desired document or a patch; serialised, so updates apply in arrival order. */
  handle(update: DesiredUpdate): Promise<ConfigReport>;
  /** The config in force; undefined until the first successful apply. */
  current(): C | undefined;
  /** Validates a candidate document without applying it. */
  validate(desired: Record<string, unknown>): { config: C } | { problems: string[] };
  lastReport(): ConfigReport | undefined;
}

type Json = Record<string, unknown>;

function isPlainObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** JSON merge-patch (RFC 7386): `null` deletes, objects merge, everything else replaces. */
export function mergePatch(target: Json, patch: Json): Json {
  const out: Json = { ...target };
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else if (isPlainObject(value)) out[key] = mergePatch(isPlainObject(out[key]) ? (out[key] as Json) : {}, value);
    else out[key] = value;
  }
  return out;
}

/** Removes twin metadata keys (`$version`, `$metadata`, …) at every level. */
export function stripTwinMetadata(doc: Json): Json {
  const out: Json = {};
  for (const [key, value] of Object.entries(doc)) {
    if (key.startsWith('$')) continue;
    out[key] = isPlainObject(value) ? stripTwinMetadata(value) : value;
  }
  return out;
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/**
 * Binds a module's configuration to its twin. Each update is merged onto the mirror of the
 * desired document (the whole twin as the cloud holds it, so a later patch that fixes one field of
 * a rejected patch is judged together with the rest of it), the whole is validated against the
 * schema, then applied atomically or rejected with every problem; the outcome is reported.
 */
export function createTwinConfigBinder<C>(options: TwinConfigBinderOptions<C>): TwinConfigBinder<C> {
  const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false });
  const validateSchema = ajv.compile(options.schema);
  const now = options.now ?? (() => new Date());
  let mirror: Json = {};
  let current: C | undefined;
  let effective: Json = {};
  let last: ConfigReport | undefined;
  let chain: Promise<unknown> = Promise.resolve();

  const validate = (desired: Json): { config: C; doc: Json } | { problems: string[] } => {
    const doc = structuredClone(stripTwinMetadata(desired));
    if (!validateSchema(doc)) return { problems: formatSchemaErrors(validateSchema.errors) };
    if (options.build === undefined) return { config: deepFreeze(doc) as C, doc };
    const built = options.build(doc);
    if ('problems' in built) return built.problems.length > 0 ? built : { problems: ['configuration rejected'] };
    return { config: deepFreeze(built.config), doc };
  };

  const handleOne = async (update: DesiredUpdate): Promise<ConfigReport> => {
    const props = update.properties as Json;
    const version = typeof props['$version'] === 'number' ? props['$version'] : null;
    // A document that could not even be read is judged as it is: the mirror keeps the last one.
    const unreadable = update.problems !== undefined && update.problems.length > 0 ? { problems: [...update.problems] } : undefined;
    if (unreadable === undefined) mirror = update.kind === 'full' ? { ...props } : mergePatch(mirror, props);
    const result = unreadable ?? validate(mirror);
    let report: ConfigReport;
    if ('problems' in result) {
      report = { status: 'rejected', desiredVersion: version, problems: redactUrlsDeep(result.problems), effective, at: now().toISOString() };
      options.logger.warn({ desiredVersion: version, problems: result.problems }, 'desired configuration rejected; previous configuration stays in force');
    } else {
      try {
        await options.apply(result.config, current);
        current = result.config;
        effective = redactUrlsDeep(result.doc);
        report = { status: 'applied', desiredVersion: version, problems: [], effective, at: now().toISOString() };
        options.logger.info({ desiredVersion: version }, 'configuration applied');
      } catch (err: unknown) {
        const problem = redactUrlsDeep(`apply failed: ${errorMessage(err)}`);
        report = { status: 'rejected', desiredVersion: version, problems: [problem], effective, at: now().toISOString() };
        options.logger.warn({ err, desiredVersion: version }, 'configuration could not be applied; previous configuration stays in force');
      }
    }
    last = report;
    try {
      await options.report({ config: report });
    } catch (err: unknown) {
      options.logger.warn({ err }, 'could not report configuration outcome');
    }
    return report;
  };

  return {
    handle(update) {
      const next = chain.then(() => handleOne(update));
      chain = next.catch(() => undefined);
      return next;
    },
    current: () => current,
    validate(desired) {
      const r = validate(desired);
      return 'problems' in r ? r : { config: r.config };
    },
    lastReport: () => last,
  };
}
