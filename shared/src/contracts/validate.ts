import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { EdgeMLError } from '../errors.js';
import type { ChainResultMessage, CropsMessage } from './chains.js';
import { type SCHEMAS, type AlertMessage, type ArtifactMessage, type CompletionMessage, type FileMessage, type HardExampleMessage, type InferenceResultMessage, type RolloutMessage, type SchemaId, type ShareFileEvent, type TensorMessage } from './messages.js';
import { MESSAGE_SCHEMAS, SHARE_FILE_EVENT_SCHEMA } from './schemas.js';

/** edgeHub refuses messages over 256 KiB (reference §6); we refuse them before parsing. */
export const MAX_MESSAGE_BYTES = 256 * 1024;

const ajv = new Ajv({ allErrors: true, strict: false });
const validators = new Map<string, ValidateFunction>();
for (const [id, schema] of Object.entries(MESSAGE_SCHEMAS)) validators.set(id, ajv.compile(schema));
const shareEventValidator = ajv.compile(SHARE_FILE_EVENT_SCHEMA);

/** Ajv errors as `"/path: message"` lines, every one of them. */
export function formatSchemaErrors(errors: readonly ErrorObject[] | null | undefined): string[] {
  return (errors ?? []).map((e) => {
    const where = e.instancePath === '' ? '(root)' : e.instancePath;
    const extra = e.keyword === 'additionalProperties' ? ` '${String((e.params as { additionalProperty?: unknown }).additionalProperty)}'` : '';
    return `${where}: ${e.message ?? e.keyword}${extra}`;
  });
}

interface SchemaTypes {
  [SCHEMAS.file]: FileMessage;
  [SCHEMAS.tensor]: TensorMessage;
  [SCHEMAS.artifact]: ArtifactMessage;
  [SCHEMAS.result]: InferenceResultMessage;
  [SCHEMAS.completion]: CompletionMessage;
  [SCHEMAS.alert]: AlertMessage;
  [SCHEMAS.hardExample]: HardExampleMessage;
  [SCHEMAS.rollout]: RolloutMessage;
  [SCHEMAS.crops]: CropsMessage;
  [SCHEMAS.chainResult]: ChainResultMessage;
}

/**
 * Decodes an input message body (JSON, UTF-8) and checks it against the contract `expected`.
 * @throws EdgeMLError MESSAGE_TOO_LARGE, MESSAGE_INVALID (with every schema problem in the message and `details.problems`)
 */
export function parseMessage<S extends SchemaId>(body: Buffer | string, expected: S): SchemaTypes[S] {
  const data = decodeJsonBody(body);
  const schema = (data as { schema?: unknown } | null)?.schema;
  if (schema !== expected) {
    throw new EdgeMLError('MESSAGE_INVALID', `expected schema ${expected}, got ${JSON.stringify(schema ?? null).slice(0, 100)}`, {
      details: { problems: [`/schema: must be ${expected}`] },
    });
  }
  const validate = validators.get(expected);
  if (validate === undefined) throw new EdgeMLError('INTERNAL', `no validator for ${expected}`);
  if (!validate(data)) {
    const problems = formatSchemaErrors(validate.errors);
    throw new EdgeMLError('MESSAGE_INVALID', `invalid ${expected} message: ${problems.join('; ')}`, { details: { problems } });
  }
  return data as SchemaTypes[S];
}

/** Checks an already-built message before sending (catches producer bugs in tests and at run time). */
export function assertValidMessage(message: { readonly schema: string }): void {
  const schemaName = message.schema;
  const validate = validators.get(schemaName);
  if (validate === undefined) throw new EdgeMLError('MESSAGE_INVALID', `unknown schema ${schemaName}`);
  if (!validate(message as unknown)) {
    const problems = formatSchemaErrors(validate.errors);
    throw new EdgeMLError('MESSAGE_INVALID', `invalid outgoing ${schemaName}: ${problems.join('; ')}`, { details: { problems } });
  }
}

/** Parses an Azure Stack Edge FileEvent body. @throws EdgeMLError MESSAGE_INVALID */
export function parseShareFileEvent(body: Buffer | string): ShareFileEvent {
  const data = decodeJsonBody(body);
  if (!shareEventValidator(data)) {
    const problems = formatSchemaErrors(shareEventValidator.errors);
    throw new EdgeMLError('MESSAGE_INVALID', `invalid FileEvent: ${problems.join('; ')}`, { details: { problems } });
  }
  return data as ShareFileEvent;
}

/** JSON body → value, with size and encoding checks. @throws EdgeMLError MESSAGE_TOO_LARGE, MESSAGE_INVALID */
export function decodeJsonBody(body: Buffer | string): unknown {
  const size = typeof body === 'string' ? Buffer.byteLength(body) : body.length;
  if (size > MAX_MESSAGE_BYTES) {
    throw new EdgeMLError('MESSAGE_TOO_LARGE', `message body is ${size} bytes; the limit is ${MAX_MESSAGE_BYTES}`);
  }
  const text = typeof body === 'string' ? body : body.toString('utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch (err: unknown) {
    throw new EdgeMLError('MESSAGE_INVALID', `message body is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
}
