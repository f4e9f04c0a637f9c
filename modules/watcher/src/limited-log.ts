import { createRepeatLimiter, type Logger } from '@edgeml/shared';

/**
 * A warning or error that may repeat (a share that stays unreadable, a send that keeps failing):
 * logged once, then at most once a minute per `key` with the count of those suppressed.
 */
export type LimitedLog = (key: string, level: 'warn' | 'error', obj: Record<string, unknown>, msg: string) => void;

export function createLimitedLog(log: Logger, intervalMs = 60_000): LimitedLog {
  const limiter = createRepeatLimiter(intervalMs);
  return (key, level, obj, msg) => {
    const { log: yes, suppressed } = limiter(key);
    if (yes) log[level]({ ...obj, ...(suppressed > 0 ? { suppressed } : {}) }, msg);
  };
}
