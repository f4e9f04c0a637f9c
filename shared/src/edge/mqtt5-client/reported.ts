/**
 * Reported properties: patches are merged here and the whole document published, retained, on the
 * replica's status topic; publishes go out one after the other, each with the document as it was
 * when it was asked for.
 */
import { EdgeMLError, errorMessage } from '../../errors.js';
import { mergePatch } from '../../config/binder.js';
import { reportedPatchProblems } from '../types.js';
import type { Mqtt5Connection } from '../mqtt5-connection.js';
import { SOURCE_ID_PROPERTY } from './properties.js';
import type { EdgeClientState } from './state.js';

export interface ReportedStatusOptions {
  readonly connection: Mqtt5Connection;
  /** This replica's status topic. */
  readonly topic: string;
  readonly state: EdgeClientState;
}

export class ReportedStatus {
  readonly #o: ReportedStatusOptions;
  #reported: Record<string, unknown> = {};
  #chain: Promise<void> = Promise.resolve();

  constructor(options: ReportedStatusOptions) {
    this.#o = options;
  }

  /** updateReported. @throws EdgeMLError MESSAGE_TOO_LARGE (a patch a twin would refuse), TWIN_UPDATE_FAILED (not open, not published) */
  async update(patch: Readonly<Record<string, unknown>>): Promise<void> {
    const problems = reportedPatchProblems(patch);
    if (problems.length > 0) throw new EdgeMLError('MESSAGE_TOO_LARGE', `reported patch refused: ${problems.join('; ')}`, { details: { problems } });
    if (!this.#o.state.isOpen) throw new EdgeMLError('TWIN_UPDATE_FAILED', 'cannot update reported properties: the edge client is not open');
    this.#reported = mergePatch(this.#reported, structuredClone(patch) as Record<string, unknown>);
    try {
      await this.publish();
    } catch (err: unknown) {
      throw new EdgeMLError('TWIN_UPDATE_FAILED', `status could not be published: ${errorMessage(err)}`, { cause: err });
    }
  }

  /** Publishes the current document (after any publish before it); also after each reconnect. */
  publish(): Promise<void> {
    const { connection, topic } = this.#o;
    const snapshot = Buffer.from(JSON.stringify(this.#reported), 'utf8');
    const next = this.#chain.then(async () => {
      await connection.publish({ topic, payload: snapshot, qos: 1, retain: true, properties: { contentType: 'application/json', payloadIsUtf8: true, userProperties: { [SOURCE_ID_PROPERTY]: connection.clientId } } });
    });
    this.#chain = next.catch(() => undefined);
    return next;
  }
}
