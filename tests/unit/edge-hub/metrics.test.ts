/**
 * The per-message counters are tallied in plain numbers and added to their Prometheus series when the
 * registry is read: every scrape shows every count made before it, and nothing twice.
 */
import assert from 'node:assert/strict';
import { createHubMetrics } from '@edgeml/edge-hub';

const value = (text: string, name: string, labels: string): number | undefined => {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(labels));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
};

describe('edge-hub metrics tallies', () => {
  it('a scrape shows every count made before it, per label set, and the next scrape adds only the new ones', async () => {
    const metrics = createHubMetrics({ iothub: 'h', edgeDevice: 'd' }, () => []);
    const sent = (to: string): { from: string; to: string; from_route_output: string; to_route_input: string; priority: string } => ({
      from: 'd/a',
      to,
      from_route_output: 'out',
      to_route_input: 'in',
      priority: '0',
    });
    for (let i = 0; i < 3; i++) metrics.sentTally.add('b', () => sent('d/b'));
    metrics.sentTally.add('c', () => sent('d/c'), 2);
    metrics.receivedTally.add('a\nout', () => ({ route_output: 'out', id: 'd/a' }));
    let text = await metrics.registry.metrics();
    assert.equal(value(text, 'edgehub_messages_sent_total', 'to="d/b"'), 3);
    assert.equal(value(text, 'edgehub_messages_sent_total', 'to="d/c"'), 2);
    assert.equal(value(text, 'edgehub_messages_received_total', 'id="d/a"'), 1);

    metrics.sentTally.add('b', () => sent('d/b'));
    text = await metrics.registry.metrics();
    assert.equal(value(text, 'edgehub_messages_sent_total', 'to="d/b"'), 4);
    assert.equal(value(text, 'edgehub_messages_sent_total', 'to="d/c"'), 2);
    assert.equal(value(text, 'edgehub_messages_received_total', 'id="d/a"'), 1);
  });
});
