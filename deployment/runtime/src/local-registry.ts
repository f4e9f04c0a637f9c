/**
 * A local OCI registry: the CNCF distribution registry (Debian package `docker-registry`,
 * `/usr/bin/docker-registry`, installed by scripts/ensure-test-services.sh) on a loopback port,
 * with a generated configuration and its storage in a folder. Used by the model loop
 * (`npm run loop`) and the registry tests.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { access, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { EdgeMLError, sleep } from '@edgeml/shared';
import { freePort } from './ports.js';

export const DOCKER_REGISTRY_BINARY = '/usr/bin/docker-registry';

export interface LocalRegistryOptions {
  /** Storage and configuration go here. */
  readonly dir: string;
  /** An htpasswd file (bcrypt entries): the registry then asks for Basic credentials. */
  readonly htpasswdFile?: string;
  /** Serve upload Locations as relative URLs (`http.relativeurls`). */
  readonly relativeUrls?: boolean;
  readonly binary?: string;
  /** How long to wait for it to answer. Default 20 000. */
  readonly startTimeoutMs?: number;
}

export interface LocalRegistry {
  /** `127.0.0.1:<port>`. */
  readonly host: string;
  readonly url: string;
  readonly dir: string;
  readonly pid: number | undefined;
  stop(): Promise<void>;
}

/** @throws EdgeMLError INTERNAL when the binary is missing or the registry does not answer in time */
export async function startLocalRegistry(options: LocalRegistryOptions): Promise<LocalRegistry> {
  const binary = options.binary ?? DOCKER_REGISTRY_BINARY;
  await access(binary).catch(() => {
    throw new EdgeMLError('INTERNAL', `${binary} is missing: install the Debian package docker-registry (bash scripts/ensure-test-services.sh)`);
  });
  await mkdir(path.join(options.dir, 'storage'), { recursive: true });
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const config = [
      'version: 0.1',
      'log:',
      '  level: error',
      '  accesslog:',
      '    disabled: true',
      'storage:',
      '  filesystem:',
      `    rootdirectory: ${JSON.stringify(path.join(options.dir, 'storage'))}`,
      '  delete:',
      '    enabled: true',
      'http:',
      `  addr: 127.0.0.1:${port}`,
      `  secret: ${randomBytes(16).toString('hex')}`,
      ...(options.relativeUrls === true ? ['  relativeurls: true'] : []),
      ...(options.htpasswdFile === undefined ? [] : ['auth:', '  htpasswd:', '    realm: edgeml-local', `    path: ${JSON.stringify(options.htpasswdFile)}`]),
      '',
    ].join('\n');
    const configFile = path.join(options.dir, 'config.yml');
    await writeFile(configFile, config);
    const child: ChildProcess = spawn(binary, ['serve', configFile], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    let gone = false;
    void exited.then(() => (gone = true));
    const url = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + (options.startTimeoutMs ?? 20_000);
    while (!gone && Date.now() < deadline) {
      const ok = await fetch(`${url}/v2/`).then((r) => r.status === 200 || r.status === 401, () => false);
      if (ok) {
        return {
          host: `127.0.0.1:${port}`,
          url,
          dir: options.dir,
          pid: child.pid,
          async stop() {
            if (gone) return;
            child.kill('SIGTERM');
            const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
            await exited;
            clearTimeout(timer);
          },
        };
      }
      await sleep(100);
    }
    if (!gone) {
      child.kill('SIGKILL');
      await exited;
    }
    // A port taken between freePort() and the bind ends the process at once: try another one.
    if (attempt < 3 && gone) continue;
    throw new EdgeMLError('INTERNAL', `docker-registry did not start on 127.0.0.1:${port}: ${stderr.trim().slice(-500) || 'no answer'}`);
  }
}
