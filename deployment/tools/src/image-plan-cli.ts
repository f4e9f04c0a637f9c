import path from 'node:path';
import { parseArgs } from 'node:util';
import { errorMessage } from '@edgeml/shared';
import type { CliIo } from './cli.js';
import { MODULES_WITH_DEFAULT_MODEL, modelSetDigest, planImage, type ImagePlan } from './image-plan.js';
import { readModuleSpecs } from './modules.js';

const USAGE = `usage: npm run -s image-plan -- --module <name> --platform amd64|arm64v8 --registry <host> --revision <40-hex commit>
                               [--source <repository URL>] [--format github|json]
  Prints what to build for one module image and its tags (module version, git revision and, for the
  inferencer, the digest of the default model it bundles). --format github writes GITHUB_OUTPUT lines.
npm run -s image-plan -- --model-digest     the default model's digest alone (sha256:<hex>)`;

/** The default model files the inferencer bundles (from its npm dependency), loaded only when needed. */
async function defaultModelFiles(): Promise<string[]> {
  const { bundledModels } = await import('@edgeml/inferencer');
  return bundledModels().map((m) => m.file);
}

/** A multi-line GITHUB_OUTPUT value (`name<<DELIM … DELIM`). */
function githubOutput(name: string, lines: readonly string[]): string {
  const delimiter = 'EDGEML_EOF';
  return `${name}<<${delimiter}\n${lines.join('\n')}\n${delimiter}`;
}

export function formatPlan(plan: ImagePlan, format: 'github' | 'json', modelDigest: string | undefined): string {
  if (format === 'json') return JSON.stringify({ ...plan, ...(modelDigest === undefined ? {} : { modelDigest }) }, null, 2);
  return [
    `image=${plan.image}`,
    `dockerfile=${plan.dockerfile}`,
    `context=${plan.context}`,
    `platform=${plan.dockerPlatform}`,
    ...(modelDigest === undefined ? [] : [`model_digest=${modelDigest}`]),
    githubOutput('tags', plan.tags),
    githubOutput('labels', Object.entries(plan.labels).map(([k, v]) => `${k}=${v}`)),
  ].join('\n');
}

/** `npm run image-plan`: exit 0 with the plan on stdout, 1 when module.json or the inputs are wrong, 2 on usage errors. */
export async function runImagePlan(argv: readonly string[], io: CliIo): Promise<number> {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        module: { type: 'string' },
        platform: { type: 'string' },
        registry: { type: 'string' },
        revision: { type: 'string' },
        source: { type: 'string' },
        format: { type: 'string' },
        'model-digest': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }));
  } catch (err: unknown) {
    io.err(`${errorMessage(err)}\n${USAGE}`);
    return 2;
  }
  if (values['help'] === true) {
    io.out(USAGE);
    return 0;
  }
  try {
    if (values['model-digest'] === true) {
      io.out(await modelSetDigest(await defaultModelFiles()));
      return 0;
    }
    const format = (values['format'] ?? 'github') as string;
    const missing = ['module', 'platform', 'registry', 'revision'].filter((k) => typeof values[k] !== 'string');
    if (missing.length > 0 || (format !== 'github' && format !== 'json')) {
      io.err(`${missing.length > 0 ? `missing --${missing.join(', --')}` : `unknown --format ${format}`}\n${USAGE}`);
      return 2;
    }
    const name = values['module'] as string;
    const spec = (await readModuleSpecs(path.join(io.cwd, 'modules'))).get(name);
    if (spec === undefined) {
      io.err(`image-plan: no modules/${name}/module.json`);
      return 1;
    }
    const modelDigest = MODULES_WITH_DEFAULT_MODEL.has(name) ? await modelSetDigest(await defaultModelFiles()) : undefined;
    const plan = planImage(
      {
        spec,
        platform: values['platform'] as string,
        registry: values['registry'] as string,
        revision: values['revision'] as string,
        ...(modelDigest === undefined ? {} : { modelDigest }),
        ...(typeof values['source'] === 'string' ? { sourceUrl: values['source'] } : {}),
      },
      `modules/${name}`,
    );
    io.out(formatPlan(plan, format, modelDigest));
    return 0;
  } catch (err: unknown) {
    io.err(`image-plan: ${errorMessage(err)}`);
    return 1;
  }
}
