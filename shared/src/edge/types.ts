/**
 * The seam between a module and edgeHub. The real implementation (module-client.ts) is the only
 * file that loads azure-iot-device (its parts in module-client/ use the SDK's types only); memory.ts
 * is an in-memory double for unit tests that implements the same interface.
 */

export interface OutgoingMessage {
  /** Objects are sent as JSON (content type application/json, encoding utf-8). */
  readonly body: Buffer | string | object;
  /** Application properties, for route WHERE clauses. Values are strings on the wire. */
  readonly properties?: Readonly<Record<string, string>>;
  readonly messageId?: string;
  readonly correlationId?: string;
  readonly contentType?: string;
  readonly contentEncoding?: string;
}

export interface IncomingMessage {
  readonly inputName: string;
  readonly body: Buffer;
  readonly properties: Readonly<Record<string, string>>;
  readonly messageId?: string;
  readonly correlationId?: string;
  readonly contentType?: string;
  readonly contentEncoding?: string;
}

/**
 * Handles one input message. It must end in an explicit outcome (forwarded, dead-lettered with a
 * reason, or retried) and should not throw; a throw is logged as a module bug.
 */
export type InputHandler = (message: IncomingMessage) => Promise<void>;

export interface MethodResponse {
  /** HTTP-like status: 200 ok, 400 bad payload, 404 unknown, 500 failure, 503 not ready. */
  readonly status: number;
  readonly payload: unknown;
}

/** Receives the parsed JSON request payload (null when there is none). */
export type MethodHandler = (payload: unknown) => Promise<MethodResponse>;

/**
 * Desired properties as received: `full` after every (re)connect (a complete re-read, so changes
 * made while offline are never lost), `patch` for each live delta. Both include `$version`.
 */
export interface DesiredUpdate {
  readonly kind: 'full' | 'patch';
  readonly properties: Readonly<Record<string, unknown>>;
  /**
   * Problems found before validation (a mounted configuration file that does not parse or cannot be
   * read): the binder rejects the update with them and keeps the configuration in force.
   */
  readonly problems?: readonly string[];
}

export type ConnectionListener = (state: { connected: boolean; reason?: string }) => void;

export interface EdgeClient {
  readonly deviceId: string;
  readonly moduleId: string;
  /** Opens the connection (retrying with backoff until `signal` aborts) and reads the full twin. */
  open(signal?: AbortSignal): Promise<void>;
  /** Idempotent. */
  close(): Promise<void>;
  onInput(inputName: string, handler: InputHandler): void;
  /** Resolves once edgeHub has accepted the message (PUBACK). @throws EdgeMLError EDGE_SEND_FAILED, MESSAGE_TOO_LARGE */
  sendOutput(outputName: string, message: OutgoingMessage): Promise<void>;
  onMethod(methodName: string, handler: MethodHandler): void;
  onDesired(listener: (update: DesiredUpdate) => void): void;
  /** Merge-patch of reported properties. @throws EdgeMLError MESSAGE_TOO_LARGE (over 32 KiB), TWIN_UPDATE_FAILED */
  updateReported(patch: Readonly<Record<string, unknown>>): Promise<void>;
  onConnectionChange(listener: ConnectionListener): void;
}

/** Reported-properties patches above this are refused by edgeHub (reference §6). */
export const MAX_REPORTED_PATCH_BYTES = 32 * 1024;

/**
 * Problems with a reported-properties patch under IoT Hub's twin rules: keys non-empty, at most
 * 1 KiB, no '.', '$', ' ' or control characters; depth at most 10 (we also refuse >32 KiB in total).
 */
export function reportedPatchProblems(patch: unknown): string[] {
  const problems: string[] = [];
  const size = Buffer.byteLength(JSON.stringify(patch) ?? '');
  if (size > MAX_REPORTED_PATCH_BYTES) problems.push(`patch is ${size} bytes; the limit is ${MAX_REPORTED_PATCH_BYTES}`);
  const walk = (value: unknown, where: string, depth: number): void => {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return;
    if (depth > 10) {
      problems.push(`${where}: nesting deeper than 10 levels`);
      return;
    }
    for (const [key, v] of Object.entries(value)) {
      // eslint-disable-next-line no-control-regex
      if (key.length === 0 || Buffer.byteLength(key) > 1024 || /[.$ \u0000-\u001f]/.test(key)) {
        problems.push(`${where}/${key.slice(0, 64)}: invalid key (empty, over 1 KiB, or containing '.', '$', space or a control character)`);
      }
      walk(v, `${where}/${key.slice(0, 64)}`, depth + 1);
    }
  };
  walk(patch, '', 1);
  return problems;
}
