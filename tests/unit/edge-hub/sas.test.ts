import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { createModuleSasToken, parseClientId, parseUsername, verifyModuleSasToken } from '@edgeml/edge-hub';

// The worked example of the reference (§1.3): a dummy key, not a secret.
const KEY = 'MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=';
const VECTOR =
  'SharedAccessSignature sr=myhub.azure-devices.net%2Fdevices%2Fedgedev1%2Fmodules%2Ffilter&sig=j1zQc%2BJ24%2Bt02Ep1wET1QhJf%2F6d513C8d3xmMSXVxCI%3D&se=1767225600';
const identity = { deviceId: 'edgedev1', moduleId: 'filter' };
const hostNames = ['myhub.azure-devices.net'];
const SE = 1767225600;

describe('edge-hub SAS identity', () => {
  it('builds the reference vector exactly', () => {
    assert.equal(createModuleSasToken({ hostName: 'myhub.azure-devices.net', deviceId: 'edgedev1', moduleId: 'filter', keyBase64: KEY, expirySecs: SE }), VECTOR);
  });

  it('accepts the reference vector before expiry and with either key', () => {
    assert.deepEqual(verifyModuleSasToken({ token: VECTOR, identity, hostNames, keysBase64: [KEY], nowSecs: SE - 10 }), { ok: true });
    assert.deepEqual(verifyModuleSasToken({ token: VECTOR, identity, hostNames, keysBase64: ['b3RoZXI=', KEY], nowSecs: SE - 10 }), { ok: true });
  });

  it('allows 5 minutes of clock skew after expiry, not more', () => {
    assert.equal(verifyModuleSasToken({ token: VECTOR, identity, hostNames, keysBase64: [KEY], nowSecs: SE + 299 }).ok, true);
    const expired = verifyModuleSasToken({ token: VECTOR, identity, hostNames, keysBase64: [KEY], nowSecs: SE + 300 });
    assert.deepEqual(expired, { ok: false, reason: 'SAS token expired' });
  });

  it('refuses a wrong key, another identity, another host and a signature over the decoded sr', () => {
    assert.equal(verifyModuleSasToken({ token: VECTOR, identity, hostNames, keysBase64: ['d3Jvbmc='], nowSecs: SE - 10 }).ok, false);
    assert.equal(verifyModuleSasToken({ token: VECTOR, identity: { deviceId: 'edgedev1', moduleId: 'other' }, hostNames, keysBase64: [KEY], nowSecs: SE - 10 }).ok, false);
    assert.equal(verifyModuleSasToken({ token: VECTOR, identity, hostNames: ['evil.example'], keysBase64: [KEY], nowSecs: SE - 10 }).ok, false);
    const decodedSr = 'myhub.azure-devices.net/devices/edgedev1/modules/filter';
    const sig = createHmac('sha256', Buffer.from(KEY, 'base64')).update(`${decodedSr}\n${SE}`).digest('base64');
    const token = `SharedAccessSignature sr=${encodeURIComponent(decodedSr)}&sig=${encodeURIComponent(sig)}&se=${SE}`;
    assert.deepEqual(verifyModuleSasToken({ token, identity, hostNames, keysBase64: [KEY], nowSecs: SE - 10 }), { ok: false, reason: 'SAS signature does not match' });
  });

  it('matches identity and host case-insensitively, as DeviceScopeTokenAuthenticator does', () => {
    assert.equal(verifyModuleSasToken({ token: VECTOR, identity: { deviceId: 'EdgeDev1', moduleId: 'FILTER' }, hostNames: ['MYHUB.azure-devices.net'], keysBase64: [KEY], nowSecs: SE - 10 }).ok, true);
  });

  it('refuses tokens that are not SAS tokens or lack fields', () => {
    assert.equal(verifyModuleSasToken({ token: 'Bearer x', identity, hostNames, keysBase64: [KEY], nowSecs: 0 }).ok, false);
    assert.equal(verifyModuleSasToken({ token: 'SharedAccessSignature sr=a&se=1', identity, hostNames, keysBase64: [KEY], nowSecs: 0 }).ok, false);
  });

  it('parses the SDK username and the clientId', () => {
    const u = parseUsername('myhub.azure-devices.net/dev1/watcher/?api-version=2021-04-12&DeviceClientType=azure-iot-device%2F1.18.4%20(node%20v20.20.2%3B%20Debian%2012%3B%20x64)');
    assert.ok(!('problem' in u));
    assert.deepEqual([u.hostName, u.deviceId, u.moduleId, u.properties['DeviceClientType']], ['myhub.azure-devices.net', 'dev1', 'watcher', 'azure-iot-device/1.18.4 (node v20.20.2; Debian 12; x64)']);
    assert.ok('problem' in parseUsername('myhub/dev1/watcher/'), 'api-version is required');
    assert.deepEqual(parseClientId('dev1/watcher'), { deviceId: 'dev1', moduleId: 'watcher' });
    assert.equal(parseClientId('dev1'), undefined);
    assert.equal(parseClientId('dev1/a/b'), undefined);
  });
});
