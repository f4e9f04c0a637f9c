import assert from 'node:assert/strict';
import { classifyPublish, subscriptionFeature } from '@edgeml/edge-hub';

const me = { deviceId: 'dev1', moduleId: 'watcher' };

describe('edge-hub topic authorisation', () => {
  it('accepts output events on the module own topic, with or without a bag', () => {
    assert.deepEqual(classifyPublish(me, 'devices/dev1/modules/watcher/messages/events/%24.on=files/'), { kind: 'event', bag: '%24.on=files' });
    assert.deepEqual(classifyPublish(me, 'devices/dev1/modules/watcher/messages/events/'), { kind: 'event', bag: '' });
  });

  it('refuses publishing as another module or device, and on inputs or unknown topics', () => {
    for (const topic of [
      'devices/dev1/modules/transformer/messages/events/%24.on=x/',
      'devices/dev2/modules/watcher/messages/events/',
      'devices/dev1/modules/watcher/inputs/in/',
      'devices/dev1/messages/events/',
      'some/topic',
      '$iothub/twin/PATCH/properties/desired/?$version=2',
      '$iothub/methods/POST/ping/?$rid=1',
    ]) {
      assert.equal(classifyPublish(me, topic).kind, 'refused', topic);
    }
  });

  it('recognises the $iothub requests a module makes', () => {
    assert.deepEqual(classifyPublish(me, '$iothub/twin/GET/?$rid=r1'), { kind: 'twinGet', rid: 'r1' });
    assert.deepEqual(classifyPublish(me, '$iothub/twin/PATCH/properties/reported/?$rid=r2'), { kind: 'twinReported', rid: 'r2' });
    assert.deepEqual(classifyPublish(me, '$iothub/methods/res/200/?$rid=7'), { kind: 'methodResponse', status: '200', rid: '7' });
  });

  it('lets a module subscribe to its own inputs and the $iothub filters only', () => {
    assert.equal(subscriptionFeature(me, 'devices/dev1/modules/watcher/inputs/#'), 'inputs');
    assert.equal(subscriptionFeature(me, '$iothub/methods/POST/#'), 'methods');
    assert.equal(subscriptionFeature(me, '$iothub/twin/res/#'), 'twinResponses');
    assert.equal(subscriptionFeature(me, '$iothub/twin/PATCH/properties/desired/#'), 'desired');
    for (const filter of ['devices/dev1/modules/transformer/inputs/#', 'devices/+/modules/+/inputs/#', '#', '$iothub/#', 'devices/dev1/modules/watcher/messages/events/#']) {
      assert.equal(subscriptionFeature(me, filter), undefined, filter);
    }
  });
});
