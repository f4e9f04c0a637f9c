/**
 * The development CA and the hub's TLS server certificate, generated once into `<workDir>/certs/` and
 * reused on later runs. Keys come from node:crypto (fast, native); node-forge only builds and signs the
 * X.509 structures, which node:crypto cannot.
 */
import { generateKeyPairSync, randomBytes, X509Certificate } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import forge from 'node-forge';
import { writeFileAtomic } from '@edgeml/shared';

export interface TlsMaterial {
  readonly caCertificateFile: string;
  readonly caCertificatePem: string;
  readonly serverCertificatePem: string;
  readonly serverKeyPem: string;
}

/** Names the server certificate is valid for; modules connect as `localhost:<port>` (or 127.0.0.1). */
const SERVER_DNS_NAMES = ['localhost'] as const;
const SERVER_IPS = ['127.0.0.1', '::1'] as const;

function newKeyPair(): { privatePem: string; publicPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    privatePem: privateKey.export({ type: 'pkcs1', format: 'pem' }).toString(),
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

/**
 * A certificate serial: 16 random bytes as a positive DER INTEGER in minimal form. The first byte is kept
 * in 0x40–0x7f: a leading 0x00 (1 in 256 random draws) made node-forge encode a padded INTEGER that
 * OpenSSL refuses ("illegal padding"), and a high bit would make it negative.
 */
export function certificateSerial(bytes: Buffer = randomBytes(16)): string {
  const b = Buffer.from(bytes);
  b[0] = ((b[0] ?? 0) & 0x3f) | 0x40;
  return b.toString('hex');
}

/**
 * Loads the CA and server certificate from `<workDir>/certs/`, creating them on the first run (or when the
 * server certificate lacks one of `extraNames`). Files: ca.cert.pem, ca.key.pem (0600), server.cert.pem,
 * server.key.pem (0600).
 */
export async function ensureTlsMaterial(workDir: string, extraNames: readonly string[] = []): Promise<TlsMaterial> {
  const dir = join(workDir, 'certs');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const files = {
    caCert: join(dir, 'ca.cert.pem'),
    caKey: join(dir, 'ca.key.pem'),
    serverCert: join(dir, 'server.cert.pem'),
    serverKey: join(dir, 'server.key.pem'),
  };
  const dnsNames = [...new Set([...SERVER_DNS_NAMES, ...extraNames.filter((n) => !/^[0-9.:]+$/.test(n))])];
  const ips = [...new Set([...SERVER_IPS, ...extraNames.filter((n) => /^[0-9.:]+$/.test(n))])];
  const now = new Date();

  if (!existsSync(files.caCert) || !existsSync(files.caKey)) {
    const keys = newKeyPair();
    const cert = forge.pki.createCertificate();
    cert.serialNumber = certificateSerial();
    cert.publicKey = forge.pki.publicKeyFromPem(keys.publicPem);
    cert.validity.notBefore = new Date(now.getTime() - 60_000);
    cert.validity.notAfter = new Date(now.getTime() + 10 * 365 * 24 * 3600_000);
    const subject = [{ name: 'commonName', value: 'EdgeML local edge hub development CA' }];
    cert.setSubject(subject);
    cert.setIssuer(subject);
    cert.setExtensions([
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
      { name: 'subjectKeyIdentifier' },
    ]);
    cert.sign(forge.pki.privateKeyFromPem(keys.privatePem), forge.md.sha256.create());
    await writeFileAtomic(files.caKey, keys.privatePem);
    chmodSync(files.caKey, 0o600);
    await writeFileAtomic(files.caCert, forge.pki.certificateToPem(cert));
  }
  const caCertificatePem = readFileSync(files.caCert, 'utf8');
  const caKeyPem = readFileSync(files.caKey, 'utf8');

  const serverUsable = (): boolean => {
    if (!existsSync(files.serverCert) || !existsSync(files.serverKey)) return false;
    try {
      const x = new X509Certificate(readFileSync(files.serverCert));
      const ca = new X509Certificate(caCertificatePem);
      if (!x.verify(ca.publicKey) || new Date(x.validTo).getTime() < now.getTime() + 24 * 3600_000) return false;
      return dnsNames.every((n) => x.checkHost(n) !== undefined) && ips.every((ip) => x.checkIP(ip) !== undefined);
    } catch {
      return false;
    }
  };
  if (!serverUsable()) {
    const keys = newKeyPair();
    const ca = forge.pki.certificateFromPem(caCertificatePem);
    const cert = forge.pki.createCertificate();
    cert.serialNumber = certificateSerial();
    cert.publicKey = forge.pki.publicKeyFromPem(keys.publicPem);
    cert.validity.notBefore = new Date(now.getTime() - 60_000);
    cert.validity.notAfter = new Date(now.getTime() + 2 * 365 * 24 * 3600_000);
    cert.setSubject([{ name: 'commonName', value: dnsNames[0] ?? 'localhost' }]);
    cert.setIssuer(ca.subject.attributes);
    cert.setExtensions([
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: [...dnsNames.map((value) => ({ type: 2, value })), ...ips.map((ip) => ({ type: 7, ip }))] },
    ]);
    cert.sign(forge.pki.privateKeyFromPem(caKeyPem), forge.md.sha256.create());
    await writeFileAtomic(files.serverKey, keys.privatePem);
    chmodSync(files.serverKey, 0o600);
    await writeFileAtomic(files.serverCert, forge.pki.certificateToPem(cert));
  }
  return {
    caCertificateFile: files.caCert,
    caCertificatePem,
    serverCertificatePem: readFileSync(files.serverCert, 'utf8'),
    serverKeyPem: readFileSync(files.serverKey, 'utf8'),
  };
}
