import { AnonymousCredential, BlobServiceClient, ContainerClient, type StoragePipelineOptions } from '@azure/storage-blob';
import { EdgeMLError } from '@edgeml/shared';
import { serviceCodeOf, statusOf } from './blob-blocks.js';
import { classifyFailure } from './classify.js';
import { parseSas, type SasGrant } from './sas.js';

/**
 * The blob sink's container: the client built from the credentials (a connection string, account
 * key or SAS, or a container SAS URL) with the SDK's retry policy (`sdkRetry`), what the
 * credentials grant, and what a refusal by the container means to an operator.
 */

export interface BlobContainerOptions {
  /** A storage connection string (preferred when both are given). */
  readonly connectionString?: string;
  /** `https://<account>.blob.core.windows.net/<container>?sv=…&sig=…`. */
  readonly containerSasUrl?: string;
  /** Where the credentials came from (a variable name), for error messages. */
  readonly credentialsFrom?: string;
  /** Container used with a connection string. */
  readonly containerName: string;
  readonly sdkRetry: { readonly maxTries: number; readonly tryTimeoutInMs: number; readonly retryDelayInMs: number; readonly maxRetryDelayInMs: number };
}

export interface BlobContainer {
  readonly container: ContainerClient;
  /** The container's URL without a query (no secrets). */
  readonly target: string;
  /** The SAS's grant when the credentials are a SAS. */
  readonly sas: SasGrant | undefined;
  /** The credentials hold an account key (they may create the container). */
  readonly accountKey: boolean;
}

function containerFrom(options: BlobContainerOptions, pipeline: StoragePipelineOptions): { container: ContainerClient; sas: SasGrant | undefined; accountKey: boolean } {
  if (options.connectionString !== undefined && options.connectionString !== '') {
    const from = options.credentialsFrom ?? 'the connection string';
    let container: ContainerClient;
    try {
      container = BlobServiceClient.fromConnectionString(options.connectionString, pipeline).getContainerClient(options.containerName);
    } catch (err: unknown) {
      throw new EdgeMLError('CONFIG_INVALID', `${from} is not a valid storage connection string: ${(err as Error).message}`, { cause: err });
    }
    const sasPart = /SharedAccessSignature=([^;]+)/i.exec(options.connectionString)?.[1];
    const sas = sasPart === undefined ? undefined : parseSas(sasPart);
    return { container, sas, accountKey: sas === undefined };
  }
  if (options.containerSasUrl !== undefined && options.containerSasUrl !== '') {
    const from = options.credentialsFrom ?? 'the container SAS URL';
    let url: URL;
    try {
      url = new URL(options.containerSasUrl);
    } catch (err: unknown) {
      throw new EdgeMLError('CONFIG_INVALID', `${from} is not a URL`, { cause: err });
    }
    return { container: new ContainerClient(options.containerSasUrl, new AnonymousCredential(), pipeline), sas: parseSas(url.search), accountKey: false };
  }
  throw new EdgeMLError('CONFIG_INVALID', 'no storage credentials: set EDGEML_STORAGE_CONNECTION_STRING or EDGEML_STORAGE_CONTAINER_SAS_URL (or their _FILE forms)');
}

/** Builds the container client from the credentials; CONFIG_INVALID when they are missing or malformed. */
export function openBlobContainer(options: BlobContainerOptions): BlobContainer {
  const pipeline: StoragePipelineOptions = {
    retryOptions: {
      maxTries: options.sdkRetry.maxTries,
      tryTimeoutInMs: options.sdkRetry.tryTimeoutInMs,
      retryDelayInMs: options.sdkRetry.retryDelayInMs,
      maxRetryDelayInMs: options.sdkRetry.maxRetryDelayInMs,
    },
    userAgentOptions: { userAgentPrefix: 'edgeml-uploader' },
  };
  const { container, sas, accountKey } = containerFrom(options, pipeline);
  return { container, target: container.url.split('?')[0] ?? container.url, sas, accountKey };
}

/** Permission failures get a message an operator can act on; everything else goes to the classifier as is. */
export function asSinkError(err: unknown, operation: string, target: string): unknown {
  if (classifyFailure(err).kind !== 'permission') return err;
  const status = statusOf(err);
  const code = serviceCodeOf(err);
  if (code === 'ContainerNotFound') {
    return new EdgeMLError('CONFIG_INVALID', `container ${target} does not exist and cannot be created with these credentials`, { cause: err });
  }
  return new EdgeMLError('SINK_PERMISSION_DENIED', `${operation} refused by ${target} (${status ?? '?'} ${code ?? ''}): the credentials need create (c) and write (w) rights on the container, and must not be expired or revoked`, {
    cause: err,
    details: { statusCode: status, serviceCode: code },
  });
}
