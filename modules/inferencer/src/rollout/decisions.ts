/**
 * Rollout verdicts that must outlive a restart (`<data>/state/inferencer/rollouts.json`): a module
 * cannot write its own desired properties, so a promoted candidate keeps serving — and a rolled
 * back one stays out — for as long as the twin's rollout section names that same candidate.
 */
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { canonicalJson, writeFileAtomic, type Logger } from '@edgeml/shared';
import type { ModelEntry } from '../config.js';
import type { RolloutFigures } from './evaluator.js';

export interface Decision {
  readonly outcome: 'promoted' | 'rolledBack';
  /** Identity of the candidate entry (batching settings aside). */
  readonly candidateKey: string;
  /** Identity of the live entry it was compared with (a promotion holds while the twin still names it). */
  readonly liveKey: string;
  readonly candidate: ModelEntry;
  readonly model: { readonly name: string; readonly version: string; readonly digest: string };
  readonly figures: RolloutFigures;
  readonly reason: string;
  readonly decidedAt: string;
}

/** What identifies a model entry (batching settings aside). */
export const entryKey = (e: ModelEntry): string => canonicalJson({ name: e.name ?? null, version: e.version ?? null, uri: e.uri ?? null, sha256: e.sha256 ?? null, artifact: e.artifact ?? null });

export class RolloutDecisions {
  readonly #file: string;
  readonly #logger: Logger;
  #byProfile: Record<string, Decision> = {};

  constructor(stateDir: string, logger: Logger) {
    this.#file = path.join(stateDir, 'rollouts.json');
    this.#logger = logger;
  }

  async load(): Promise<void> {
    try {
      this.#byProfile = JSON.parse(await readFile(this.#file, 'utf8')) as Record<string, Decision>;
    } catch (err: unknown) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.#logger.warn({ err, file: this.#file }, 'rollout decisions cannot be read; rollouts start again');
      this.#byProfile = {};
    }
  }

  get(profile: string): Decision | undefined {
    return this.#byProfile[profile];
  }

  async set(profile: string, decision: Decision): Promise<void> {
    this.#byProfile = { ...this.#byProfile, [profile]: decision };
    await mkdir(path.dirname(this.#file), { recursive: true });
    await writeFileAtomic(this.#file, `${JSON.stringify(this.#byProfile, null, 2)}\n`);
  }
}
