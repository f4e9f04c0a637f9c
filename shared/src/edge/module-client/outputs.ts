/** Module outputs: an {@link OutgoingMessage} checked against the message size limit, then sent as an SDK Message. */
import type { Message as SdkMessage, ModuleClient as SdkModuleClient } from 'azure-iot-device';
import { EdgeMLError, errorMessage } from '../../errors.js';
import { MAX_MESSAGE_BYTES } from '../../contracts/validate.js';
import { encodeOutgoing, messageSizeBytes } from '../outgoing.js';
import type { OutgoingMessage } from '../types.js';
import type { ModuleClientState } from './state.js';

export interface ModuleOutputsOptions {
  readonly client: SdkModuleClient;
  readonly state: ModuleClientState;
  /** The SDK's `new Message(body)` (module-client.ts is the only file that loads the SDK). */
  readonly newMessage: (body: Buffer) => SdkMessage;
}

export class ModuleOutputs {
  readonly #o: ModuleOutputsOptions;

  constructor(options: ModuleOutputsOptions) {
    this.#o = options;
  }

  /** @throws EdgeMLError EDGE_SEND_FAILED (not open, a property the SDK reserves, the send failed), MESSAGE_TOO_LARGE */
  async send(outputName: string, message: OutgoingMessage): Promise<void> {
    if (!this.#o.state.isOpen) throw new EdgeMLError('EDGE_SEND_FAILED', `cannot send on ${outputName}: the edge client is not open`);
    const msg = this.#toSdkMessage(outputName, message);
    try {
      await this.#o.client.sendOutputEvent(outputName, msg);
    } catch (err: unknown) {
      throw new EdgeMLError('EDGE_SEND_FAILED', `send on ${outputName} failed: ${errorMessage(err)}`, { cause: err, details: { outputName, messageId: message.messageId } });
    }
  }

  #toSdkMessage(outputName: string, message: OutgoingMessage): SdkMessage {
    const { body, contentType, contentEncoding, properties: props } = encodeOutgoing(message);
    const size = messageSizeBytes(body, {
      ...props,
      outputName,
      messageId: message.messageId,
      correlationId: message.correlationId,
      contentType,
      contentEncoding,
    });
    if (size > MAX_MESSAGE_BYTES) {
      throw new EdgeMLError('MESSAGE_TOO_LARGE', `message on ${outputName} is ${size} bytes with its properties; the limit is ${MAX_MESSAGE_BYTES}`, {
        details: { outputName, sizeBytes: size, messageId: message.messageId },
      });
    }
    const msg = this.#o.newMessage(body);
    if (message.messageId !== undefined) msg.messageId = message.messageId;
    if (message.correlationId !== undefined) msg.correlationId = message.correlationId;
    // The SDK types these as narrow unions; any string goes on the wire as $.ct / $.ce.
    if (contentType !== undefined) msg.contentType = contentType as SdkMessage['contentType'];
    if (contentEncoding !== undefined) msg.contentEncoding = contentEncoding as SdkMessage['contentEncoding'];
    for (const [k, v] of Object.entries(props)) {
      if (!msg.properties.add(k, String(v))) {
        throw new EdgeMLError('EDGE_SEND_FAILED', `property ${k} is reserved by the SDK and cannot be sent`);
      }
    }
    return msg;
  }
}
