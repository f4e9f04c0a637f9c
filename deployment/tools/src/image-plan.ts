import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import path from 'node:path';
import { EdgeMLError } from '@edgeml/shared';
import type { ModuleImageSpec } from './modules.js';

/** The release platforms CI builds (module.json names → docker platforms). Debug images are built by hand. */
export const RELEASE_PLATFORMS = { amd64: 'linux/amd64', arm64v8: 'linux/arm64' } as const;
export type ReleasePlatform = keyof typeof RELEASE_PLATFORMS;

/** Modules whose image bundles a default model: their tags also carry that model's digest. */
export const MODULES_WITH_DEFAULT_MODEL: ReadonlySet<string> = new Set(['inferencer']);

/** Characters of a digest or revision kept in a tag (12 hex digits, as `git log --abbrev=12`). */
const SHORT = 12;

export interface ImagePlanInput {
  readonly spec: ModuleImageSpec;
  readonly platform: string;
  /** Registry host, e.g. `myacr.azurecr.io` (what `${CONTAINER_REGISTRY_SERVER}` stands for in module.json). */
  readonly registry: string;
  /** Full git commit id of the build. */
  readonly revision: string;
  /** `sha256:<hex>` of the default model, for modules in {@link MODULES_WITH_DEFAULT_MODEL}. */
  readonly modelDigest?: string;
  /** Repository URL for the `org.opencontainers.image.source` label. */
  readonly sourceUrl?: string;
}

export interface ImagePlan {
  /** Image name without tag: `<registry>/edgeml-<module>`. */
  readonly image: string;
  /** Dockerfile and build context, relative to the repository root (from module.json). */
  readonly dockerfile: string;
  readonly context: string;
  /** `docker buildx --platform` value. */
  readonly dockerPlatform: string;
  /** Full references to push. */
  readonly tags: readonly string[];
  readonly labels: Readonly<Record<string, string>>;
}

/** Docker's tag grammar: `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`. */
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

/**
 * The build of one module for one platform, from its module.json: what to build and the tags that say what is
 * inside. Tags (every one ends in the platform, as genconfig's `${MODULES.x}` expects):
 * - `<version>-<platform>`: what `npm run genconfig` names without `CONTAINER_TAG` (moves with each build);
 * - `<version>-git.<rev12>-<platform>`: the exact revision; `CONTAINER_TAG=git.<rev12>` deploys it;
 * - inferencer only, `<version>-model.<digest12>-git.<rev12>-<platform>`: also the default model it bundles.
 * @throws EdgeMLError CONFIG_INVALID for a platform module.json lacks or a malformed revision, digest or registry
 */
export function planImage(input: ImagePlanInput, moduleDirFromRoot: string): ImagePlan {
  const problems: string[] = [];
  const dockerPlatform = (RELEASE_PLATFORMS as Record<string, string>)[input.platform];
  if (dockerPlatform === undefined) problems.push(`platform ${input.platform} is not one of ${Object.keys(RELEASE_PLATFORMS).join(', ')}`);
  const dockerfile = input.spec.platforms[input.platform];
  if (dockerfile === undefined) problems.push(`modules/${input.spec.folder}/module.json has no platform ${input.platform}`);
  if (!/^[0-9a-f]{40}$/.test(input.revision)) problems.push(`revision must be a full 40-hex git commit id, got ${input.revision}`);
  if (!/^[a-z0-9.-]+(:\d+)?$/.test(input.registry)) problems.push(`registry must be a host name (e.g. myacr.azurecr.io), got ${input.registry}`);
  const needsModel = MODULES_WITH_DEFAULT_MODEL.has(input.spec.folder);
  if (needsModel && (input.modelDigest === undefined || !/^sha256:[0-9a-f]{64}$/.test(input.modelDigest))) problems.push(`${input.spec.folder} needs modelDigest sha256:<64 hex>`);
  if (problems.length > 0) throw new EdgeMLError('CONFIG_INVALID', `image plan: ${problems.join('; ')}`, { details: { problems } });

  const image = input.spec.repository.replace('${CONTAINER_REGISTRY_SERVER}', input.registry).replace('$CONTAINER_REGISTRY_SERVER', input.registry);
  const rev = input.revision.slice(0, SHORT);
  const version = input.spec.version;
  const tagNames = [`${version}-${input.platform}`, `${version}-git.${rev}-${input.platform}`];
  const labels: Record<string, string> = {
    'org.opencontainers.image.title': `edgeml-${input.spec.folder}`,
    'org.opencontainers.image.version': version,
    'org.opencontainers.image.revision': input.revision,
  };
  if (input.sourceUrl !== undefined) labels['org.opencontainers.image.source'] = input.sourceUrl;
  if (needsModel && input.modelDigest !== undefined) {
    tagNames.push(`${version}-model.${input.modelDigest.slice('sha256:'.length, 'sha256:'.length + SHORT)}-git.${rev}-${input.platform}`);
    labels['com.edgeml.default-model.digest'] = input.modelDigest;
  }
  const bad = tagNames.filter((t) => !TAG.test(t));
  if (bad.length > 0) throw new EdgeMLError('CONFIG_INVALID', `image plan: not valid docker tags: ${bad.join(', ')}`);
  return {
    image,
    dockerfile: path.posix.normalize(path.posix.join(moduleDirFromRoot, dockerfile!)),
    context: path.posix.normalize(path.posix.join(moduleDirFromRoot, input.spec.contextPath)) || '.',
    dockerPlatform: dockerPlatform!,
    tags: tagNames.map((t) => `${image}:${t}`),
    labels,
  };
}

async function sha256OfFile(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * The digest of a set of model files: sha256 over their `sha256sum` lines (`<hex>  <file name>\n`) in byte
 * order of the names, so `(cd <dir> && sha256sum <files>) | LC_ALL=C sort -k2 | sha256sum` gives the same hex.
 * One file or several (the inferencer bundles a classifier and a detector), the answer is one `sha256:<hex>`.
 */
export async function modelSetDigest(files: readonly string[]): Promise<string> {
  if (files.length === 0) throw new EdgeMLError('CONFIG_INVALID', 'modelSetDigest needs at least one file');
  const lines = await Promise.all(files.map(async (f) => ({ name: path.basename(f), line: `${await sha256OfFile(f)}  ${path.basename(f)}\n` })));
  lines.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return `sha256:${createHash('sha256').update(lines.map((l) => l.line).join('')).digest('hex')}`;
}
