import { sleep } from '@edgeml/shared';

/**
 * Token bucket shared by every upload: `bytesPerSecond` on average, bursts up to one second's worth.
 * 0 means no cap. Clock and sleep are injected for tests; the sleep is abortable.
 */
export class RateLimiter {
  private rate: number;
  private tokens: number;
  private last: number;
  private readonly now: () => number;
  private readonly wait: (ms: number, signal?: AbortSignal) => Promise<void>;
  private chain: Promise<void> = Promise.resolve();

  constructor(bytesPerSecond: number, options: { now?: () => number; sleep?: (ms: number, signal?: AbortSignal) => Promise<void> } = {}) {
    this.rate = bytesPerSecond;
    this.now = options.now ?? (() => performance.now());
    this.wait = options.sleep ?? sleep;
    this.tokens = bytesPerSecond;
    this.last = this.now();
  }

  setRate(bytesPerSecond: number): void {
    this.rate = bytesPerSecond;
    this.tokens = Math.min(this.tokens, bytesPerSecond);
  }

  get bytesPerSecond(): number {
    return this.rate;
  }

  /** Waits until `bytes` may be sent. Callers are served in order, so one big block cannot starve. */
  take(bytes: number, signal?: AbortSignal): Promise<void> {
    if (this.rate <= 0) return Promise.resolve();
    const next = this.chain.then(() => this.takeNow(bytes, signal));
    this.chain = next.catch(() => undefined);
    return next;
  }

  private async takeNow(bytes: number, signal?: AbortSignal): Promise<void> {
    let need = bytes;
    while (need > 0) {
      if (this.rate <= 0) return;
      const t = this.now();
      this.tokens = Math.min(this.rate, this.tokens + ((t - this.last) / 1000) * this.rate);
      this.last = t;
      const grant = Math.min(need, this.tokens);
      if (grant > 0) {
        this.tokens -= grant;
        need -= grant;
        if (need === 0) return;
      }
      const missing = Math.min(need, this.rate);
      await this.wait(Math.max(1, Math.ceil((missing / this.rate) * 1000)), signal);
    }
  }
}
