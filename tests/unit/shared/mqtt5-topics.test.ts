import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { inputForTopic, parseConfigDocument, parseMqtt5Settings, planTopics, routesFromDocument, selectedTransport, topicMatches } from '@edgeml/shared';
import { repoRoot } from '../../helpers/suite.js';

describe('MQTT 5 topic plan from the manifest routes', () => {
  it('translates deployment.template.json: every module-to-module route becomes a shared subscription, $upstream routes are listed', async () => {
    const doc = JSON.parse(await readFile(path.join(repoRoot, 'deployment.template.json'), 'utf8')) as unknown;
    const plan = planTopics(routesFromDocument(doc));
    assert.deepEqual(plan.inputs['transformer']?.map((s) => s.subscription), [
      '$share/transformer-files/edgeml/watcher/outputs/files',
      '$share/transformer-detections/edgeml/inferencer/outputs/results',
      '$share/transformer-orientations/edgeml/inferencer/outputs/orientations',
    ]);
    assert.deepEqual(plan.inputs['aggregator']?.map((s) => s.filter), ['edgeml/inferencer/outputs/readings', 'edgeml/transformer/outputs/crops']);
    assert.deepEqual(plan.inputs['uploader']?.map((s) => s.input).sort(), ['artifacts', 'results', 'results']);
    assert.deepEqual(plan.inputs['watcher']?.map((s) => s.filter).sort(), [
      'edgeml/aggregator/outputs/completed',
      'edgeml/inferencer/outputs/completed',
      'edgeml/transformer/outputs/completed',
      'edgeml/uploader/outputs/completed',
    ]);
    const high = plan.upstream.find((u) => u.route === 'highConfidenceResultsToUpstream');
    assert.deepEqual(high, { route: 'highConfidenceResultsToUpstream', filter: 'edgeml/inferencer/outputs/results', where: 'as_number(score) >= 0.9', priority: 0 });
  });

  it('maps wildcard sources and finds the input of a received topic', () => {
    const plan = planTopics({ all: 'FROM /messages/modules/a/outputs/* INTO BrokeredEndpoint("/modules/b/inputs/in")', any: 'FROM /messages/* INTO BrokeredEndpoint("/modules/c/inputs/x")' }, 'site/7');
    assert.equal(plan.inputs['b']?.[0]?.subscription, '$share/b-in/site/7/a/outputs/+');
    assert.equal(plan.inputs['c']?.[0]?.filter, 'site/7/+/outputs/+');
    assert.equal(inputForTopic(plan.inputs['b'] ?? [], 'site/7/a/outputs/anything'), 'in');
    assert.equal(inputForTopic(plan.inputs['b'] ?? [], 'site/7/z/outputs/anything'), undefined);
    assert.equal(topicMatches('a/#', 'a/b/c'), true);
    assert.equal(topicMatches('a/+', 'a/b/c'), false);
  });

  it('refuses what a subscription cannot express, listing every route', () => {
    assert.throws(
      () =>
        planTopics({
          filtered: 'FROM /messages/modules/a/outputs/o WHERE kind = "image" INTO BrokeredEndpoint("/modules/b/inputs/in")',
          overlapA: 'FROM /messages/modules/a/outputs/* INTO BrokeredEndpoint("/modules/c/inputs/one")',
          overlapB: 'FROM /messages/modules/a/outputs/o INTO BrokeredEndpoint("/modules/c/inputs/two")',
          nonsense: 'SELECT everything',
        }),
      (err: Error & { code?: string; details?: { problems?: string[] } }) => err.code === 'ROUTE_COMPILE_ERROR' && err.details?.problems?.length === 3,
    );
  });

  it('reads the MQTT 5 settings from the environment, every problem at once', () => {
    const s = parseMqtt5Settings('inferencer', { AIO_BROKER_HOSTNAME: 'aio-broker', AIO_BROKER_TCP_PORT: '18883', AIO_SAT_FILE: '/var/run/secrets/tokens/broker-sat', AIO_MQTT_CLIENT_ID: 'edgeml-inferencer-1', EDGEML_MQTT_ROUTES_FILE: '/etc/edgeml/routes/routes.json' });
    assert.equal(s.port, 18883);
    assert.deepEqual(s.auth, { kind: 'sat', tokenFile: '/var/run/secrets/tokens/broker-sat' });
    assert.equal(s.useTls, true);
    assert.equal(s.sessionExpirySeconds, 3600);
    assert.throws(
      () => parseMqtt5Settings('x', { AIO_BROKER_TCP_PORT: '0', AIO_MQTT_USE_TLS: 'maybe', AIO_TLS_CERT_FILE: '/c', AIO_MQTT_CLIENT_ID: 'a/b' }),
      (err: Error & { details?: { problems?: string[] } }) => (err.details?.problems?.length ?? 0) >= 5,
    );
    assert.equal(selectedTransport({}), 'edgehub');
    assert.equal(selectedTransport({ EDGEML_EDGE_TRANSPORT: 'MQTT5' }), 'mqtt5');
    assert.throws(() => selectedTransport({ EDGEML_EDGE_TRANSPORT: 'carrier-pigeon' }), /EDGEML_EDGE_TRANSPORT/);
  });

  it('parses a configuration file: a JSON object, or the reason it cannot be used', () => {
    assert.deepEqual(parseConfigDocument('c.json', Buffer.from('{"a":1}')), { document: { a: 1 } });
    assert.match(JSON.stringify(parseConfigDocument('c.json', Buffer.from(''))), /is empty/);
    assert.match(JSON.stringify(parseConfigDocument('c.json', Buffer.from('[1]'))), /must hold a JSON object/);
    assert.match(JSON.stringify(parseConfigDocument('c.json', Buffer.from('{'))), /not valid JSON/);
  });
});
