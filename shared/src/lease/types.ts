/** A leader lease: at most one replica holds it at a time; a standby takes over when the holder dies. */
export interface LeaderLease {
  readonly identity: string;
  /** Waits, as a standby, until this replica holds the lease; then keeps renewing it. @throws EdgeMLError ABORTED */
  acquire(signal?: AbortSignal): Promise<void>;
  isHeld(): boolean;
  /** Called once when a held lease is lost (not renewed in time, or taken over); the holder must stop acting at once. */
  onLost(listener: (reason: string) => void): void;
  /** Stops renewing and marks the lease released, so a standby takes over at once. Idempotent. */
  release(): Promise<void>;
}
