/**
 * The real {@link EdgeClient}: azure-iot-device's ModuleClient over MQTT. This is the only file in
 * the suite that imports azure-iot-device / azure-iot-device-mqtt.
 *
 * Facts this adapter is built on (docs/reference/moduleclient-wire-notes.md, "wire notes"):
 * - the first `open()` is never retried by the SDK (§2), so we retry it with our own backoff;
 * - after a connection loss the SDK reconnects silently (no app-level event, §7) and, after a
 *   broker restart, desired patches sent while it was away are lost: so every (re)connect is
 *   followed by a full twin re-read, delivered as `{ kind: 'full' }`;
 * - registering any SDK listener opens a connection (§4), so listeners are only attached once
 *   `open()` has connected;
 * - `getTwin()` and reported updates have no timeout in the SDK (§7), so we add one;
 * - when the SDK gives up (its final `disconnect`, at once on a TCP reset, §7) we reopen with our own
 *   backoff, and then subscribe inputs, methods and desired patches again ourselves (resubscribe.ts):
 *   `open()` subscribes nothing, and a hub without the module's session would otherwise send none;
 *   after the SDK's own reconnects we subscribe desired patches again, which it never does (§7).
 */
import { readFile } from 'node:fs/promises';
// azure-iot-device is CommonJS: under ESM named imports type-check but fail at runtime (STYLE #13).
import azureIotDevice from 'azure-iot-device';
import azureIotDeviceMqtt from 'azure-iot-device-mqtt';
import type { DeviceMethodRequest, DeviceMethodResponse, Message as SdkMessage, ModuleClient as SdkModuleClient, Twin } from 'azure-iot-device';
import { EdgeMLError, errorCode, errorMessage, isEdgeMLError } from '../errors.js';
import { createRepeatLimiter, type Logger } from '../logging.js';
import { retry, sleep, type BackoffOptions } from '../retry.js';
import { MAX_MESSAGE_BYTES } from '../contracts/validate.js';
import { encodeOutgoing, messageSizeBytes } from './outgoing.js';
import { resubscribe, type ListenedFeatures } from './resubscribe.js';
import { reportedPatchProblems } from './types.js';
import type { ConnectionListener, DesiredUpdate, EdgeClient, IncomingMessage, InputHandler, MethodHandler, OutgoingMessage } from './types.js';

const { ModuleClient, Message, IotEdgeAuthenticationProvider, ConnectionString } = azureIotDevice;
const { Mqtt } = azureIotDeviceMqtt;

/** Timings of the adapter. Units in the names; the defaults are what production uses. */
export const MODULE_CLIENT_DEFAULTS = {
  /** Backoff between attempts to open the connection (first open and after the SDK gives up). */
  openBackoff: { initialDelayMs: 200, maxDelayMs: 10_000, multiplier: 2, jitterRatio: 0.5 },
  /** A twin GET that gets no answer within this is retried (the SDK never times it out). */
  twinReadTimeoutMs: 15_000,
  /** A reported-properties update with no answer within this fails with TWIN_UPDATE_FAILED. */
  reportedUpdateTimeoutMs: 30_000,
  /** close() waits this long for input handlers still running, so the outcomes they send still go out. */
  handlerDrainTimeoutMs: 10_000,
} as const;

/** Input messages held for inputs whose handler is not registered yet; beyond this they are dropped (logged). */
const MAX_PENDING_INPUT_MESSAGES = 256;

export interface ModuleClientOptions {
  readonly openBackoff?: BackoffOptions;
  readonly twinReadTimeoutMs?: number;
  readonly reportedUpdateTimeoutMs?: number;
  readonly handlerDrainTimeoutMs?: number;
}

/** The environment variables the edge (workload API) path needs; GATEWAYHOSTNAME is optional. */
const EDGE_ENV_REQUIRED = [
  'IOTEDGE_WORKLOADURI',
  'IOTEDGE_DEVICEID',
  'IOTEDGE_MODULEID',
  'IOTEDGE_IOTHUBHOSTNAME',
  'IOTEDGE_AUTHSCHEME',
  'IOTEDGE_MODULEGENERATIONID',
] as const;

/**
 * Builds the edge client from the environment, without connecting (`open(signal)` connects).
 *
 * - `EdgeHubConnectionString` (or `IotHubConnectionString`) set: the connection-string path, with
 *   the CA PEM read from `EdgeModuleCACertificateFile` when set (the local edge hub and tests; several
 *   modules can live in one process because nothing is read from `process.env`).
 * - otherwise the production path: `IOTEDGE_WORKLOADURI`, `IOTEDGE_DEVICEID`, `IOTEDGE_MODULEID`,
 *   `IOTEDGE_IOTHUBHOSTNAME`, `IOTEDGE_AUTHSCHEME` (= sasToken), `IOTEDGE_MODULEGENERATIONID`, optional
 *   `IOTEDGE_GATEWAYHOSTNAME`; the CA comes from the workload API trust bundle and tokens are signed
 *   by the workload API. These are the steps `ModuleClient.fromEnvironment(Mqtt)` takes, done from the
 *   injected `env` rather than `process.env` (which `fromEnvironment` reads, and where a stray
 *   connection string would silently switch paths).
 *
 * @throws EdgeMLError CONFIG_INVALID (every missing/invalid variable listed, or the CA file unreadable),
 *   EDGE_CONNECT_FAILED (the workload API trust bundle could not be fetched).
 */
export async function createEdgeClientFromEnvironment(
  logger: Logger,
  env: Readonly<Record<string, string | undefined>>,
  options: ModuleClientOptions = {},
): Promise<EdgeClient> {
  const connectionString = nonEmpty(env['EdgeHubConnectionString']) ?? nonEmpty(env['IotHubConnectionString']);
  if (connectionString !== undefined) {
    let parsed: { DeviceId?: string; ModuleId?: string; SharedAccessKey?: string };
    try {
      parsed = ConnectionString.parse(connectionString) as typeof parsed;
    } catch (err: unknown) {
      throw new EdgeMLError('CONFIG_INVALID', 'EdgeHubConnectionString does not parse', { cause: err });
    }
    const problems: string[] = [];
    if (nonEmpty(parsed.DeviceId) === undefined) problems.push('EdgeHubConnectionString has no DeviceId');
    if (nonEmpty(parsed.ModuleId) === undefined) problems.push('EdgeHubConnectionString has no ModuleId');
    if (nonEmpty(parsed.SharedAccessKey) === undefined) problems.push('EdgeHubConnectionString has no SharedAccessKey (modules support SAS keys only)');
    if (problems.length > 0) throw new EdgeMLError('CONFIG_INVALID', problems.join('; '));
    const caFile = nonEmpty(env['EdgeModuleCACertificateFile']);
    let ca: string | undefined;
    if (caFile !== undefined) {
      try {
        ca = await readFile(caFile, 'utf8');
      } catch (err: unknown) {
        throw new EdgeMLError('CONFIG_INVALID', `EdgeModuleCACertificateFile ${caFile} cannot be read: ${errorMessage(err)}`, { cause: err });
      }
    }
    const client = ModuleClient.fromConnectionString(connectionString, Mqtt);
    // setOptions replaces the transport options object (wire notes §2): `ca` goes in this one call.
    if (ca !== undefined) await client.setOptions({ ca });
    logger.info({ path: 'connectionString', deviceId: parsed.DeviceId, moduleId: parsed.ModuleId, caFile }, 'edge client created');
    return wrapModuleClient(client, { deviceId: parsed.DeviceId ?? '', moduleId: parsed.ModuleId ?? '', logger, options });
  }

  const missing = EDGE_ENV_REQUIRED.filter((k) => nonEmpty(env[k]) === undefined).map((k) => `${k} is not set`);
  const authScheme = env['IOTEDGE_AUTHSCHEME'];
  if (authScheme !== undefined && authScheme !== '' && authScheme.toLowerCase() !== 'sastoken') missing.push(`IOTEDGE_AUTHSCHEME is ${authScheme}; only sasToken is supported`);
  if (missing.length > 0) {
    throw new EdgeMLError('CONFIG_INVALID', `no EdgeHubConnectionString and the IoT Edge environment is incomplete: ${missing.join('; ')}`);
  }
  const authConfig = {
    workloadUri: env['IOTEDGE_WORKLOADURI'] ?? '',
    deviceId: env['IOTEDGE_DEVICEID'] ?? '',
    moduleId: env['IOTEDGE_MODULEID'] ?? '',
    iothubHostName: env['IOTEDGE_IOTHUBHOSTNAME'] ?? '',
    authScheme: env['IOTEDGE_AUTHSCHEME'] ?? '',
    generationId: env['IOTEDGE_MODULEGENERATIONID'] ?? '',
    ...(nonEmpty(env['IOTEDGE_GATEWAYHOSTNAME']) === undefined ? {} : { gatewayHostName: env['IOTEDGE_GATEWAYHOSTNAME'] ?? '' }),
  };
  const provider = new IotEdgeAuthenticationProvider(authConfig);
  const ca = await new Promise<string>((resolve, reject) => {
    provider.getTrustBundle((err, bundle) => {
      if (err !== undefined && err !== null) reject(new EdgeMLError('EDGE_CONNECT_FAILED', `workload API trust bundle: ${errorMessage(err)}`, { cause: err }));
      else resolve(bundle ?? '');
    });
  });
  const client = ModuleClient.fromAuthenticationProvider(provider, Mqtt);
  await client.setOptions({ ca });
  logger.info({ path: 'workloadApi', deviceId: authConfig.deviceId, moduleId: authConfig.moduleId, workloadUri: authConfig.workloadUri }, 'edge client created');
  return wrapModuleClient(client, { deviceId: authConfig.deviceId, moduleId: authConfig.moduleId, logger, options });
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value;
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new EdgeMLError('TIMEOUT', `${what}: no answer within ${ms} ms`)), ms);
    promise.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err instanceof Error ? err : new Error(errorMessage(err)));
      },
    );
  });
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

function wrapModuleClient(
  client: SdkModuleClient,
  ctx: { deviceId: string; moduleId: string; logger: Logger; options: ModuleClientOptions },
): EdgeClient {
  const { logger } = ctx;
  const openBackoff = ctx.options.openBackoff ?? MODULE_CLIENT_DEFAULTS.openBackoff;
  const twinReadTimeoutMs = ctx.options.twinReadTimeoutMs ?? MODULE_CLIENT_DEFAULTS.twinReadTimeoutMs;
  const reportedUpdateTimeoutMs = ctx.options.reportedUpdateTimeoutMs ?? MODULE_CLIENT_DEFAULTS.reportedUpdateTimeoutMs;
  const handlerDrainTimeoutMs = ctx.options.handlerDrainTimeoutMs ?? MODULE_CLIENT_DEFAULTS.handlerDrainTimeoutMs;
  // Every input handler's promise is awaited here: a failure is logged as the bug it is, and close()
  // lets handlers still running send their outcome. Handlers are not serialised: the SDK has already
  // acknowledged the message (wire notes §5), so queueing here would only move the backlog into this
  // client; a module bounds its own intake and answers `deferred` when full.
  const runningHandlers = new Set<Promise<void>>();
  const inputs = new Map<string, InputHandler>();
  const methods = new Map<string, MethodHandler>();
  const registeredMethods = new Set<string>();
  const desiredListeners: ((u: DesiredUpdate) => void)[] = [];
  const connectionListeners: ConnectionListener[] = [];
  const shouldLog = createRepeatLimiter();
  const pendingInputs = new Map<string, SdkMessage[]>();
  let pendingInputCount = 0;
  const lifetime = new AbortController();
  let twin: Twin | undefined;
  let opened = false;
  let connected = false;
  let inputListenerAttached = false;
  let rereading: Promise<void> | undefined;
  let rereadAgain = false;
  let reopening: Promise<void> | undefined;
  let closing: Promise<void> | undefined;

  const setConnected = (value: boolean, reason?: string): void => {
    if (connected === value) return;
    connected = value;
    const state = reason === undefined ? { connected: value } : { connected: value, reason };
    for (const l of connectionListeners) {
      try {
        l(state);
      } catch (err: unknown) {
        logger.error({ err }, 'connection listener threw');
      }
    }
  };

  const emitDesired = (update: DesiredUpdate): void => {
    for (const l of desiredListeners) {
      try {
        l(update);
      } catch (err: unknown) {
        logger.error({ err }, 'desired listener threw');
      }
    }
  };

  const readFullTwin = async (signal: AbortSignal): Promise<void> => {
    const t = await retry(
      async () => {
        // The SDK creates its Twin on first use and reuses it; get() re-reads into a fresh cache.
        const current = twin ?? (await withTimeout(client.getTwin(), twinReadTimeoutMs, 'twin GET'));
        if (twin === undefined) twin = current;
        else await withTimeout(current.get(), twinReadTimeoutMs, 'twin GET');
        return current;
      },
      {
        ...openBackoff,
        signal,
        onRetry: ({ attempt, delayMs, err }) => logger.warn({ attempt, delayMs, err }, `twin read failed, retrying: ${errorMessage(err)}`),
      },
    );
    const desired = structuredClone(t.properties.desired) as Record<string, unknown>;
    logger.info({ desiredVersion: desired['$version'] }, 'twin read');
    emitDesired({ kind: 'full', properties: desired });
  };

  /** Re-reads the twin after a reconnect; concurrent requests coalesce into one more read. */
  const scheduleReread = (): void => {
    if (!opened || lifetime.signal.aborted) return;
    if (rereading !== undefined) {
      rereadAgain = true;
      return;
    }
    rereading = (async () => {
      do {
        rereadAgain = false;
        try {
          await readFullTwin(lifetime.signal);
        } catch (err: unknown) {
          if (!lifetime.signal.aborted) logger.error({ err }, `twin re-read after reconnect failed: ${errorMessage(err)}`);
          return;
        }
      } while (rereadAgain && !lifetime.signal.aborted);
    })().finally(() => {
      rereading = undefined;
    });
  };

  const onSdkInput = (inputName: string, msg: SdkMessage): void => {
    const handler = inputs.get(inputName);
    if (handler === undefined) {
      // One subscription covers every input and the PUBACK is already sent (wire notes §5): a message for an
      // input whose handler is not registered yet is held (bounded) rather than lost.
      if (pendingInputCount < MAX_PENDING_INPUT_MESSAGES) {
        const list = pendingInputs.get(inputName) ?? [];
        list.push(msg);
        pendingInputs.set(inputName, list);
        pendingInputCount++;
      } else {
        const r = shouldLog(`no-handler:${inputName}`);
        if (r.log) logger.warn({ inputName, suppressed: r.suppressed, held: pendingInputCount }, 'input message for an input with no handler and the hold buffer is full; dropped');
      }
      return;
    }
    let incoming: IncomingMessage;
    try {
      incoming = toIncoming(inputName, msg);
    } catch (err: unknown) {
      logger.error({ err, inputName }, 'input message could not be read; dropped');
      return;
    }
    const running = (async () => {
      try {
        await handler(incoming);
      } catch (err: unknown) {
        logger.error({ err, inputName, messageId: incoming.messageId, code: errorCode(err) }, `input handler threw (a module bug: handlers must end in an outcome): ${errorMessage(err)}`);
      }
    })();
    runningHandlers.add(running);
    void running.finally(() => runningHandlers.delete(running));
  };

  const attachInputListener = (): void => {
    if (inputListenerAttached || !opened || inputs.size === 0) return;
    inputListenerAttached = true;
    client.on('inputMessage', onSdkInput);
  };

  const attachMethod = (name: string): void => {
    if (!opened || registeredMethods.has(name)) return;
    registeredMethods.add(name);
    client.onMethod(name, (request?: DeviceMethodRequest, response?: DeviceMethodResponse) => {
      if (request === undefined || response === undefined) return;
      const handler = methods.get(name);
      const run = async (): Promise<{ status: number; payload: unknown }> => {
        if (handler === undefined) return { status: 404, payload: { code: 'METHOD_NOT_FOUND', message: `method ${name} is not registered` } };
        try {
          return await handler(request.payload === undefined ? null : (request.payload as unknown));
        } catch (err: unknown) {
          logger.error({ err, method: name }, `direct method handler threw: ${errorMessage(err)}`);
          return { status: 500, payload: { code: errorCode(err), message: errorMessage(err) } };
        }
      };
      void run().then((result) =>
        response.send(result.status, result.payload ?? null).catch((err: unknown) => {
          logger.warn({ err, method: name }, `direct method response could not be sent: ${errorMessage(err)}`);
        }),
      );
    });
  };

  /** Subscribes again what the SDK does not, then re-reads the full twin (changes made meanwhile are in it). */
  const subscribeAgainThenReread = (features: ListenedFeatures, what: string): void => {
    void resubscribe(client._transport, features, { logger, timeoutMs: twinReadTimeoutMs, what }).then(scheduleReread);
  };

  // Every (re)connect of the transport: the first one is handled by open(), one of our reopen by the reopen
  // (below); the others are the SDK's silent reconnects, after which it subscribes methods and inputs
  // again but never desired patches (wire notes §7).
  client.on('connect', () => {
    if (!opened) return;
    setConnected(true);
    if (reopening === undefined) subscribeAgainThenReread({ inputs: false, methods: false, desired: true }, 'reconnected');
  });
  // The SDK swallows retryable disconnects (wire notes §7); its transport still reports them.
  client._transport.on('disconnect', (err?: Error) => {
    if (!opened) return;
    setConnected(false, err === undefined ? 'transport disconnected' : errorMessage(err));
  });
  client._transport.on('twinDesiredPropertiesUpdate', (patch: unknown) => {
    if (!opened || patch === null || typeof patch !== 'object') return;
    emitDesired({ kind: 'patch', properties: structuredClone(patch) as Record<string, unknown> });
  });
  // The SDK's final disconnect: its own retry policy gave up. Keep trying with ours.
  client.on('disconnect', (result: unknown) => {
    if (!opened || lifetime.signal.aborted) return;
    const reason = errorMessage((result as { transportObj?: unknown } | undefined)?.transportObj ?? 'disconnected');
    setConnected(false, reason);
    logger.warn({ reason }, 'edgeHub connection lost and the SDK stopped retrying; reopening');
    reopening ??= retry(() => client.open(), {
      ...openBackoff,
      signal: lifetime.signal,
      onRetry: ({ attempt, delayMs, err }) => {
        const r = shouldLog('reopen');
        if (r.log) logger.warn({ attempt, delayMs, err, suppressed: r.suppressed }, `reopen failed: ${errorMessage(err)}`);
      },
    })
      .then(
        () => {
          // The SDK gave up re-enabling what it listens to (that is what its final disconnect reports) and
          // open() subscribes nothing: without this the module sat connected with no input, no direct
          // method and no desired patch (observed after a hub restart mid-startup, and after a TCP reset).
          subscribeAgainThenReread({ inputs: inputListenerAttached, methods: registeredMethods.size > 0, desired: true }, 'reopened after the SDK gave up');
        },
        (err: unknown) => {
          if (!lifetime.signal.aborted) logger.error({ err }, 'reopen gave up');
        },
      )
      .finally(() => {
        reopening = undefined;
      });
  });
  client.on('error', (err: unknown) => {
    const r = shouldLog('client-error');
    if (r.log) logger.warn({ err, suppressed: r.suppressed }, `edge client error: ${errorMessage(err)}`);
  });

  const edge: EdgeClient = {
    deviceId: ctx.deviceId,
    moduleId: ctx.moduleId,

    async open(signal?: AbortSignal): Promise<void> {
      if (closing !== undefined) throw new EdgeMLError('EDGE_CONNECT_FAILED', 'edge client is closed');
      if (opened) return;
      const combined = signal === undefined ? lifetime.signal : AbortSignal.any([signal, lifetime.signal]);
      const started = Date.now();
      try {
        await retry(() => client.open(), {
          ...openBackoff,
          signal: combined,
          onRetry: ({ attempt, delayMs, err }) => {
            const r = shouldLog('open');
            if (r.log) logger.warn({ attempt, delayMs, err, suppressed: r.suppressed }, `edgeHub connection failed, retrying: ${errorMessage(err)}`);
          },
        });
      } catch (err: unknown) {
        if (isEdgeMLError(err) && err.code === 'ABORTED') throw err;
        throw new EdgeMLError('EDGE_CONNECT_FAILED', `could not open the edgeHub connection: ${errorMessage(err)}`, { cause: err });
      }
      await readFullTwin(combined);
      opened = true;
      setConnected(true);
      // Keeps the SDK subscribed to desired patches and makes it reconnect by itself after a loss;
      // the patches themselves are taken from the transport event above (exactly one per PATCH).
      twin?.on('properties.desired', () => undefined);
      twin?.on('error', (err: unknown) => logger.warn({ err }, `twin error: ${errorMessage(err)}`));
      for (const name of methods.keys()) attachMethod(name);
      attachInputListener();
      logger.info({ elapsedMs: Date.now() - started }, 'connected to edgeHub');
    },

    close(): Promise<void> {
      closing ??= (async () => {
        client.removeAllListeners('inputMessage');
        if (runningHandlers.size > 0) {
          const left = runningHandlers.size;
          const deadline = new AbortController();
          const drained = await Promise.race([
            Promise.all([...runningHandlers]).then(() => true),
            sleep(handlerDrainTimeoutMs, deadline.signal).then(
              () => false,
              () => true,
            ),
          ]);
          deadline.abort();
          if (!drained) logger.warn({ handlers: left, handlerDrainTimeoutMs }, 'input handlers still running at close; the watcher re-emits what they held');
        }
        lifetime.abort();
        const wasOpen = opened;
        opened = false;
        try {
          await client.close();
        } catch (err: unknown) {
          logger.warn({ err }, `edge client close failed: ${errorMessage(err)}`);
        }
        if (wasOpen) {
          connected = true;
          setConnected(false, 'closed');
        }
      })();
      return closing;
    },

    onInput(inputName: string, handler: InputHandler): void {
      inputs.set(inputName, handler);
      const held = pendingInputs.get(inputName);
      if (held !== undefined) {
        pendingInputs.delete(inputName);
        pendingInputCount -= held.length;
        for (const msg of held) onSdkInput(inputName, msg);
      }
      attachInputListener();
    },

    async sendOutput(outputName: string, message: OutgoingMessage): Promise<void> {
      if (!opened) throw new EdgeMLError('EDGE_SEND_FAILED', `cannot send on ${outputName}: the edge client is not open`);
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
      const msg = new Message(body);
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
      try {
        await client.sendOutputEvent(outputName, msg);
      } catch (err: unknown) {
        throw new EdgeMLError('EDGE_SEND_FAILED', `send on ${outputName} failed: ${errorMessage(err)}`, { cause: err, details: { outputName, messageId: message.messageId } });
      }
    },

    onMethod(methodName: string, handler: MethodHandler): void {
      methods.set(methodName, handler);
      attachMethod(methodName);
    },

    onDesired(listener: (update: DesiredUpdate) => void): void {
      desiredListeners.push(listener);
    },

    async updateReported(patch: Readonly<Record<string, unknown>>): Promise<void> {
      const problems = reportedPatchProblems(patch);
      if (problems.length > 0) throw new EdgeMLError('MESSAGE_TOO_LARGE', `reported patch refused: ${problems.join('; ')}`, { details: { problems } });
      const t = twin;
      if (!opened || t === undefined) throw new EdgeMLError('TWIN_UPDATE_FAILED', 'cannot update reported properties: the edge client is not open');
      const update = new Promise<void>((resolve, reject) => {
        (t.properties.reported as unknown as { update(p: unknown, done: (err?: Error) => void): void }).update(structuredClone(patch), (err?: Error) => {
          if (err !== undefined && err !== null) reject(err);
          else resolve();
        });
      });
      try {
        await withTimeout(update, reportedUpdateTimeoutMs, 'reported properties update');
      } catch (err: unknown) {
        throw new EdgeMLError('TWIN_UPDATE_FAILED', `reported properties update failed: ${errorMessage(err)}`, { cause: err });
      }
    },

    onConnectionChange(listener: ConnectionListener): void {
      connectionListeners.push(listener);
    },
  };
  return edge;
}
