/**
 * Direct methods. The SDK listener of a method is attached once the client is open (registering it
 * connects: wire notes §4); a handler's failure is answered 500 with its code, an unregistered method 404.
 */
import type { DeviceMethodRequest, DeviceMethodResponse, ModuleClient as SdkModuleClient } from 'azure-iot-device';
import { errorCode, errorMessage } from '../../errors.js';
import type { Logger } from '../../logging.js';
import type { MethodHandler } from '../types.js';
import type { ModuleClientState } from './state.js';

export interface ModuleMethodsOptions {
  readonly client: SdkModuleClient;
  readonly logger: Logger;
  readonly state: ModuleClientState;
}

export class ModuleMethods {
  readonly #o: ModuleMethodsOptions;
  readonly #handlers = new Map<string, MethodHandler>();
  /** Methods whose SDK listener is attached. */
  readonly #attached = new Set<string>();

  constructor(options: ModuleMethodsOptions) {
    this.#o = options;
  }

  /** Whether any SDK method listener is attached (then the methods subscription is renewed on a reopen). */
  get anyAttached(): boolean {
    return this.#attached.size > 0;
  }

  /** onMethod: a later handler for the same method replaces the earlier one. */
  register(methodName: string, handler: MethodHandler): void {
    this.#handlers.set(methodName, handler);
    this.#attach(methodName);
  }

  /** On open: attaches the listener of every method registered so far. */
  attachRegistered(): void {
    for (const name of this.#handlers.keys()) this.#attach(name);
  }

  #attach(name: string): void {
    if (!this.#o.state.isOpen || this.#attached.has(name)) return;
    this.#attached.add(name);
    this.#o.client.onMethod(name, (request?: DeviceMethodRequest, response?: DeviceMethodResponse) => {
      if (request === undefined || response === undefined) return;
      void this.#run(name, request).then((result) =>
        response.send(result.status, result.payload ?? null).catch((err: unknown) => {
          this.#o.logger.warn({ err, method: name }, `direct method response could not be sent: ${errorMessage(err)}`);
        }),
      );
    });
  }

  async #run(name: string, request: DeviceMethodRequest): Promise<{ status: number; payload: unknown }> {
    const handler = this.#handlers.get(name);
    if (handler === undefined) return { status: 404, payload: { code: 'METHOD_NOT_FOUND', message: `method ${name} is not registered` } };
    try {
      return await handler(request.payload === undefined ? null : (request.payload as unknown));
    } catch (err: unknown) {
      this.#o.logger.error({ err, method: name }, `direct method handler threw: ${errorMessage(err)}`);
      return { status: 500, payload: { code: errorCode(err), message: errorMessage(err) } };
    }
  }
}
