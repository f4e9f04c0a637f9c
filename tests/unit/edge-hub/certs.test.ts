import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createSecureContext } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { certificateSerial, ensureTlsMaterial } from '@edgeml/edge-hub';

describe('edge hub development certificates', function () {
  this.timeout(60_000);

  it('a serial is a positive, minimally encoded INTEGER whatever the random bytes (a leading 0x00 once broke TLS)', () => {
    for (const first of [0x00, 0x01, 0x7f, 0x80, 0xff]) {
      const bytes = Buffer.alloc(16, 0xab);
      bytes[0] = first;
      const hex = certificateSerial(bytes);
      assert.equal(hex.length, 32, hex);
      const lead = parseInt(hex.slice(0, 2), 16);
      assert.ok(lead >= 0x40 && lead <= 0x7f, `first byte ${hex.slice(0, 2)} for 0x${first.toString(16)}`);
      assert.equal(hex.slice(2), 'ab'.repeat(15), 'the other bytes are kept');
    }
  });

  it('the generated CA and server certificate load into a TLS context and chain to each other', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'edgeml-certs-'));
    try {
      const m = await ensureTlsMaterial(dir, ['edge.local']);
      createSecureContext({ cert: m.serverCertificatePem, key: m.serverKeyPem, ca: m.caCertificatePem });
      const server = new X509Certificate(m.serverCertificatePem);
      assert.ok(server.verify(new X509Certificate(m.caCertificatePem).publicKey));
      assert.equal(server.checkHost('edge.local'), 'edge.local');
      assert.match(server.serialNumber, /^[4-7][0-9A-F]{31}$/i);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
