import path from 'node:path';
import { parseArgs } from 'node:util';
import { errorMessage } from '@edgeml/shared';
import { genconfigFiles, PLATFORMS } from './genconfig.js';
import { errorsOf, formatProblem } from './problems.js';
import { validateFiles } from './validate.js';
import { combineVariables, readDotEnv } from './variables.js';

/** What a CLI run may touch: passed in by the entry point, so the commands are testable without a process. */
export interface CliIo {
  readonly cwd: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
}

const GENCONFIG_USAGE = `usage: npm run genconfig -- [--platform amd64|arm64v8] [--template deployment.template.json]
                             [--out deployment/config] [--env-file .env] [--cpu-only]`;

/**
 * `npm run genconfig`: writes deployment/config/<template>.<platform>.json. Exit code 0 when written,
 * 1 when the template has problems (nothing is written), 2 on a usage error.
 */
export async function runGenconfig(argv: readonly string[], io: CliIo): Promise<number> {
  let values: { platform?: string | undefined; template?: string | undefined; out?: string | undefined; 'env-file'?: string | undefined; 'cpu-only'?: boolean | undefined; help?: boolean | undefined };
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        platform: { type: 'string', short: 'P' },
        template: { type: 'string', short: 'f' },
        out: { type: 'string', short: 'o' },
        'env-file': { type: 'string' },
        'cpu-only': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }));
  } catch (err: unknown) {
    io.err(`${errorMessage(err)}\n${GENCONFIG_USAGE}`);
    return 2;
  }
  if (values.help === true) {
    io.out(GENCONFIG_USAGE);
    return 0;
  }
  try {
    // DEFAULT_PLATFORM and CONFIG_OUTPUT_DIR may come from .env too, as with iotedgedev; flags win.
    const variables = combineVariables(io.env, await readDotEnv(path.resolve(io.cwd, values['env-file'] ?? '.env')));
    const platform = values.platform ?? variables['DEFAULT_PLATFORM'] ?? 'amd64';
    if (!(PLATFORMS as readonly string[]).includes(platform)) {
      io.err(`unknown platform "${platform}" (expected ${PLATFORMS.join(' or ')})\n${GENCONFIG_USAGE}`);
      return 2;
    }
    const outDir = values.out ?? variables['CONFIG_OUTPUT_DIR'];
    const { outFile, written, result } = await genconfigFiles({
      root: io.cwd,
      platform,
      environment: variables,
      ...(values.template === undefined ? {} : { template: values.template }),
      ...(outDir === undefined || outDir === '' ? {} : { outDir }),
      ...(values['env-file'] === undefined ? {} : { envFile: values['env-file'] }),
      ...(values['cpu-only'] === true ? { gpu: false } : {}),
    });
    for (const p of result.problems) (p.severity === 'error' ? io.err : io.out)(formatProblem(p, values.template ?? 'deployment.template.json'));
    for (const note of result.notes) io.out(`note: ${note}`);
    if (!written) {
      io.err(`genconfig: ${errorsOf(result.problems).length} error(s); ${outFile} not written`);
      return 1;
    }
    io.out(`genconfig: wrote ${outFile} (contains secrets from the environment/.env: do not commit it)`);
    return 0;
  } catch (err: unknown) {
    io.err(`genconfig: ${errorMessage(err)}`);
    return 1;
  }
}

const VALIDATE_USAGE = `usage: npm run validate -- [--schemas <dir>] [file ...]
  files default to deployment.template.json, deployment.debug.template.json and deployment/config/*.json`;

/** `npm run validate`: exit code 0 when no file has an error, 1 otherwise, 2 on a usage error. */
export async function runValidate(argv: readonly string[], io: CliIo): Promise<number> {
  let parsed: { values: { schemas?: string | undefined; help?: boolean | undefined }; positionals: string[] };
  try {
    parsed = parseArgs({ args: [...argv], options: { schemas: { type: 'string' }, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true });
  } catch (err: unknown) {
    io.err(`${errorMessage(err)}\n${VALIDATE_USAGE}`);
    return 2;
  }
  if (parsed.values.help === true) {
    io.out(VALIDATE_USAGE);
    return 0;
  }
  try {
    const reports = await validateFiles({
      root: io.cwd,
      ...(parsed.positionals.length > 0 ? { files: parsed.positionals } : {}),
      ...(parsed.values.schemas === undefined ? {} : { schemasDir: parsed.values.schemas }),
    });
    let errors = 0;
    for (const r of reports) {
      const fileErrors = errorsOf(r.problems).length;
      errors += fileErrors;
      for (const p of r.problems) (p.severity === 'error' ? io.err : io.out)(formatProblem(p, r.file));
      io.out(`${r.file} (${r.kind}): ${fileErrors === 0 ? 'valid' : `${fileErrors} error(s)`}`);
    }
    if (parsed.positionals.length === 0 && !reports.some((r) => r.kind.endsWith('manifest'))) {
      io.out('note: no generated manifest in deployment/config; run npm run genconfig first to validate one');
    }
    return errors === 0 ? 0 : 1;
  } catch (err: unknown) {
    io.err(`validate: ${errorMessage(err)}`);
    return 1;
  }
}
