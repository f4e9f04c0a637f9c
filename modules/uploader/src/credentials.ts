import { readFile } from 'node:fs/promises';
import { EdgeMLError, sha256 } from '@edgeml/shared';

/**
 * Where the storage credentials come from, in the order they are looked for. A `_FILE` variable
 * names a file holding the secret (a Docker/Kubernetes secret mount, a file the platform rewrites
 * when it rotates the SAS); the uploader re-reads it, so a new secret takes effect without a
 * restart. A file, when set, wins over the plain variables: it is the source that rotates.
 */
export const CREDENTIAL_ENV = {
  connectionStringFile: 'EDGEML_STORAGE_CONNECTION_STRING_FILE',
  containerSasUrlFile: 'EDGEML_STORAGE_CONTAINER_SAS_URL_FILE',
  connectionString: 'EDGEML_STORAGE_CONNECTION_STRING',
  containerSasUrl: 'EDGEML_STORAGE_CONTAINER_SAS_URL',
} as const;

export type CredentialKind = 'connectionString' | 'containerSasUrl';

export interface StorageCredentials {
  readonly kind: CredentialKind;
  /** The secret itself. Never logged or reported. */
  readonly value: string;
  /** The variable it came from (safe to report). */
  readonly from: string;
  /** The file it was read from, when it came from one (safe to report: a path, not the secret). */
  readonly file?: string;
  /** Identifies the secret without revealing it: a changed fingerprint is a rotation. */
  readonly fingerprint: string;
}

/** Longest secret file read (a connection string or SAS URL is far below it). */
const MAX_SECRET_FILE_BYTES = 64 * 1024;

const ORDER: readonly { readonly variable: string; readonly kind: CredentialKind; readonly file: boolean }[] = [
  { variable: CREDENTIAL_ENV.connectionStringFile, kind: 'connectionString', file: true },
  { variable: CREDENTIAL_ENV.containerSasUrlFile, kind: 'containerSasUrl', file: true },
  { variable: CREDENTIAL_ENV.connectionString, kind: 'connectionString', file: false },
  { variable: CREDENTIAL_ENV.containerSasUrl, kind: 'containerSasUrl', file: false },
];

/** The variables that are set (non-empty), in precedence order: the first one is used. */
export function credentialVariablesSet(env: Readonly<Record<string, string | undefined>>): string[] {
  return ORDER.filter((o) => (env[o.variable] ?? '').trim() !== '').map((o) => o.variable);
}

/**
 * Reads the credentials the environment points at, files included (read now, every call).
 * Returns undefined when none is set.
 * @throws EdgeMLError CONFIG_INVALID when a secret file is missing, unreadable, empty or too large
 */
export async function readStorageCredentials(env: Readonly<Record<string, string | undefined>>): Promise<StorageCredentials | undefined> {
  const chosen = ORDER.find((o) => (env[o.variable] ?? '').trim() !== '');
  if (chosen === undefined) return undefined;
  const setting = (env[chosen.variable] ?? '').trim();
  if (!chosen.file) return { kind: chosen.kind, value: setting, from: chosen.variable, fingerprint: fingerprint(chosen.kind, setting) };
  let text: string;
  try {
    const data = await readFile(setting);
    if (data.length > MAX_SECRET_FILE_BYTES) throw new EdgeMLError('CONFIG_INVALID', `${chosen.variable}: ${setting} is ${data.length} bytes; a secret file holds one line`);
    text = data.toString('utf8').trim();
  } catch (err: unknown) {
    if (err instanceof EdgeMLError) throw err;
    throw new EdgeMLError('CONFIG_INVALID', `${chosen.variable}: cannot read ${setting}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
  }
  if (text === '') throw new EdgeMLError('CONFIG_INVALID', `${chosen.variable}: ${setting} is empty`);
  return { kind: chosen.kind, value: text, from: chosen.variable, file: setting, fingerprint: fingerprint(chosen.kind, text) };
}

function fingerprint(kind: CredentialKind, value: string): string {
  return sha256(`${kind}\n${value}`).slice(0, 16);
}
