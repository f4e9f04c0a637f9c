import { pino, type Logger, type LoggerOptions, type DestinationStream } from 'pino';

export type { Logger } from 'pino';

/**
 * Secrets that must never reach a log line, a reported property or an upstream message, wherever
 * they appear (connection strings inside error messages included). Each pattern keeps the key
 * name so the reader still sees *that* a secret was there.
 */
const SECRET_PATTERNS: readonly (readonly [RegExp, string])[] = [
  [/(SharedAccessKey\s*=\s*)[^;"'\s]+/gi, '$1[REDACTED]'],
  [/(AccountKey\s*=\s*)[^;"'\s]+/gi, '$1[REDACTED]'],
  [/(SharedAccessSignature\s*=\s*)[^;"'\s]+/gi, '$1[REDACTED]'],
  [/(SharedAccessSignature\s+sr=)[^\s"']+/g, '$1[REDACTED]'],
  [/([?&;]sig=)[^&;"'\s]+/gi, '$1[REDACTED]'],
  [/(\bsig=)[^&;"'\s]+/gi, '$1[REDACTED]'],
  [/("(?:password|primaryKey|secondaryKey|accountKey|sharedAccessKey)"\s*:\s*")[^"]*/gi, '$1[REDACTED]'],
];

/** Replaces every secret in `text` by `[REDACTED]`, keeping the key names. */
export function redactSecrets(text: string): string {
  let out = text;
  for (const [pattern, replacement] of SECRET_PATTERNS) out = out.replace(pattern, replacement);
  return out;
}

const SECRET_KEYS = new Set(['password', 'primarykey', 'secondarykey', 'accountkey', 'sharedaccesskey', 'connectionstring', 'sas', 'sastoken', 'authorization']);

/** Deep copy of `value` with secret-bearing keys masked and secrets inside strings redacted. Cycles and depth are bounded. */
export function redactDeep(value: unknown, depth = 0, seen = new WeakSet<object>()): unknown {
  if (typeof value === 'string') return redactSecrets(value);
  if (value === null || typeof value !== 'object') return value;
  if (depth > 12 || seen.has(value)) return '[Truncated]';
  seen.add(value);
  if (Array.isArray(value)) return value.map((v) => redactDeep(v, depth + 1, seen));
  if (value instanceof Error) {
    const out: Record<string, unknown> = { type: value.name, message: redactSecrets(value.message) };
    if (value.stack !== undefined) out['stack'] = redactSecrets(value.stack);
    const code = (value as { code?: unknown }).code;
    if (code !== undefined) out['code'] = code;
    if (value.cause !== undefined) out['cause'] = redactDeep(value.cause, depth + 1, seen);
    return out;
  }
  if (Buffer.isBuffer(value)) return `[Buffer ${value.length} bytes]`;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] = SECRET_KEYS.has(k.toLowerCase()) && typeof v === 'string' ? '[REDACTED]' : redactDeep(v, depth + 1, seen);
  }
  return out;
}

export interface CreateLoggerOptions {
  /** Module or component name, written as `module` on every line. */
  readonly name: string;
  /** pino level. Default 'info'. */
  readonly level?: string;
  /** Where JSON lines go. Default stdout (what `iotedge logs` collects). */
  readonly destination?: DestinationStream;
}

/**
 * The root logger of a process: pino JSON lines, every string field and the message scrubbed of
 * secrets, errors serialised under `err`.
 */
export function createLogger(options: CreateLoggerOptions): Logger {
  const pinoOptions: LoggerOptions = {
    level: options.level ?? 'info',
    base: { module: options.name },
    timestamp: pino.stdTimeFunctions.isoTime,
    messageKey: 'msg',
    serializers: { err: (e: unknown) => redactDeep(e) },
    formatters: {
      level: (label) => ({ level: label }),
      log: (obj) => redactDeep(obj) as Record<string, unknown>,
    },
    hooks: {
      logMethod(args, method) {
        const redacted = args.map((a) => (typeof a === 'string' ? redactSecrets(a) : a)) as Parameters<typeof method>;
        method.apply(this, redacted);
      },
    },
  };
  return options.destination === undefined ? pino(pinoOptions) : pino(pinoOptions, options.destination);
}

/**
 * Logs an event that may repeat many times once, then at most once per `intervalMs` with the count
 * of occurrences since the previous line (so a flood of identical failures cannot drown the log).
 */
export function createRepeatLimiter(intervalMs = 60_000, now: () => number = Date.now) {
  const state = new Map<string, { last: number; suppressed: number }>();
  return function shouldLog(key: string): { log: boolean; suppressed: number } {
    const t = now();
    const s = state.get(key);
    if (s === undefined || t - s.last >= intervalMs) {
      const suppressed = s?.suppressed ?? 0;
      state.set(key, { last: t, suppressed: 0 });
      if (state.size > 10_000) state.clear();
      return { log: true, suppressed };
    }
    s.suppressed++;
    return { log: false, suppressed: s.suppressed };
  };
}

/** Routes the Azure SDK's own logger (`@azure/logger`) into pino when it is installed; a no-op otherwise. */
export async function routeAzureSdkLogs(logger: Logger, level: 'error' | 'warning' | 'info' | 'verbose' = 'warning'): Promise<void> {
  let azureLogger: { setLogLevel(l: string): void; AzureLogger: { log: (...args: unknown[]) => void } };
  try {
    azureLogger = (await import('@azure/logger' as string)) as typeof azureLogger;
  } catch (err: unknown) {
    logger.debug({ err }, '@azure/logger not installed in this module; nothing to route');
    return;
  }
  const child = logger.child({ component: 'azure-sdk' });
  azureLogger.setLogLevel(level);
  azureLogger.AzureLogger.log = (...args: unknown[]) => {
    child.info(redactSecrets(args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' ')));
  };
}
