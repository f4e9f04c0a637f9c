import assert from 'node:assert/strict';
import { decodePropertyBag, encodeInputBag, inputTopic, parseEventTopic, parseTopicQuery, splitProperties } from '@edgeml/edge-hub';

/** How the SDK reads an input topic (wire notes §5): segment 5 is the input, only segment 6 the bag. */
function sdkParse(topic: string): { inputName: string; props: Record<string, string> } {
  const parts = topic.split('/');
  const props: Record<string, string> = {};
  for (const pair of (parts[6] ?? '').split('&')) {
    if (pair === '') continue;
    const [k = '', v] = pair.split('=');
    props[decodeURIComponent(k)] = decodeURIComponent(String(v));
  }
  return { inputName: parts[5] ?? '', props };
}

describe('edge-hub property bags', () => {
  it('decodes the bag the SDK writes for sendOutputEvent (wire notes §5), system keys to edgeHub names', () => {
    const topic =
      'devices/dev1/modules/watcher/messages/events/%24.on=files&%24.mid=msg-0001&%24.cid=corr-42&%24.ct=application%2Fjson&%24.ce=utf-8&fileName=report%202024%2F01.csv&weird%20key%26%3D=%C3%BC%2F%26%3D%2B%20%25/';
    const event = parseEventTopic(topic);
    assert.ok(event);
    assert.deepEqual([event.deviceId, event.moduleId], ['dev1', 'watcher']);
    const bag = decodePropertyBag(event.bag);
    assert.ok(bag.ok);
    const { systemProperties, properties } = splitProperties(bag.pairs);
    assert.deepEqual(systemProperties, { outputName: 'files', messageId: 'msg-0001', cid: 'corr-42', contentType: 'application/json', contentEncoding: 'utf-8' });
    assert.deepEqual(properties, { fileName: 'report 2024/01.csv', 'weird key&=': 'ü/&=+ %' });
  });

  it('parses every inbound template: with and without bag, with and without the trailing slash', () => {
    assert.deepEqual(parseEventTopic('devices/d/modules/m/messages/events/%24.mid=1'), { deviceId: 'd', moduleId: 'm', bag: '%24.mid=1' });
    assert.deepEqual(parseEventTopic('devices/d/modules/m/messages/events/'), { deviceId: 'd', moduleId: 'm', bag: '' });
    assert.deepEqual(parseEventTopic('devices/d/modules/m/messages/events'), { deviceId: 'd', moduleId: 'm', bag: '' });
    assert.equal(parseEventTopic('devices/d/modules/m/inputs/x/'), undefined);
    assert.equal(parseEventTopic('devices/d/modules/m/messages/events/a=b/c=d/'), undefined);
  });

  it('keeps "+" as a plus, drops "?" and valueless keys, and refuses malformed escapes', () => {
    const r = decodePropertyBag('q=a+b&flag&x%3F=1%3F');
    assert.ok(r.ok);
    assert.deepEqual(r.pairs, [
      ['q', 'a+b'],
      ['x', '1'],
    ]);
    const bad = decodePropertyBag('bad=%E0%A4%A');
    assert.equal(bad.ok, false);
  });

  it('decodes a bag without escapes (the fast path) exactly as one with them', () => {
    const plain = decodePropertyBag('$.mid=7&a=b=c&flag&=v&&$.on=out&seq=+1');
    const escaped = decodePropertyBag('%24.mid=7&a=b%3Dc&flag&=v&&%24.on=out&seq=+1');
    assert.ok(plain.ok && escaped.ok);
    assert.deepEqual(plain.pairs, [
      ['$.mid', '7'],
      ['a', 'b=c'],
      ['$.on', 'out'],
      ['seq', '+1'],
    ]);
    assert.deepEqual(plain.pairs, escaped.pairs);
    assert.deepEqual(decodePropertyBag('k?=v?').ok && decodePropertyBag('k?=v?'), { ok: true, pairs: [['k', 'v']] });
  });

  it('encodes input bags so the SDK reads back every key and value exactly, with $.cdid/$.cmid', () => {
    const props = { 'path/a': 'x=y&z', plus: 'a+b', pct: '100%', unicode: 'ü' };
    const bag = encodeInputBag(props, { messageId: 'm/1', cid: 'c&1', contentType: 'application/json', contentEncoding: 'utf-8', connectionDeviceId: 'd', connectionModuleId: 'sender', outputName: 'never' });
    const topic = inputTopic('d', 'target', 'in1', bag);
    const parsed = sdkParse(topic);
    assert.equal(parsed.inputName, 'in1');
    assert.deepEqual(parsed.props, {
      ...props,
      '$.mid': 'm/1',
      '$.cid': 'c&1',
      '$.ct': 'application/json',
      '$.ce': 'utf-8',
      '$.cdid': 'd',
      '$.cmid': 'sender',
    });
    assert.ok(!bag.includes('$.on') && !bag.includes('%24.on'), 'outputName is never put in an input bag');
  });

  it('always writes the segment after the input name, even for an empty bag', () => {
    assert.equal(inputTopic('d', 'm', 'in', ''), 'devices/d/modules/m/inputs/in/');
    assert.match(inputTopic('d', 'm', 'in', ''), /^devices\/.*\/modules\/.*\/inputs\/.*\/.*$/);
  });

  it('reads $rid and $version from $iothub topics', () => {
    assert.deepEqual(parseTopicQuery('$iothub/twin/res/204/?$rid=abc&$version=3'), { $rid: 'abc', $version: '3' });
    assert.deepEqual(parseTopicQuery('$iothub/twin/GET/'), {});
  });
});
