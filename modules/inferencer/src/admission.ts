/**
 * The intake bound: tensors admitted (queued or running) in items and bytes. When full, the
 * caller answers `deferred` through the acknowledgement path instead of waiting, so nothing piles
 * up in memory behind it (the SDK acknowledged the message before the handler ran; only the
 * watcher can hold it, and it offers the source again after `retryAfterMs`). Pure: no timers.
 */

export interface Admission {
  /** A release function when `bytes` fit within both bounds now; undefined when they do not. */
  tryAcquire(bytes: number): (() => void) | undefined;
  /** True when `bytes` could never fit (more than the byte bound on its own). */
  exceedsBound(bytes: number): boolean;
  readonly items: number;
  readonly bytes: number;
  readonly maxItems: number;
  readonly maxBytes: number;
  resize(limits: { maxItems: number; maxBytes: number }): void;
}

export function createAdmission(limits: { maxItems: number; maxBytes: number }): Admission {
  let { maxItems, maxBytes } = limits;
  let items = 0;
  let bytes = 0;

  return {
    tryAcquire(b) {
      if (items + 1 > maxItems || bytes + b > maxBytes) return undefined;
      items++;
      bytes += b;
      let done = false;
      return () => {
        if (done) return;
        done = true;
        items--;
        bytes -= b;
      };
    },
    exceedsBound: (b) => b > maxBytes,
    get items() {
      return items;
    },
    get bytes() {
      return bytes;
    },
    get maxItems() {
      return maxItems;
    },
    get maxBytes() {
      return maxBytes;
    },
    resize(next) {
      maxItems = next.maxItems;
      maxBytes = next.maxBytes;
    },
  };
}
