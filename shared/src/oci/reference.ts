/**
 * OCI references: `registry[:port]/repository[:tag][@sha256:<hex>]`, as the twin, the CLI and
 * `oras` write them (distribution-spec v1.1: repository names are lower-case path components
 * separated by `/`, tags `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`). Pure.
 */
import { EdgeMLError } from '../errors.js';

const REPOSITORY_RE = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$/;
const TAG_RE = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;
const DIGEST_RE = /^sha256:[0-9a-f]{64}$/;
const REGISTRY_RE = /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:]+\])(?::[0-9]{1,5})?$/;

/** A parsed reference. At least one of `tag` and `digest` is set. */
export interface OciReference {
  /** Host and optional port (`myacr.azurecr.io`, `127.0.0.1:5000`). */
  readonly registry: string;
  readonly repository: string;
  readonly tag?: string;
  /** `sha256:<64 hex>`. */
  readonly digest?: string;
}

export const isDigest = (value: string): boolean => DIGEST_RE.test(value);
export const isTag = (value: string): boolean => TAG_RE.test(value);
export const isRepository = (value: string): boolean => value.length <= 255 && REPOSITORY_RE.test(value);
export const isRegistryHost = (value: string): boolean => REGISTRY_RE.test(value);

/** Problems with a reference string (empty when it parses). Pure, for config validation. */
export function referenceProblems(text: string): string[] {
  try {
    parseReference(text);
    return [];
  } catch (err: unknown) {
    return [(err as Error).message];
  }
}

/**
 * Parses `registry/repository[:tag][@digest]` (an `oci://` prefix is accepted and dropped).
 * @throws EdgeMLError CONFIG_INVALID with what is wrong (no registry, a bad tag, a digest that is not sha256)
 */
export function parseReference(text: string): OciReference {
  const raw = text.startsWith('oci://') ? text.slice('oci://'.length) : text;
  const bad = (why: string): EdgeMLError => new EdgeMLError('CONFIG_INVALID', `"${text}" is not an OCI reference (registry/repository[:tag][@sha256:…]): ${why}`);
  const slash = raw.indexOf('/');
  if (slash <= 0) throw bad('no registry host before the first "/"');
  const registry = raw.slice(0, slash);
  if (!isRegistryHost(registry)) throw bad(`"${registry}" is not a registry host[:port]`);
  let rest = raw.slice(slash + 1);
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!isDigest(digest)) throw bad(`digest "${digest}" must be sha256:<64 lower-case hex digits>`);
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon >= 0) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!isTag(tag)) throw bad(`tag "${tag}" must match ${TAG_RE.source}`);
  }
  if (!isRepository(rest)) throw bad(`repository "${rest}" must be lower-case path components (a-z, 0-9, . _ -) separated by "/"`);
  if (tag === undefined && digest === undefined) throw bad('it names neither a tag nor a digest');
  return { registry, repository: rest, ...(tag === undefined ? {} : { tag }), ...(digest === undefined ? {} : { digest }) };
}

/** `registry/repository@digest` when the digest is known, else `registry/repository:tag`. */
export function formatReference(ref: OciReference): string {
  const base = `${ref.registry}/${ref.repository}`;
  if (ref.digest !== undefined) return `${base}@${ref.digest}`;
  return `${base}:${ref.tag ?? ''}`;
}

/** The tag or digest a manifest request names (the digest when both are set: it is what was pinned). */
export function manifestReferenceOf(ref: OciReference): string {
  return ref.digest ?? ref.tag!;
}
