import assert from 'node:assert/strict';

import { compileRoutes, routeEndpoints } from '../../../../deployment/edge-hub/src/routes/index.js';
import { jsonMessage, message, table } from './helpers.js';

const toInfer = 'BrokeredEndpoint("/modules/infer/inputs/in1")';

describe('routes: evaluation, priority and TTL (§2.3, §2.5)', () => {
  it('delivers to every endpoint whose route matches', () => {
    const t = table({ cloud: 'FROM /messages/* INTO $upstream', infer: `FROM /messages/modules/filter/outputs/out1 INTO ${toInfer}` });
    assert.deepEqual(t.match(message()).map((m) => m.endpoint.id), ['$upstream', 'infer/in1']);
  });

  it('delivers at most once per endpoint, the lowest priority number winning with its TTL', () => {
    const t = table({
      slow: { route: 'FROM /messages/* INTO $upstream', priority: 5, timeToLiveSecs: 600 },
      fast: { route: "FROM /messages/modules/filter/* WHERE $outputName = 'out1' INTO $upstream", priority: 1, timeToLiveSecs: 60 },
      plain: 'FROM /* INTO $upstream',
    });
    assert.deepEqual(t.match(message()), [{ endpoint: { kind: 'upstream', id: '$upstream' }, priority: 1, timeToLiveSecs: 60, routeName: 'fast' }]);
  });

  it('keeps the first configured route on a priority tie', () => {
    const t = table({ first: { route: 'FROM /* INTO $upstream', priority: 3, timeToLiveSecs: 10 }, second: { route: 'FROM /* INTO $upstream', priority: 3, timeToLiveSecs: 20 } });
    assert.equal(t.match(message())[0]?.routeName, 'first');
  });

  it('a route without priority loses to any explicit priority', () => {
    const t = table({ none: 'FROM /* INTO $upstream', nine: { route: 'FROM /* INTO $upstream', priority: 9 } });
    assert.equal(t.match(message())[0]?.routeName, 'nine');
  });

  it('uses the global TTL when the winning route has TTL 0', () => {
    const t = table({ r: { route: 'FROM /* INTO $upstream', priority: 0 } }, 3600);
    assert.equal(t.match(message())[0]?.timeToLiveSecs, 3600);
  });

  it('a negative global TTL means never expire (Infinity)', () => {
    assert.equal(table({ r: 'FROM /* INTO $upstream' }, -1).match(message())[0]?.timeToLiveSecs, Number.POSITIVE_INFINITY);
  });

  it('schema 1.0 without storeAndForwardConfiguration uses edgeHub\'s default (never expire)', () => {
    const t = compileRoutes({ schemaVersion: '1.0', routes: { r: 'FROM /* INTO $upstream' } });
    assert.equal(t.match(message())[0]?.timeToLiveSecs, Number.POSITIVE_INFINITY);
  });

  it('routes only on True: False and Undefined conditions drop the message', () => {
    const t = table({ f: "FROM /* WHERE $connectionModuleId = 'other' INTO $upstream", u: `FROM /* WHERE missing = 'x' INTO ${toInfer}` });
    assert.deepEqual(t.match(message()), []);
  });

  it('drops a message no route selects', () => {
    assert.deepEqual(table({ r: 'FROM /messages/modules/other/* INTO $upstream' }).match(message()), []);
  });

  it('routes twin change notifications only from /* and /twinChangeNotifications', () => {
    const t = table({ all: 'FROM /* INTO $upstream', twin: `FROM /twinChangeNotifications INTO ${toInfer}`, msgs: 'FROM /messages/* INTO BrokeredEndpoint("/modules/x/inputs/y")' });
    const twinMessage = message({ source: { kind: 'twinChangeNotification' } });
    assert.deepEqual(t.match(twinMessage).map((m) => m.routeName), ['all', 'twin']);
  });

  it('evaluates $body routes per message', () => {
    const t = table({ defects: `FROM /messages/modules/filter/outputs/* WHERE $body.label = 'defect' INTO ${toInfer}` });
    assert.equal(t.match(jsonMessage({ label: 'defect' })).length, 1);
    assert.equal(t.match(jsonMessage({ label: 'ok' })).length, 0);
    assert.equal(t.match(message({ body: '{"label":"defect"}' })).length, 0);
  });

  it('returns frozen results', () => {
    const result = table({ r: 'FROM /* INTO $upstream' }).match(message());
    assert.ok(Object.isFrozen(result) && Object.isFrozen(result[0]));
  });

  it('CompiledRoute.matches and condition.evaluate agree with the table', () => {
    const t = table({ r: "FROM /messages/modules/filter/* WHERE as_number(temp) > 30 INTO $upstream" });
    const route = t.routes[0];
    assert.ok(route !== undefined);
    const hot = message({ props: { temp: '31' } });
    assert.equal(route.matches(hot), true);
    assert.equal(route.condition.evaluate(hot), 'true');
    assert.equal(route.condition.evaluate(message()), 'undefined');
  });
});

describe('routes: routeEndpoints', () => {
  it('lists source module/output and sink module/input per route, in order', () => {
    const t = table({
      a: `FROM /messages/modules/filter/outputs/out1 INTO ${toInfer}`,
      b: 'FROM /messages/modules/infer/outputs/* INTO $upstream',
      c: 'FROM /messages/modules/camera/* INTO BrokeredEndpoint("/modules/filter/inputs/frames")',
      d: 'FROM /messages/* INTO $upstream',
    });
    assert.deepEqual(routeEndpoints(t), [
      { routeName: 'a', source: { kind: 'output', moduleId: 'filter', outputName: 'out1' }, sink: { kind: 'module', id: 'infer/in1', moduleId: 'infer', inputName: 'in1' } },
      { routeName: 'b', source: { kind: 'moduleOutputs', moduleId: 'infer' }, sink: { kind: 'upstream', id: '$upstream' } },
      { routeName: 'c', source: { kind: 'module', moduleId: 'camera' }, sink: { kind: 'module', id: 'filter/frames', moduleId: 'filter', inputName: 'frames' } },
      { routeName: 'd', source: { kind: 'allMessages' }, sink: { kind: 'upstream', id: '$upstream' } },
    ]);
  });
});
