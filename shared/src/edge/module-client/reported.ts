/** Reported properties: a patch checked against the twin limits, sent through the SDK's twin, bounded in time. */
import { EdgeMLError, errorMessage } from '../../errors.js';
import { reportedPatchProblems } from '../types.js';
import type { TwinReader } from './twin.js';
import type { ModuleClientState } from './state.js';
import { withTimeout } from './timeout.js';

export interface ReportedPropertiesOptions {
  readonly state: ModuleClientState;
  readonly twin: TwinReader;
  /** No answer within this fails the update (the SDK has no timeout: wire notes §7). */
  readonly reportedUpdateTimeoutMs: number;
}

export class ReportedProperties {
  readonly #o: ReportedPropertiesOptions;

  constructor(options: ReportedPropertiesOptions) {
    this.#o = options;
  }

  /** @throws EdgeMLError MESSAGE_TOO_LARGE (the patch breaks a twin limit), TWIN_UPDATE_FAILED (not open, refused, timed out) */
  async update(patch: Readonly<Record<string, unknown>>): Promise<void> {
    const problems = reportedPatchProblems(patch);
    if (problems.length > 0) throw new EdgeMLError('MESSAGE_TOO_LARGE', `reported patch refused: ${problems.join('; ')}`, { details: { problems } });
    const t = this.#o.twin.twin;
    if (!this.#o.state.isOpen || t === undefined) throw new EdgeMLError('TWIN_UPDATE_FAILED', 'cannot update reported properties: the edge client is not open');
    const update = new Promise<void>((resolve, reject) => {
      (t.properties.reported as unknown as { update(p: unknown, done: (err?: Error) => void): void }).update(structuredClone(patch), (err?: Error) => {
        if (err !== undefined && err !== null) reject(err);
        else resolve();
      });
    });
    try {
      await withTimeout(update, this.#o.reportedUpdateTimeoutMs, 'reported properties update');
    } catch (err: unknown) {
      throw new EdgeMLError('TWIN_UPDATE_FAILED', `reported properties update failed: ${errorMessage(err)}`, { cause: err });
    }
  }
}
