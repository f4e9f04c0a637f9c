import assert from 'node:assert/strict';

import {
  RouteCompileError,
  RouteConfigError,
  compileCondition,
  compileRoutes,
  type CompiledRouteTable,
  type RouteConditionResult,
  type RouteMessage,
  type RouteMessageSource,
} from '../../../../deployment/edge-hub/src/routes/index.js';

export interface MessageOptions {
  readonly source?: Partial<RouteMessageSource>;
  readonly props?: Record<string, string>;
  readonly sys?: Record<string, string>;
  readonly body?: Uint8Array | string;
}

/** A module output message from `filter/out1` unless told otherwise. */
export function message(options: MessageOptions = {}): RouteMessage {
  const body = options.body ?? '';
  return {
    source: { kind: 'telemetry', deviceId: 'dev1', moduleId: 'filter', outputName: 'out1', ...options.source },
    systemProperties: { connectionDeviceId: 'dev1', connectionModuleId: 'filter', outputName: 'out1', ...options.sys },
    properties: options.props ?? {},
    body: typeof body === 'string' ? Buffer.from(body, 'utf8') : body,
  };
}

/** A message whose body `$body` queries can see (application/json, utf-8). */
export function jsonMessage(body: unknown, options: MessageOptions = {}): RouteMessage {
  return message({
    ...options,
    sys: { contentType: 'application/json', contentEncoding: 'utf-8', ...options.sys },
    body: JSON.stringify(body),
  });
}

/** Evaluates a condition against a message. */
export function cond(condition: string, msg: RouteMessage = message()): RouteConditionResult {
  return compileCondition(condition).evaluate(msg);
}

/** Asserts that compiling the condition fails and returns the error. */
export function condError(condition: string): RouteCompileError {
  try {
    compileCondition(condition);
  } catch (error: unknown) {
    assert.ok(error instanceof RouteCompileError, `expected RouteCompileError, got ${String(error)}`);
    assert.equal(error.code, 'ROUTE_COMPILE_ERROR');
    return error;
  }
  assert.fail(`expected condition ${JSON.stringify(condition)} not to compile`);
}

/** A 1.1 table of the given string routes with a global TTL of 7200 s. */
export function table(routes: Record<string, unknown>, timeToLiveSecs = 7200): CompiledRouteTable {
  return compileRoutes({ schemaVersion: '1.1', routes, storeAndForwardConfiguration: { timeToLiveSecs } });
}

/** Asserts that compileRoutes rejects the desired properties and returns the error. */
export function configError(desired: unknown): RouteConfigError {
  try {
    compileRoutes(desired);
  } catch (error: unknown) {
    assert.ok(error instanceof RouteConfigError, `expected RouteConfigError, got ${String(error)}`);
    assert.equal(error.code, 'ROUTE_CONFIG_INVALID');
    return error;
  }
  assert.fail('expected the configuration to be rejected');
}

/** Compiles a single 1.1 route and returns its only problem (asserting there is exactly one: no follow-on errors). */
export function routeProblem(route: string, name = 'r1'): { message: string; column: number; line: number; routeName: string } {
  const error = configError({ schemaVersion: '1.1', routes: { [name]: route }, storeAndForwardConfiguration: { timeToLiveSecs: 10 } });
  assert.equal(error.problems.length, 1, error.message);
  const problem = error.problems[0];
  assert.ok(problem?.position !== undefined, `problem has no position: ${error.message}`);
  assert.ok(problem.routeName !== undefined);
  assert.ok(error.message.includes(`routes.${name}`), error.message);
  return { message: problem.message, column: problem.position.column, line: problem.position.line, routeName: problem.routeName };
}
