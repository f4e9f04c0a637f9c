import { EdgeMLError } from '../errors.js';
import type { ConnectionListener, DesiredUpdate, EdgeClient, IncomingMessage, InputHandler, MethodHandler, MethodResponse, OutgoingMessage } from './types.js';
import { reportedPatchProblems } from './types.js';
import { MAX_MESSAGE_BYTES } from '../contracts/validate.js';

export interface SentMessage {
  readonly outputName: string;
  readonly body: Buffer;
  readonly properties: Readonly<Record<string, string>>;
  readonly messageId: string | undefined;
  readonly correlationId: string | undefined;
  readonly contentType: string | undefined;
  /** Body parsed as JSON when it is JSON, otherwise undefined. */
  readonly json: unknown;
}

/** In-memory {@link EdgeClient} for unit tests, with controls to play the hub's part. */
export interface MemoryEdgeClient extends EdgeClient {
  readonly sent: SentMessage[];
  readonly reported: Record<string, unknown>;
  readonly opened: boolean;
  /** Delivers a message to an input handler and waits for the handler to finish. */
  deliver(inputName: string, body: Buffer | string | object, properties?: Record<string, string>): Promise<void>;
  invoke(methodName: string, payload: unknown): Promise<MethodResponse>;
  pushDesired(update: DesiredUpdate): void;
  /** Makes the next `n` sendOutput calls fail with EDGE_SEND_FAILED. */
  failNextSends(n: number): void;
  sentTo(outputName: string): SentMessage[];
}

export function bodyToBuffer(body: OutgoingMessage['body']): Buffer {
  if (Buffer.isBuffer(body)) return body;
  if (typeof body === 'string') return Buffer.from(body, 'utf8');
  return Buffer.from(JSON.stringify(body), 'utf8');
}

export function createMemoryEdgeClient(options: { deviceId?: string; moduleId?: string; initialDesired?: Record<string, unknown> } = {}): MemoryEdgeClient {
  const inputs = new Map<string, InputHandler>();
  const methods = new Map<string, MethodHandler>();
  const desiredListeners: ((u: DesiredUpdate) => void)[] = [];
  const connectionListeners: ConnectionListener[] = [];
  const sent: SentMessage[] = [];
  const reported: Record<string, unknown> = {};
  let failSends = 0;
  let opened = false;

  const mergeInto = (target: Record<string, unknown>, patch: Record<string, unknown>): void => {
    for (const [k, v] of Object.entries(patch)) {
      if (v === null) delete target[k];
      else if (typeof v === 'object' && !Array.isArray(v)) {
        const existing = target[k];
        const next = typeof existing === 'object' && existing !== null && !Array.isArray(existing) ? (existing as Record<string, unknown>) : {};
        mergeInto(next, v as Record<string, unknown>);
        target[k] = next;
      } else target[k] = v;
    }
  };

  const client: MemoryEdgeClient = {
    deviceId: options.deviceId ?? 'test-device',
    moduleId: options.moduleId ?? 'test-module',
    sent,
    reported,
    get opened() {
      return opened;
    },
    open() {
      opened = true;
      for (const l of connectionListeners) l({ connected: true });
      const full: DesiredUpdate = { kind: 'full', properties: { $version: 1, ...(options.initialDesired ?? {}) } };
      for (const l of desiredListeners) l(full);
      return Promise.resolve();
    },
    close() {
      opened = false;
      return Promise.resolve();
    },
    onInput(name, handler) {
      inputs.set(name, handler);
    },
    sendOutput(outputName, message) {
      const body = bodyToBuffer(message.body);
      if (body.length > MAX_MESSAGE_BYTES) return Promise.reject(new EdgeMLError('MESSAGE_TOO_LARGE', `message is ${body.length} bytes`));
      if (failSends > 0) {
        failSends--;
        return Promise.reject(new EdgeMLError('EDGE_SEND_FAILED', 'simulated send failure'));
      }
      let json: unknown;
      try {
        json = JSON.parse(body.toString('utf8'));
      } catch {
        json = undefined;
      }
      sent.push({
        outputName,
        body,
        properties: { ...(message.properties ?? {}) },
        messageId: message.messageId,
        correlationId: message.correlationId,
        contentType: message.contentType ?? (Buffer.isBuffer(message.body) ? undefined : 'application/json'),
        json,
      });
      return Promise.resolve();
    },
    onMethod(name, handler) {
      methods.set(name, handler);
    },
    onDesired(listener) {
      desiredListeners.push(listener);
    },
    updateReported(patch) {
      const problems = reportedPatchProblems(patch);
      if (problems.length > 0) return Promise.reject(new EdgeMLError('MESSAGE_TOO_LARGE', `reported patch refused: ${problems.join('; ')}`));
      mergeInto(reported, JSON.parse(JSON.stringify(patch)) as Record<string, unknown>);
      return Promise.resolve();
    },
    onConnectionChange(listener) {
      connectionListeners.push(listener);
    },
    async deliver(inputName, body, properties = {}) {
      const handler = inputs.get(inputName);
      if (handler === undefined) throw new Error(`no handler for input ${inputName}`);
      const msg: IncomingMessage = { inputName, body: bodyToBuffer(body as OutgoingMessage['body']), properties, contentType: 'application/json', contentEncoding: 'utf-8' };
      await handler(msg);
    },
    async invoke(methodName, payload) {
      const handler = methods.get(methodName);
      if (handler === undefined) return { status: 404, payload: { error: `method ${methodName} not registered` } };
      return handler(payload);
    },
    pushDesired(update) {
      for (const l of desiredListeners) l(update);
    },
    failNextSends(n) {
      failSends = n;
    },
    sentTo(outputName) {
      return sent.filter((m) => m.outputName === outputName);
    },
  };
  return client;
}
