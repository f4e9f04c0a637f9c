/**
 * `edgeml model push|pull|inspect`: the model package through any OCI registry, with registry
 * credentials from the environment (shared/src/oci/credentials.ts), never from a twin.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  createRegistryClient,
  errorCode,
  errorMessage,
  exportToLayout,
  formatReference,
  isRegistryHost,
  isRepository,
  isTag,
  locatePackage,
  manifestReferenceOf,
  parseReference,
  plainHttpFor,
  pullModelPackage,
  pushModelPackage,
  registryCredentialsFromEnv,
  registrySource,
  type ModelProvenance,
  type RegistryClient,
} from '@edgeml/shared';
import { CliError, EXIT_CODES, usageError, type CliCommand, type CliContext, type ExitCode } from '../command.js';
import { nameVersion, preparePackage } from '../model/package-dir.js';
import { renderTree, toJson } from '../render.js';

/** Largest model the CLI moves (the inferencer's own cap is its twin's maxModelBytes). */
const MAX_MODEL_BYTES = 8 * 1024 ** 3;

interface Parsed {
  readonly positional: string[];
  readonly values: Map<string, string[]>;
  readonly flags: Set<string>;
}

function parseOptions(args: readonly string[], valued: readonly string[], flags: readonly string[]): Parsed {
  const out: Parsed = { positional: [], values: new Map(), flags: new Set() };
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (!a.startsWith('--')) {
      out.positional.push(a);
      continue;
    }
    const eq = a.indexOf('=');
    const name = eq < 0 ? a.slice(2) : a.slice(2, eq);
    if (flags.includes(name) && eq < 0) {
      out.flags.add(name);
      continue;
    }
    if (!valued.includes(name)) throw usageError(`unknown option --${name}`);
    const value = eq >= 0 ? a.slice(eq + 1) : args[++i];
    if (value === undefined) throw usageError(`--${name} needs a value`);
    out.values.set(name, [...(out.values.get(name) ?? []), value]);
  }
  return out;
}

const one = (p: Parsed, name: string): string | undefined => p.values.get(name)?.at(-1);

async function clientFor(registry: string, p: Parsed, ctx: CliContext): Promise<RegistryClient> {
  return createRegistryClient({ registry, plainHttp: p.flags.has('plain-http') || plainHttpFor(registry, ctx.env), credentials: await registryCredentialsFromEnv(registry, ctx.env) });
}

/** A registry failure as a CLI error: its code first, so scripts and people see which. */
const failed = (err: unknown): CliError => new CliError(`${errorCode(err)}: ${errorMessage(err)}`, EXIT_CODES.failed, { cause: err });

async function push(args: readonly string[], ctx: CliContext): Promise<ExitCode> {
  const p = parseOptions(args, ['registry', 'repository', 'tag', 'annotation', 'azureml-model', 'dataset', 'revision', 'source'], ['plain-http']);
  const [dir] = p.positional;
  const registry = one(p, 'registry') ?? ctx.env['EDGEML_REGISTRY_SERVER'] ?? ctx.env['CONTAINER_REGISTRY_SERVER'];
  const repository = one(p, 'repository');
  const tag = one(p, 'tag');
  if (dir === undefined || p.positional.length > 1) throw usageError('model push needs one folder (model.onnx + manifest.json)');
  if (registry === undefined || !isRegistryHost(registry)) throw usageError('model push needs --registry host[:port] (or EDGEML_REGISTRY_SERVER)');
  if (repository === undefined || !isRepository(repository)) throw usageError('model push needs --repository (lower-case path, e.g. edgeml/models/classifier)');
  if (tag === undefined || !isTag(tag)) throw usageError('model push needs --tag ([A-Za-z0-9_][A-Za-z0-9._-]{0,127})');
  const extraAnnotations: Record<string, string> = {};
  for (const a of p.values.get('annotation') ?? []) {
    const eq = a.indexOf('=');
    if (eq <= 0) throw usageError(`--annotation ${a}: expected key=value`);
    extraAnnotations[a.slice(0, eq)] = a.slice(eq + 1);
  }
  const azureml = one(p, 'azureml-model');
  const dataset = one(p, 'dataset');
  const provenance: ModelProvenance = {
    ...(azureml === undefined ? {} : { azureml: ((nv) => ({ modelName: nv.name, ...(nv.version === undefined ? {} : { modelVersion: nv.version }) }))(nameVersion(azureml)) }),
    ...(dataset === undefined ? {} : { dataset: /^[a-z][a-z0-9+.-]*:\/\//i.test(dataset) ? { uri: dataset } : ((nv) => ({ name: nv.name, ...(nv.version === undefined ? {} : { version: nv.version }) }))(nameVersion(dataset)) }),
    ...(one(p, 'revision') === undefined ? {} : { gitRevision: one(p, 'revision')! }),
    ...(one(p, 'source') === undefined ? {} : { source: one(p, 'source')! }),
  };
  try {
    const pkg = await preparePackage(path.resolve(ctx.cwd, dir), provenance);
    const m = pkg.manifest;
    const result = await pushModelPackage(await clientFor(registry, p, ctx), {
      repository,
      tag,
      modelFile: pkg.modelFile,
      manifestBytes: pkg.manifestBytes,
      identity: { name: m.name, version: m.version, profile: m.preprocessing.profile, ...(m.description === undefined ? {} : { description: m.description }), ...(m.provenance === undefined ? {} : { provenance: m.provenance }) },
      extraAnnotations,
      created: new Date(),
      signal: ctx.signal,
    });
    const out = { reference: result.reference, digest: result.digest, tag: `${registry}/${repository}:${tag}`, model: { name: m.name, version: m.version, profile: m.preprocessing.profile, sha256: result.modelSha256, sizeBytes: result.modelSizeBytes }, uploadedBlobs: result.uploaded, annotations: result.manifest.annotations ?? {} };
    ctx.write(ctx.json ? toJson(out) : `pushed ${m.name}@${m.version} as ${result.reference}\n  tag ${out.tag}\n  pin it in a twin: models.${m.preprocessing.profile}.artifact = "${result.reference}"\n`);
    return EXIT_CODES.ok;
  } catch (err: unknown) {
    throw failed(err);
  }
}

async function pull(args: readonly string[], ctx: CliContext): Promise<ExitCode> {
  const p = parseOptions(args, ['output', 'oci-layout'], ['plain-http']);
  const [text] = p.positional;
  if (text === undefined || p.positional.length > 1) throw usageError('model pull needs one reference (registry/repository:tag or @sha256:…)');
  const output = one(p, 'output');
  const layout = one(p, 'oci-layout');
  if ((output === undefined) === (layout === undefined)) throw usageError('model pull needs --output DIR (model.onnx + manifest.json) or --oci-layout FILE (an OCI layout tar to preload an air-gapped device)');
  let ref;
  try {
    ref = parseReference(text);
  } catch (err: unknown) {
    throw usageError(errorMessage(err));
  }
  try {
    const source = registrySource(await clientFor(ref.registry, p, ctx), ref.repository);
    if (layout !== undefined) {
      const target = path.resolve(ctx.cwd, layout);
      const { digest } = await exportToLayout(source, manifestReferenceOf(ref), target, { refName: ref.tag ?? digestTag(manifestReferenceOf(ref)), maxBlobBytes: MAX_MODEL_BYTES, signal: ctx.signal });
      const out = { reference: formatReference({ ...ref, digest }), digest, ociLayout: target };
      ctx.write(ctx.json ? toJson(out) : `wrote ${target} (${out.reference}); copy it to <data>/models/preload/ on the device\n`);
      return EXIT_CODES.ok;
    }
    const dest = path.resolve(ctx.cwd, output!);
    const pulled = await pullModelPackage(source, manifestReferenceOf(ref), dest, { maxModelBytes: MAX_MODEL_BYTES, signal: ctx.signal });
    const out = { reference: formatReference({ ...ref, digest: pulled.digest }), digest: pulled.digest, kind: pulled.kind, output: dest, modelSha256: pulled.modelSha256, modelSizeBytes: pulled.modelSizeBytes };
    ctx.write(ctx.json ? toJson(out) : `pulled ${out.reference} (${pulled.kind}) into ${dest}\n`);
    return EXIT_CODES.ok;
  } catch (err: unknown) {
    throw failed(err);
  }
}

const digestTag = (reference: string): string => reference.replace(/^sha256:/, 'sha256-').slice(0, 128);

async function inspect(args: readonly string[], ctx: CliContext): Promise<ExitCode> {
  const p = parseOptions(args, [], ['plain-http']);
  const [text] = p.positional;
  if (text === undefined || p.positional.length > 1) throw usageError('model inspect needs one reference');
  let ref;
  try {
    ref = parseReference(text);
  } catch (err: unknown) {
    throw usageError(errorMessage(err));
  }
  const work = await mkdtemp(path.join(tmpdir(), 'edgeml-inspect-'));
  try {
    const client = await clientFor(ref.registry, p, ctx);
    const source = registrySource(client, ref.repository);
    const fetched = await source.getManifest(manifestReferenceOf(ref), { signal: ctx.signal });
    const located = locatePackage(fetched.bytes);
    const manifest = JSON.parse(fetched.bytes.toString('utf8')) as Record<string, unknown>;
    // The model manifest: read from its layer for an artifact; an image's is in a layer's tar.
    const pulled = await pullModelPackage(source, fetched.digest, work, { maxModelBytes: MAX_MODEL_BYTES, signal: ctx.signal });
    const mm = pulled.modelManifest as Record<string, unknown>;
    const out = {
      reference: formatReference({ ...ref, digest: fetched.digest }),
      digest: fetched.digest,
      mediaType: fetched.mediaType,
      kind: located.kind === 'index' ? 'index' : pulled.kind,
      artifactType: manifest['artifactType'] ?? null,
      annotations: manifest['annotations'] ?? {},
      layers: ((manifest['layers'] ?? []) as { mediaType: string; digest: string; size: number; annotations?: Record<string, string> }[]).map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size, title: l.annotations?.['org.opencontainers.image.title'] ?? null })),
      model: {
        name: mm['name'] ?? null,
        version: mm['version'] ?? null,
        sha256: pulled.modelSha256,
        sizeBytes: pulled.modelSizeBytes,
        inputs: mm['inputs'] ?? null,
        outputs: mm['outputs'] ?? null,
        preprocessing: mm['preprocessing'] ?? null,
        postprocessor: mm['postprocessor'] ?? null,
        labels: mm['labels'] ?? null,
        provenance: mm['provenance'] ?? null,
      },
    };
    ctx.write(ctx.json ? toJson(out) : `${renderTree(out)}\n`);
    return EXIT_CODES.ok;
  } catch (err: unknown) {
    throw failed(err);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

export const modelCommand: CliCommand = {
  name: 'model',
  usage: [
    'model push <dir> --registry R --repository P --tag T   publish model.onnx + manifest.json as an OCI artifact',
    '      [--azureml-model name:version] [--dataset name:version|uri] [--revision SHA] [--source URL] [--annotation k=v]… [--plain-http]',
    '  model pull <registry/repo:tag|@sha256:…> --output DIR | --oci-layout FILE   (verified; a layout tar preloads an air-gapped device)',
    '  model inspect <registry/repo:tag|@sha256:…>          manifest, annotations, layers, the model manifest and provenance',
  ].join('\n  '),
  async run(args, ctx) {
    const [sub, ...rest] = args;
    if (sub === 'push') return push(rest, ctx);
    if (sub === 'pull') return pull(rest, ctx);
    if (sub === 'inspect') return inspect(rest, ctx);
    throw usageError('model needs push, pull or inspect');
  },
};
