/**
 * Module inputs. The SDK has one subscription for every input and has already acknowledged a message
 * when it hands it over (wire notes §5), so: a message for an input whose handler is not registered yet
 * is held (bounded) rather than lost; every handler's promise is awaited here, a failure logged as the bug
 * it is, and close() lets handlers still running send their outcome. Handlers are not serialised:
 * queueing here would only move the backlog into this client; a module bounds its own intake and answers
 * `deferred` when full.
 */
import type { Message as SdkMessage, ModuleClient as SdkModuleClient } from 'azure-iot-device';
import { errorCode, errorMessage } from '../../errors.js';
import type { createRepeatLimiter, Logger } from '../../logging.js';
import { sleep } from '../../retry.js';
import type { IncomingMessage, InputHandler } from '../types.js';
import type { ModuleClientState } from './state.js';

/** Input messages held for inputs whose handler is not registered yet; beyond this they are dropped (logged). */
const MAX_PENDING_INPUT_MESSAGES = 256;

export interface ModuleInputsOptions {
  readonly client: SdkModuleClient;
  readonly logger: Logger;
  readonly shouldLog: ReturnType<typeof createRepeatLimiter>;
  readonly state: ModuleClientState;
}

function toIncoming(inputName: string, msg: SdkMessage): IncomingMessage {
  const properties: Record<string, string> = {};
  const count = msg.properties.count();
  for (let i = 0; i < count; i++) {
    const item = msg.properties.getItem(i);
    properties[item.key] = String(item.value);
  }
  const data: unknown = msg.data;
  const body = Buffer.isBuffer(data) ? data : typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.alloc(0);
  return {
    inputName,
    body,
    properties,
    ...(msg.messageId ? { messageId: msg.messageId } : {}),
    ...(msg.correlationId ? { correlationId: msg.correlationId } : {}),
    ...(msg.contentType ? { contentType: msg.contentType } : {}),
    ...(msg.contentEncoding ? { contentEncoding: msg.contentEncoding } : {}),
  };
}

export class ModuleInputs {
  readonly #o: ModuleInputsOptions;
  readonly #handlers = new Map<string, InputHandler>();
  readonly #pending = new Map<string, SdkMessage[]>();
  #pendingCount = 0;
  readonly #running = new Set<Promise<void>>();
  #listenerAttached = false;

  constructor(options: ModuleInputsOptions) {
    this.#o = options;
  }

  /** Whether the SDK's input listener is attached (then the inputs subscription is renewed on a reopen). */
  get listenerAttached(): boolean {
    return this.#listenerAttached;
  }

  /** onInput: messages held for this input go to the handler now. */
  register(inputName: string, handler: InputHandler): void {
    this.#handlers.set(inputName, handler);
    const held = this.#pending.get(inputName);
    if (held !== undefined) {
      this.#pending.delete(inputName);
      this.#pendingCount -= held.length;
      for (const msg of held) this.#onSdkInput(inputName, msg);
    }
    this.attachListener();
  }

  /** Attaches the SDK listener once open with an input registered (registering it connects: wire notes §4). */
  attachListener(): void {
    if (this.#listenerAttached || !this.#o.state.isOpen || this.#handlers.size === 0) return;
    this.#listenerAttached = true;
    this.#o.client.on('inputMessage', this.#onSdkInput);
  }

  /** On close: no more messages are handed over. */
  detach(): void {
    this.#o.client.removeAllListeners('inputMessage');
  }

  /** Input handlers still running. */
  get running(): number {
    return this.#running.size;
  }

  /** On close: waits up to `timeoutMs` for the handlers still running, so the outcomes they send still go out. */
  async drain(timeoutMs: number): Promise<void> {
    const left = this.#running.size;
    const deadline = new AbortController();
    const drained = await Promise.race([
      Promise.all([...this.#running]).then(() => true),
      sleep(timeoutMs, deadline.signal).then(
        () => false,
        () => true,
      ),
    ]);
    deadline.abort();
    if (!drained) this.#o.logger.warn({ handlers: left, handlerDrainTimeoutMs: timeoutMs }, 'input handlers still running at close; the watcher re-emits what they held');
  }

  readonly #onSdkInput = (inputName: string, msg: SdkMessage): void => {
    const handler = this.#handlers.get(inputName);
    if (handler === undefined) {
      this.#hold(inputName, msg);
      return;
    }
    let incoming: IncomingMessage;
    try {
      incoming = toIncoming(inputName, msg);
    } catch (err: unknown) {
      this.#o.logger.error({ err, inputName }, 'input message could not be read; dropped');
      return;
    }
    const running = (async () => {
      try {
        await handler(incoming);
      } catch (err: unknown) {
        this.#o.logger.error({ err, inputName, messageId: incoming.messageId, code: errorCode(err) }, `input handler threw (a module bug: handlers must end in an outcome): ${errorMessage(err)}`);
      }
    })();
    this.#running.add(running);
    void running.finally(() => this.#running.delete(running));
  };

  /** One subscription covers every input and the PUBACK is already sent (wire notes §5): held, not lost. */
  #hold(inputName: string, msg: SdkMessage): void {
    if (this.#pendingCount < MAX_PENDING_INPUT_MESSAGES) {
      const list = this.#pending.get(inputName) ?? [];
      list.push(msg);
      this.#pending.set(inputName, list);
      this.#pendingCount++;
    } else {
      const r = this.#o.shouldLog(`no-handler:${inputName}`);
      if (r.log) this.#o.logger.warn({ inputName, suppressed: r.suppressed, held: this.#pendingCount }, 'input message for an input with no handler and the hold buffer is full; dropped');
    }
  }
}
