import assert from 'node:assert/strict';

import { RouteCompileError, compileRoutes } from '../../../../deployment/edge-hub/src/routes/index.js';
import { configError } from './helpers.js';

const saf = { timeToLiveSecs: 7200 };

describe('routes: $edgeHub desired properties (§3.3, §2.5, §2.6)', () => {
  it('schema 1.0: string routes, storeAndForwardConfiguration optional (absent = never expire)', () => {
    const t = compileRoutes({ schemaVersion: '1.0', routes: { r: 'FROM /* INTO $upstream' } });
    assert.equal(t.schemaVersion, '1.0');
    assert.equal(t.storeAndForward, undefined);
    assert.equal(t.globalTimeToLiveSecs, Number.POSITIVE_INFINITY);
    assert.equal(t.routes[0]?.priority, 2_000_000_000);
    assert.equal(t.routes[0]?.timeToLiveSecs, 0);
  });

  it('schema 1.0: routes may be absent; null and blank routes are skipped with a warning', () => {
    assert.equal(compileRoutes({ schemaVersion: '1.0' }).routes.length, 0);
    const t = compileRoutes({ schemaVersion: '1.0', routes: { a: null, b: '  ', c: 'FROM /* INTO $upstream' } });
    assert.deepEqual(t.routes.map((r) => r.name), ['c']);
    assert.equal(t.warnings.length, 2);
  });

  it('schema 1.0: rejects route objects', () => {
    const error = configError({ schemaVersion: '1.0', routes: { r: { route: 'FROM /* INTO $upstream' } } });
    assert.match(error.problems[0]?.message ?? '', /need schemaVersion 1.1/);
  });

  it('schema 1.1: route objects with priority and timeToLiveSecs, and string routes', () => {
    const t = compileRoutes({
      schemaVersion: '1.1',
      routes: { a: { route: 'FROM /* INTO $upstream', priority: 0, timeToLiveSecs: 30 }, b: 'FROM /* INTO $upstream', c: { route: 'FROM /* INTO $upstream' } },
      storeAndForwardConfiguration: saf,
    });
    assert.deepEqual(t.routes.map((r) => [r.name, r.priority, r.timeToLiveSecs]), [['a', 0, 30], ['b', 2_000_000_000, 0], ['c', 2_000_000_000, 0]]);
    assert.deepEqual(t.storeAndForward, { timeToLiveSecs: 7200 });
    assert.equal(t.globalTimeToLiveSecs, 7200);
  });

  it('schema 1.2 and 1.3 are accepted; mqttBroker and integrity are not interpreted', () => {
    for (const schemaVersion of ['1.2', '1.3', '1.1.0']) {
      const t = compileRoutes({ schemaVersion, routes: {}, storeAndForwardConfiguration: saf, mqttBroker: { bridges: [] }, integrity: {} });
      assert.equal(t.schemaVersion, schemaVersion);
    }
  });

  it('rejects missing, malformed and unsupported schema versions', () => {
    for (const schemaVersion of [undefined, '0.1', '1.4', '2.0', '2.0.1', 'one', 1.1, '1']) {
      const error = configError({ schemaVersion, routes: {}, storeAndForwardConfiguration: saf });
      assert.equal(error.problems[0]?.path, 'schemaVersion', String(schemaVersion));
    }
  });

  it('schema 1.1+: routes and storeAndForwardConfiguration are required', () => {
    const error = configError({ schemaVersion: '1.2' });
    assert.deepEqual(error.problems.map((p) => p.path), ['routes', 'storeAndForwardConfiguration']);
  });

  it('reads storeLimits.maxSizeBytes and negative TTLs (never expire)', () => {
    const t = compileRoutes({
      schemaVersion: '1.3',
      routes: {},
      storeAndForwardConfiguration: { timeToLiveSecs: -1, storeLimits: { maxSizeBytes: 1_048_576 } },
    });
    assert.deepEqual(t.storeAndForward, { timeToLiveSecs: -1, storeLimits: { maxSizeBytes: 1_048_576 } });
    assert.equal(t.globalTimeToLiveSecs, Number.POSITIVE_INFINITY);
  });

  it('warns that a missing storeAndForwardConfiguration.timeToLiveSecs means 0 in edgeHub', () => {
    const t = compileRoutes({ schemaVersion: '1.1', routes: {}, storeAndForwardConfiguration: {} });
    assert.equal(t.globalTimeToLiveSecs, 0);
    assert.equal(t.warnings[0]?.path, 'storeAndForwardConfiguration.timeToLiveSecs');
  });

  it('rejects bad store-and-forward values', () => {
    const error = configError({
      schemaVersion: '1.1',
      routes: {},
      storeAndForwardConfiguration: { timeToLiveSecs: 1.5, storeLimits: { maxSizeBytes: -1 } },
    });
    assert.deepEqual(error.problems.map((p) => p.path), [
      'storeAndForwardConfiguration.timeToLiveSecs',
      'storeAndForwardConfiguration.storeLimits.maxSizeBytes',
    ]);
  });

  it('accepts priority 0–9 and 2000000000, rejects anything else', () => {
    for (const priority of [0, 9, 2_000_000_000]) {
      compileRoutes({ schemaVersion: '1.1', routes: { r: { route: 'FROM /* INTO $upstream', priority } }, storeAndForwardConfiguration: saf });
    }
    for (const priority of [10, -1, 1.5, '1', null]) {
      const error = configError({ schemaVersion: '1.1', routes: { r: { route: 'FROM /* INTO $upstream', priority } }, storeAndForwardConfiguration: saf });
      assert.equal(error.problems[0]?.path, 'routes.r.priority', String(priority));
    }
  });

  it('accepts route TTL 0–4294967295, rejects anything else', () => {
    compileRoutes({ schemaVersion: '1.1', routes: { r: { route: 'FROM /* INTO $upstream', timeToLiveSecs: 4_294_967_295 } }, storeAndForwardConfiguration: saf });
    for (const timeToLiveSecs of [-1, 4_294_967_296, 2.5, '60']) {
      const error = configError({ schemaVersion: '1.1', routes: { r: { route: 'FROM /* INTO $upstream', timeToLiveSecs } }, storeAndForwardConfiguration: saf });
      assert.equal(error.problems[0]?.path, 'routes.r.timeToLiveSecs', String(timeToLiveSecs));
    }
  });

  it('rejects malformed route specifications and blank routes in 1.1+', () => {
    const error = configError({ schemaVersion: '1.1', routes: { a: 5, b: null, c: [], d: '   ', e: { route: '' }, f: { priority: 1 } }, storeAndForwardConfiguration: saf });
    assert.deepEqual(error.problems.map((p) => p.path), ['routes.a', 'routes.b', 'routes.c', 'routes.d', 'routes.e.route', 'routes.f.route']);
    assert.match(error.problems[0]?.message ?? '', /Malformed route specification/);
  });

  it("rejects route names that are empty or contain '.', '$', '#' or a space", () => {
    const routes = { '': 'FROM /* INTO $upstream', 'a.b': 'FROM /* INTO $upstream', $x: 'FROM /* INTO $upstream', 'a b': 'FROM /* INTO $upstream', 'a#': 'FROM /* INTO $upstream' };
    const error = configError({ schemaVersion: '1.1', routes, storeAndForwardConfiguration: saf });
    assert.equal(error.problems.length, 5);
  });

  it('ignores twin metadata keys such as $version', () => {
    const t = compileRoutes({ schemaVersion: '1.1', routes: {}, storeAndForwardConfiguration: saf, $version: 4, $metadata: {} });
    assert.equal(t.routes.length, 0);
  });

  it('rejects a non-object', () => {
    for (const value of [null, 'x', [], 3]) assert.equal(configError(value).problems[0]?.path, '$');
  });

  it('lists every problem at once, route compile errors with name and position, cause = first RouteCompileError', () => {
    const error = configError({
      schemaVersion: '1.1',
      routes: {
        bad1: 'FROM /x WHERE temp > 30 INTO $upstream',
        good: 'FROM /* INTO $upstream',
        bad2: { route: 'FROM /x INTO $cloud', priority: 12 },
      },
      storeAndForwardConfiguration: { timeToLiveSecs: 'long' },
    });
    assert.deepEqual(error.problems.map((p) => p.path), [
      'routes.bad2.priority',
      'storeAndForwardConfiguration.timeToLiveSecs',
      'routes.bad1',
    ]);
    assert.equal(error.problems[2]?.routeName, 'bad1');
    assert.equal(error.problems[2]?.position?.column, 20);
    assert.ok(error.cause instanceof RouteCompileError);
    assert.equal(error.cause.routeName, 'bad1');
    assert.match(error.message, /3 problems/);
  });

  it('freezes the table, its routes and its results', () => {
    const t = compileRoutes({ schemaVersion: '1.1', routes: { r: 'FROM /* INTO $upstream' }, storeAndForwardConfiguration: saf });
    assert.ok(Object.isFrozen(t) && Object.isFrozen(t.routes) && Object.isFrozen(t.storeAndForward) && Object.isFrozen(t.warnings));
  });

  it('accepts JSON input with a __proto__ route name as a plain name', () => {
    const desired: unknown = JSON.parse('{"schemaVersion":"1.1","routes":{"__proto__":"FROM /* INTO $upstream"},"storeAndForwardConfiguration":{"timeToLiveSecs":1}}');
    assert.deepEqual(compileRoutes(desired).routes.map((r) => r.name), ['__proto__']);
  });
});
