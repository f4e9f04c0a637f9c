/**
 * What the model store knows about OCI artifacts (`<models>/.oci/index.json`): which digest holds
 * which `<name>/<version>` of the store, and the digest each tag last resolved to. A model pulled
 * once by digest is served from the store from then on, with no registry (offline once cached); a
 * tag that cannot be resolved because the registry is unreachable falls back to its last digest.
 */
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic, type Logger } from '@edgeml/shared';

export const ARTIFACT_INDEX_DIR = '.oci';

export interface CachedArtifact {
  readonly name: string;
  readonly version: string;
  /** SHA-256 (hex) of model.onnx in the store. */
  readonly sha256: string;
  /** `registry/repository@digest` it was first pulled as. */
  readonly reference: string;
  readonly pulledAt: string;
}

interface IndexFile {
  readonly byDigest: Record<string, CachedArtifact>;
  /** `registry/repository:tag` → digest. */
  readonly byTag: Record<string, string>;
}

export class ArtifactCache {
  readonly #file: string;
  readonly #logger: Logger;
  #index: IndexFile | undefined;

  constructor(modelsDir: string, logger: Logger) {
    this.#file = path.join(modelsDir, ARTIFACT_INDEX_DIR, 'index.json');
    this.#logger = logger;
  }

  async byDigest(digest: string): Promise<CachedArtifact | undefined> {
    return (await this.#load()).byDigest[digest];
  }

  async digestOfTag(taggedReference: string): Promise<string | undefined> {
    return (await this.#load()).byTag[taggedReference];
  }

  /** Records a digest in the store (and the tag that named it). */
  async record(digest: string, entry: CachedArtifact, taggedReference?: string): Promise<void> {
    const index = await this.#load();
    const next: IndexFile = {
      byDigest: { ...index.byDigest, [digest]: entry },
      byTag: taggedReference === undefined ? index.byTag : { ...index.byTag, [taggedReference]: digest },
    };
    await mkdir(path.dirname(this.#file), { recursive: true });
    await writeFileAtomic(this.#file, `${JSON.stringify(next, null, 2)}\n`);
    this.#index = next;
  }

  async #load(): Promise<IndexFile> {
    if (this.#index !== undefined) return this.#index;
    try {
      const parsed = JSON.parse(await readFile(this.#file, 'utf8')) as Partial<IndexFile>;
      this.#index = { byDigest: parsed.byDigest ?? {}, byTag: parsed.byTag ?? {} };
    } catch (err: unknown) {
      // Missing on a new store; unreadable only after damage: the artifacts are pulled again.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.#logger.warn({ err, file: this.#file }, 'the artifact index cannot be read; artifacts will be pulled again');
      this.#index = { byDigest: {}, byTag: {} };
    }
    return this.#index;
  }
}
