/**
 * The folder `edgeml model push` publishes: `model.onnx` + `manifest.json` (what the training
 * component writes, and what `az ml model download` puts under `<download-path>/<model name>/`,
 * possibly one folder deeper). The manifest is validated as the inferencer will validate it, its
 * `sha256` filled in or checked, and provenance from the command line merged in.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { validateManifest, type ModelManifest } from '@edgeml/inferencer';
import { EdgeMLError, MODEL_PACKAGE_FILES, sha256File, type ModelProvenance } from '@edgeml/shared';

export interface PreparedPackage {
  readonly dir: string;
  readonly modelFile: string;
  readonly manifest: ModelManifest;
  /** The manifest as pushed (sha256 and provenance filled in). */
  readonly manifestBytes: Buffer;
}

const isFile = (f: string): Promise<boolean> => stat(f).then((s) => s.isFile(), () => false);

/** The folder holding both files: `dir` itself, or its only sub-folder (two levels at most) that does. */
export async function findPackageDir(dir: string): Promise<string> {
  const has = async (d: string): Promise<boolean> => (await isFile(path.join(d, MODEL_PACKAGE_FILES.model))) && (await isFile(path.join(d, MODEL_PACKAGE_FILES.manifest)));
  let level = [dir];
  for (let depth = 0; depth < 3; depth++) {
    const found: string[] = [];
    for (const d of level) if (await has(d)) found.push(d);
    if (found.length === 1) return found[0]!;
    if (found.length > 1) throw new EdgeMLError('ARTIFACT_INVALID', `${dir} holds more than one model folder: ${found.join(', ')}`);
    const next: string[] = [];
    for (const d of level) {
      const entries = await readdir(d, { withFileTypes: true }).catch(() => []);
      for (const e of entries) if (e.isDirectory()) next.push(path.join(d, e.name));
    }
    level = next;
  }
  throw new EdgeMLError('ARTIFACT_INVALID', `${dir} holds no ${MODEL_PACKAGE_FILES.model} with its ${MODEL_PACKAGE_FILES.manifest} (a model manifest, edgeml.model-manifest/v1)`);
}

/**
 * Reads and validates the package folder.
 * @throws EdgeMLError ARTIFACT_INVALID (no files), MODEL_INVALID (an invalid manifest, a sha256 that is not the file's)
 */
export async function preparePackage(dir: string, provenance: ModelProvenance): Promise<PreparedPackage> {
  const packageDir = await findPackageDir(dir);
  const modelFile = path.join(packageDir, MODEL_PACKAGE_FILES.model);
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(path.join(packageDir, MODEL_PACKAGE_FILES.manifest), 'utf8'));
  } catch (err: unknown) {
    throw new EdgeMLError('MODEL_INVALID', `${path.join(packageDir, MODEL_PACKAGE_FILES.manifest)} is not JSON`, { cause: err });
  }
  const { sha256 } = await sha256File(modelFile);
  const doc = parsed as Record<string, unknown>;
  if (doc['sha256'] !== undefined && doc['sha256'] !== sha256) throw new EdgeMLError('MODEL_INVALID', `the model manifest says model.onnx has SHA-256 ${String(doc['sha256'])}; it has ${sha256}`);
  const own = (doc['provenance'] ?? {}) as ModelProvenance;
  const merged: ModelProvenance = {
    ...own,
    ...(provenance.azureml === undefined ? {} : { azureml: { ...own.azureml, ...provenance.azureml } }),
    ...(provenance.dataset === undefined ? {} : { dataset: { ...own.dataset, ...provenance.dataset } }),
    ...(provenance.gitRevision === undefined ? {} : { gitRevision: provenance.gitRevision }),
    ...(provenance.source === undefined ? {} : { source: provenance.source }),
  };
  const complete = { ...doc, sha256, ...(Object.keys(merged).length === 0 ? {} : { provenance: merged }) };
  const checked = validateManifest(complete);
  if ('problems' in checked) throw new EdgeMLError('MODEL_INVALID', `the model manifest is invalid: ${checked.problems.join('; ')}`, { details: { problems: checked.problems } });
  return { dir: packageDir, modelFile, manifest: checked.manifest, manifestBytes: Buffer.from(`${JSON.stringify(complete, null, 2)}\n`) };
}

/** `name:version` → `{name, version}`; a bare value is a name. */
export function nameVersion(text: string): { name: string; version?: string } {
  const i = text.lastIndexOf(':');
  return i <= 0 ? { name: text } : { name: text.slice(0, i), version: text.slice(i + 1) };
}
