/**
 * The Kubernetes manifests (deployment/k8s, a kustomize base) take their routes and module
 * configuration from deployment.template.json, so one manifest describes both targets. This file
 * derives those files, renders the overlays with `kubectl kustomize` (the renderer behind
 * `kubectl apply -k`), and lists the rendered documents for validation.
 */
import { execFile } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { EdgeMLError, errorMessage, mergePatch, routesFromDocument } from '@edgeml/shared';

/** What differs on Kubernetes: the uploader writes into the cloud-ingest volume (its directory sink). */
export const K8S_CONFIG_OVERRIDES: Readonly<Record<string, Record<string, unknown>>> = { uploader: { sink: 'directory' } };

export const K8S_MODULES = ['watcher', 'transformer', 'inferencer', 'uploader', 'aggregator'] as const;

/** The overlays rendered into deployment/k8s/rendered/<name>.yaml. */
export const K8S_OVERLAYS = { aio: 'overlays/aio', 'aio-cpu-only': 'overlays/aio-cpu-only', 'aio-password': 'overlays/aio-password' } as const;

export interface DerivedFiles {
  /** Path relative to deployment/k8s → content. */
  readonly files: Readonly<Record<string, string>>;
}

function json(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

/** The files of the kustomize base derived from the IoT Edge manifest. */
export async function deriveK8sFiles(templateFile: string): Promise<DerivedFiles> {
  const doc = JSON.parse(await readFile(templateFile, 'utf8')) as { modulesContent?: Record<string, { 'properties.desired'?: Record<string, unknown> }> };
  const files: Record<string, string> = { 'base/routes.json': json({ routes: routesFromDocument(doc) }) };
  for (const m of K8S_MODULES) {
    const desired = doc.modulesContent?.[m]?.['properties.desired'] ?? {};
    files[`base/config/${m}.json`] = json(mergePatch(desired, K8S_CONFIG_OVERRIDES[m] ?? {}));
  }
  return { files };
}

export async function writeDerivedFiles(k8sDir: string, derived: DerivedFiles): Promise<void> {
  for (const [rel, content] of Object.entries(derived.files)) {
    await mkdir(path.dirname(path.join(k8sDir, rel)), { recursive: true });
    await writeFile(path.join(k8sDir, rel), content);
  }
}

/** `kubectl kustomize <dir>`. @throws EdgeMLError INTERNAL when kubectl is missing or fails */
export async function renderKustomize(dir: string, kubectl = 'kubectl'): Promise<string> {
  try {
    const { stdout } = await promisify(execFile)(kubectl, ['kustomize', dir], { maxBuffer: 16 * 1024 * 1024 });
    return stdout;
  } catch (err: unknown) {
    throw new EdgeMLError('INTERNAL', `kubectl kustomize ${dir} failed: ${errorMessage(err)}`, { cause: err });
  }
}
