/**
 * The watcher's two inputs: `completed` (acknowledgements, recorded by the reconciler) and
 * `shareEvents` (Azure Stack Edge `FileEvent`s, hints to check a path). Every message ends in one
 * outcome; malformed ones are counted, logged and alerted at most once a minute per code. Nothing
 * here throws.
 */
import path from 'node:path';
import {
  createRepeatLimiter,
  EdgeMLError,
  errorCode,
  errorMessage,
  isWithin,
  MODULE_ENDPOINTS,
  parseMessage,
  parseShareFileEvent,
  SCHEMAS,
  sendAlert,
  type DataPaths,
  type EdgeClient,
  type IncomingMessage,
  type Logger,
} from '@edgeml/shared';
import type { CompletionResult } from './acknowledgements.js';
import type { WatcherMetrics } from './metrics.js';
import type { Reconciler } from './reconciler.js';

const INPUTS = MODULE_ENDPOINTS.watcher.inputs;

/** Outcome of one `shareEvents` message. */
export type ShareEventResult = 'checking' | 'refused' | 'invalid';

/** Outcome of one `completed` message. */
export type CompletedInputResult = CompletionResult | 'invalid' | 'notRecorded';

export interface InputsOptions {
  readonly paths: DataPaths;
  readonly edge: EdgeClient;
  readonly log: Logger;
  readonly metrics: WatcherMetrics;
  readonly now: () => Date;
  /** The reconciler while the watcher runs; undefined before start and once stopping. */
  readonly reconciler: () => Reconciler | undefined;
}

export class Inputs {
  readonly #o: InputsOptions;
  readonly #limiter = createRepeatLimiter(60_000);
  readonly #handlers = new Set<Promise<unknown>>();

  constructor(options: InputsOptions) {
    this.#o = options;
  }

  /** Registers both input handlers on the edge client. */
  register(): void {
    this.#o.edge.onInput(INPUTS.completed, (msg) => this.#track(this.completed(msg)).then(() => undefined));
    this.#o.edge.onInput(INPUTS.shareEvents, (msg) => {
      this.shareEvent(msg);
      return Promise.resolve();
    });
  }

  /** Handlers still running (for a bounded stop). */
  pending(): Promise<unknown>[] {
    return [...this.#handlers];
  }

  #track<T>(p: Promise<T>): Promise<T> {
    this.#handlers.add(p);
    void p.finally(() => this.#handlers.delete(p));
    return p;
  }

  #reject(input: string, err: unknown): void {
    const { log, metrics } = this.#o;
    const code = errorCode(err);
    metrics.inputRejected.inc({ input, code });
    const { log: yes, suppressed } = this.#limiter(`reject:${input}:${code}`);
    if (!yes) return;
    const problems = (err as EdgeMLError).details?.['problems'];
    log.warn({ input, code, problems, suppressed }, `${input} message rejected: ${errorMessage(err).slice(0, 500)}`);
    void sendAlert(this.#o.edge, log, { severity: 'warning', code, message: `malformed message on input ${input}: ${errorMessage(err).slice(0, 1000)}`, details: { input, suppressed } }, this.#o.now);
  }

  async completed(msg: IncomingMessage): Promise<CompletedInputResult> {
    const { log, metrics } = this.#o;
    let completion;
    try {
      completion = parseMessage(msg.body, SCHEMAS.completion);
    } catch (err: unknown) {
      this.#reject(INPUTS.completed, err);
      return 'invalid';
    }
    const reconciler = this.#o.reconciler();
    if (reconciler === undefined) {
      log.warn({ id: completion.id, part: completion.part }, 'completion arrived while stopping; not recorded (the file is re-emitted after its timeout)');
      return 'notRecorded';
    }
    try {
      const result = await reconciler.handleCompletion(completion);
      metrics.completions.inc({ result });
      if (result === 'unknownId') {
        if (this.#limiter('unknown-id').log) log.warn({ id: completion.id, part: completion.part, module: completion.module }, 'completion for a content id this watcher never emitted; ignored');
      } else {
        log.debug({ id: completion.id, part: completion.part, outcome: completion.outcome, result }, 'completion recorded');
      }
      return result;
    } catch (err: unknown) {
      log.error({ err, id: completion.id, part: completion.part }, 'completion could not be recorded; the file is re-emitted after its timeout');
      return 'notRecorded';
    }
  }

  shareEvent(msg: IncomingMessage): ShareEventResult {
    const { paths } = this.#o;
    let event;
    try {
      event = parseShareFileEvent(msg.body);
    } catch (err: unknown) {
      this.#reject(INPUTS.shareEvents, err);
      return 'invalid';
    }
    const rel = event.ShareRelativeFilePath.replace(/\\/g, '/').replace(/^\/+/, '');
    const abs = path.resolve(paths.share, rel);
    if (rel.includes('\u0000') || !isWithin(paths.inbox, abs) || abs === paths.inbox) {
      this.#reject(INPUTS.shareEvents, new EdgeMLError('PATH_OUTSIDE_ROOT', `FileEvent path ${JSON.stringify(rel.slice(0, 200))} is not inside the inbox (paths are relative to the share root)`));
      return 'refused';
    }
    this.#o.log.debug({ changeType: event.ChangeType, path: rel, share: event.ShareName }, 'share event; checking the path');
    const reconciler = this.#o.reconciler();
    reconciler?.hint(path.join(reconciler.inboxReal, path.relative(paths.inbox, abs)));
    return 'checking';
  }
}
