/**
 * The storage account the uploader writes to: the one the environment (or `.env`) names, otherwise
 * an Azurite started in the work folder; and how many blobs it holds (for the run summary).
 */
import path from 'node:path';
import { BlobServiceClient } from '@azure/storage-blob';
import type { Logger } from '@edgeml/shared';
import { startAzurite, type AzuriteHandle } from './azurite.js';

/** The variables through which the uploader gets real storage credentials (a value or a secret file). */
export const STORAGE_CREDENTIAL_VARIABLES = [
  'EDGEML_STORAGE_CONNECTION_STRING',
  'EDGEML_STORAGE_CONTAINER_SAS_URL',
  'EDGEML_STORAGE_CONNECTION_STRING_FILE',
  'EDGEML_STORAGE_CONTAINER_SAS_URL_FILE',
] as const;

/** True when the environment names a storage account for the uploader, so no Azurite is started. */
export function storageConfigured(vars: Readonly<Record<string, string | undefined>>): boolean {
  return STORAGE_CREDENTIAL_VARIABLES.some((name) => (vars[name] ?? '') !== '');
}

/**
 * Starts Azurite under `<workDir>/azurite` (log in `logsDir`) unless `vars` name a storage account,
 * and then sets `EDGEML_STORAGE_CONNECTION_STRING` in `vars` to it. Undefined: the configured account is used.
 */
export async function startStorage(vars: Record<string, string | undefined>, workDir: string, logsDir: string, logger: Logger): Promise<AzuriteHandle | undefined> {
  if (storageConfigured(vars)) {
    logger.info('using the storage account configured in the environment / .env');
    return undefined;
  }
  const azurite = await startAzurite({ location: path.join(workDir, 'azurite'), logFile: path.join(logsDir, 'azurite.log'), logger });
  vars['EDGEML_STORAGE_CONNECTION_STRING'] = azurite.connectionString;
  return azurite;
}

/** Blobs in every container of the account; -1 without a connection string. */
export async function countBlobs(connectionString: string | undefined): Promise<number> {
  if (connectionString === undefined || connectionString === '') return -1;
  const service = BlobServiceClient.fromConnectionString(connectionString);
  let n = 0;
  for await (const container of service.listContainers()) {
    for await (const _blob of service.getContainerClient(container.name).listBlobsFlat()) n++;
  }
  return n;
}
