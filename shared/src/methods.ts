import { Ajv, type AnySchema } from 'ajv';
import { formatSchemaErrors } from './contracts/validate.js';
import { errorCode, errorMessage } from './errors.js';
import type { MethodHandler, MethodResponse } from './edge/types.js';
import type { Logger } from './logging.js';

const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false });

/** Direct-method payloads larger than this are refused (edgeHub's method payload limit is 128 KiB). */
export const MAX_METHOD_PAYLOAD_BYTES = 128 * 1024;

/**
 * Wraps a direct-method handler with payload validation: a payload that does not match `schema`
 * gets 400 with every problem listed; a throw becomes 500 with the error's code and message.
 * `null`/absent payloads are validated as `{}`.
 */
export function jsonMethod<P>(options: { schema: AnySchema; logger: Logger; handler: (payload: P) => Promise<unknown> }): MethodHandler {
  const validate = ajv.compile(options.schema);
  return async (raw: unknown): Promise<MethodResponse> => {
    const size = Buffer.byteLength(JSON.stringify(raw ?? null));
    if (size > MAX_METHOD_PAYLOAD_BYTES) {
      return { status: 400, payload: { code: 'METHOD_PAYLOAD_INVALID', problems: [`payload is ${size} bytes; the limit is ${MAX_METHOD_PAYLOAD_BYTES}`] } };
    }
    const payload = structuredClone(raw ?? {});
    if (!validate(payload)) {
      return { status: 400, payload: { code: 'METHOD_PAYLOAD_INVALID', problems: formatSchemaErrors(validate.errors) } };
    }
    try {
      return { status: 200, payload: (await options.handler(payload as P)) ?? {} };
    } catch (err: unknown) {
      options.logger.warn({ err }, 'direct method failed');
      return { status: 500, payload: { code: errorCode(err), message: errorMessage(err) } };
    }
  };
}

/** Schema for methods that take no arguments (`getStatus`, `flush`, …): an empty object or null. */
export const EMPTY_PAYLOAD_SCHEMA = { type: 'object', additionalProperties: false, maxProperties: 0 } as const;
