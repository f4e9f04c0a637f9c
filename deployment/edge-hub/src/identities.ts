/**
 * Per-module SAS keys, kept in `<workDir>/identities.json` (0600) so they survive hub restarts, and the
 * credential file each module is started with: `<workDir>/modules/<module>.env`.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EdgeMLError, writeFileAtomic } from '@edgeml/shared';

export interface ModuleKeys {
  readonly primaryKey: string;
  readonly secondaryKey: string;
  readonly generationId: string;
}

export interface IdentityFile {
  readonly deviceId: string;
  readonly iotHubHostName: string;
  readonly modules: Readonly<Record<string, ModuleKeys>>;
}

function newKey(): string {
  return randomBytes(32).toString('base64');
}

/**
 * Loads the identities, adding keys for modules that have none. A different device id or hub name than
 * the stored one keeps the keys (they are per module) and records the new names.
 * @throws EdgeMLError STATE_CORRUPT when the file exists but cannot be parsed.
 */
export async function ensureIdentities(workDir: string, deviceId: string, iotHubHostName: string, moduleIds: readonly string[]): Promise<IdentityFile> {
  const file = join(workDir, 'identities.json');
  let current: IdentityFile = { deviceId, iotHubHostName, modules: {} };
  if (existsSync(file)) {
    try {
      current = JSON.parse(readFileSync(file, 'utf8')) as IdentityFile;
    } catch (err: unknown) {
      throw new EdgeMLError('STATE_CORRUPT', `${file} cannot be parsed`, { cause: err });
    }
  }
  const modules: Record<string, ModuleKeys> = { ...current.modules };
  let changed = !existsSync(file) || current.deviceId !== deviceId || current.iotHubHostName !== iotHubHostName;
  for (const m of moduleIds) {
    if (modules[m] === undefined) {
      modules[m] = { primaryKey: newKey(), secondaryKey: newKey(), generationId: `gen-${randomBytes(6).toString('hex')}` };
      changed = true;
    }
  }
  const next: IdentityFile = { deviceId, iotHubHostName, modules };
  if (changed) {
    await writeFileAtomic(file, `${JSON.stringify(next, null, 2)}\n`);
    chmodSync(file, 0o600);
  }
  return next;
}

/** `HostName=…;GatewayHostName=…;DeviceId=…;ModuleId=…;SharedAccessKey=…` (iotedgehubdev's format). */
export function moduleConnectionString(ids: IdentityFile, moduleId: string, gatewayHostName: string): string {
  const keys = ids.modules[moduleId];
  if (keys === undefined) throw new EdgeMLError('CONFIG_INVALID', `module ${moduleId} is not known to the hub`);
  return `HostName=${ids.iotHubHostName};GatewayHostName=${gatewayHostName};DeviceId=${ids.deviceId};ModuleId=${moduleId};SharedAccessKey=${keys.primaryKey}`;
}

/** Writes `<workDir>/modules/<module>.env` (0600) with the two variables of the connection-string path. */
export async function writeCredentialFile(workDir: string, moduleId: string, env: Readonly<Record<string, string>>): Promise<string> {
  const file = join(workDir, 'modules', `${moduleId}.env`);
  const text = Object.entries(env)
    .map(([k, v]) => `${k}=${v}`)
    .join('\n');
  await writeFileAtomic(file, `${text}\n`);
  chmodSync(file, 0o600);
  return file;
}
