/**
 * A throw-away PKI for a local broker: a CA, a server certificate for `localhost`/127.0.0.1 and client
 * certificates, made with the openssl command (P-256 keys: fast to generate). For local runs and
 * tests only; on Kubernetes the broker's CA comes from Azure IoT Operations (cert-manager).
 */
import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { EdgeMLError, errorMessage } from '@edgeml/shared';

const run = promisify(execFile);

export interface CertificatePair {
  readonly certFile: string;
  readonly keyFile: string;
}

export interface LocalPki {
  readonly caFile: string;
  readonly caKeyFile: string;
  readonly server: CertificatePair;
  /** Issues a client certificate whose subject CN is `commonName` (the broker's username with X.509). */
  issueClient(commonName: string): Promise<CertificatePair>;
}

async function openssl(args: readonly string[], cwd: string): Promise<void> {
  try {
    await run('openssl', [...args], { cwd });
  } catch (err: unknown) {
    throw new EdgeMLError('INTERNAL', `openssl ${args[0] ?? ''} failed: ${errorMessage(err)}`, { cause: err });
  }
}

const KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

async function issue(dir: string, name: string, subject: string, extensions: string): Promise<CertificatePair> {
  const ext = path.join(dir, `${name}.ext`);
  await writeFile(ext, extensions);
  await openssl(['req', ...KEY, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject], dir);
  await openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.crt`, '-days', '30', '-extfile', ext], dir);
  return { certFile: path.join(dir, `${name}.crt`), keyFile: path.join(dir, `${name}.key`) };
}

/** Creates the CA and the server certificate under `dir`. @throws EdgeMLError INTERNAL when openssl fails */
export async function createLocalPki(dir: string): Promise<LocalPki> {
  await mkdir(dir, { recursive: true });
  await openssl(['req', '-x509', ...KEY, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '30', '-subj', '/CN=edgeml-local-ca', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir);
  const server = await issue(dir, 'server', '/CN=localhost', 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  return {
    caFile: path.join(dir, 'ca.crt'),
    caKeyFile: path.join(dir, 'ca.key'),
    server,
    issueClient: (commonName) => issue(dir, `client-${commonName.replace(/[^A-Za-z0-9_.-]/g, '_')}`, `/CN=${commonName}`, 'extendedKeyUsage=clientAuth\n'),
  };
}
