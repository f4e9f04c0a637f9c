import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { backoffDelayMs, type Logger } from '@edgeml/shared';
import type { RestartPolicy } from './manifest.js';

export interface SupervisedSpec {
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly cwd: string;
  readonly env: Readonly<Record<string, string>>;
  readonly restartPolicy: RestartPolicy;
  readonly logFile: string;
  /** Liveness probe for `on-unhealthy` (the module's /health/live). */
  readonly healthUrl?: string;
}

export interface ModuleProcessState {
  readonly name: string;
  readonly state: 'starting' | 'running' | 'backoff' | 'stopped' | 'failed';
  readonly pid: number | undefined;
  readonly restarts: number;
  readonly lastExit: { code: number | null; signal: string | null; at: string } | undefined;
}

/** Restart decisions as edgeAgent makes them for each policy. */
export function shouldRestart(policy: RestartPolicy, exit: { code: number | null; signal: string | null }, unhealthy: boolean): boolean {
  switch (policy) {
    case 'never':
      return false;
    case 'always':
      return true;
    case 'on-failure':
      return exit.code !== 0 || exit.signal !== null;
    case 'on-unhealthy':
      return unhealthy || exit.code !== 0 || exit.signal !== null;
  }
}

/**
 * Runs one module as a child process with its restart policy. Backoff between restarts grows
 * from 1 s to 30 s (edgeAgent's cool-off, shortened for local use) and resets after 60 s of uptime.
 */
export class ModuleProcess {
  private child: ChildProcess | undefined;
  private log: WriteStream | undefined;
  private restarts = 0;
  private consecutive = 0;
  private state: ModuleProcessState['state'] = 'stopped';
  private lastExit: ModuleProcessState['lastExit'];
  private stopping = false;
  private restartTimer: NodeJS.Timeout | undefined;
  private healthTimer: NodeJS.Timeout | undefined;
  private healthFailures = 0;
  private startedAt = 0;

  constructor(
    readonly spec: SupervisedSpec,
    private readonly logger: Logger,
    private readonly onChange: (s: ModuleProcessState) => void = () => undefined,
  ) {}

  snapshot(): ModuleProcessState {
    return { name: this.spec.name, state: this.state, pid: this.child?.pid, restarts: this.restarts, lastExit: this.lastExit };
  }

  start(): void {
    this.stopping = false;
    this.log ??= createWriteStream(this.spec.logFile, { flags: 'a' });
    this.launch();
    if (this.spec.restartPolicy === 'on-unhealthy' && this.spec.healthUrl !== undefined) {
      this.healthTimer = setInterval(() => void this.probe(), 10_000);
      this.healthTimer.unref();
    }
  }

  private launch(): void {
    this.state = 'starting';
    const child = spawn(this.spec.command, [...this.spec.args], { cwd: this.spec.cwd, env: { ...this.spec.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    this.startedAt = Date.now();
    if (this.log !== undefined) {
      child.stdout?.pipe(this.log, { end: false });
      child.stderr?.pipe(this.log, { end: false });
    }
    child.once('spawn', () => {
      this.state = 'running';
      this.logger.info({ module: this.spec.name, pid: child.pid }, 'module started');
      this.onChange(this.snapshot());
    });
    child.once('error', (err) => this.logger.error({ err, module: this.spec.name }, 'module process error'));
    child.once('exit', (code, signal) => this.exited(child, code, signal, false));
  }

  private exited(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null, unhealthy: boolean): void {
    if (this.child !== child) return;
    this.child = undefined;
    this.lastExit = { code, signal, at: new Date().toISOString() };
    if (this.stopping) {
      this.state = 'stopped';
      this.onChange(this.snapshot());
      return;
    }
    if (!shouldRestart(this.spec.restartPolicy, { code, signal }, unhealthy)) {
      this.state = code === 0 ? 'stopped' : 'failed';
      this.logger.warn({ module: this.spec.name, code, signal }, 'module exited; restart policy says no restart');
      this.onChange(this.snapshot());
      return;
    }
    if (Date.now() - this.startedAt > 60_000) this.consecutive = 0;
    this.consecutive++;
    const delayMs = backoffDelayMs(this.consecutive, { initialDelayMs: 1_000, maxDelayMs: 30_000, jitterRatio: 0.2 });
    this.state = 'backoff';
    this.logger.warn({ module: this.spec.name, code, signal, restartInMs: delayMs }, 'module exited; restarting per policy');
    this.onChange(this.snapshot());
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      if (this.stopping) return;
      this.restarts++;
      this.launch();
    }, delayMs);
  }

  private async probe(): Promise<void> {
    if (this.spec.healthUrl === undefined || this.child === undefined || this.state !== 'running') return;
    if (Date.now() - this.startedAt < 30_000) return;
    const ok = await fetch(this.spec.healthUrl, { signal: AbortSignal.timeout(5_000) }).then(
      (r) => r.ok,
      () => false,
    );
    this.healthFailures = ok ? 0 : this.healthFailures + 1;
    if (this.healthFailures >= 3) {
      this.logger.warn({ module: this.spec.name }, 'module unhealthy three times in a row; restarting');
      this.healthFailures = 0;
      const child = this.child;
      child.removeAllListeners('exit');
      child.once('exit', (code, signal) => this.exited(child, code, signal, true));
      child.kill('SIGKILL');
    }
  }

  /** Sends SIGKILL (fault injection); the restart policy then applies. */
  kill(signal: NodeJS.Signals = 'SIGKILL'): boolean {
    return this.child?.kill(signal) ?? false;
  }

  /** SIGTERM, then SIGKILL after `deadlineMs`. Idempotent. */
  async stop(deadlineMs: number): Promise<void> {
    this.stopping = true;
    if (this.restartTimer !== undefined) clearTimeout(this.restartTimer);
    if (this.healthTimer !== undefined) clearInterval(this.healthTimer);
    const child = this.child;
    if (child !== undefined && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => {
        this.logger.warn({ module: this.spec.name, deadlineMs }, 'module did not stop in time; killing');
        child.kill('SIGKILL');
      }, deadlineMs);
      await exited;
      clearTimeout(timer);
    }
    this.state = 'stopped';
    await new Promise<void>((resolve) => (this.log === undefined ? resolve() : this.log.end(() => resolve())));
    this.log = undefined;
  }
}
