import { createWriteStream, existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createLogger } from '@edgeml/shared';
import { startLocalHub, type LocalHub } from '../../local-hub.js';
import { REPO_ROOT } from '../../repo-root.js';
import { EXIT_CODES, usageError, type CliCommand } from '../command.js';

/** What `edgeml hub` prints once it listens: one JSON line when piped, so a script can read it and go on. */
export function hubDescription(local: LocalHub): Record<string, unknown> {
  const hub = local.hub;
  return {
    manifest: local.manifestFile,
    workDir: local.workDir,
    controlUrl: local.controlUrl,
    hub: {
      host: 'localhost',
      port: hub.port,
      caFile: hub.caCertificateFile,
      deviceId: hub.deviceId,
      iotHubHostName: hub.iotHubHostName,
      workloadUri: local.workloadUri,
      metricsUrl: hub.metricsPort === undefined ? null : `http://127.0.0.1:${hub.metricsPort}/metrics`,
      routes: hub.routes.routes.length,
    },
    upstreamJournal: hub.upstreamJournalFile,
    modules: Object.fromEntries(local.modules.map((m) => [m.moduleId, { envFile: m.envFile, env: m.env, mqtt: m.mqtt }])),
  };
}

function renderForPerson(local: LocalHub): string {
  const hub = local.hub;
  const wd = `--workdir ${local.workDir}`;
  const lines = [
    `Local edge hub for ${local.manifestFile} (${local.modules.length} modules, ${hub.routes.routes.length} routes); work folder ${local.workDir}`,
    `  MQTT over TLS  localhost:${hub.port}   CA ${hub.caCertificateFile}`,
    `  workload API   ${local.workloadUri}`,
    `  metrics        http://127.0.0.1:${String(hub.metricsPort)}/metrics`,
    `  $upstream      ${hub.upstreamJournalFile}   (npx edgeml upstream --follow ${wd})`,
    `  control API    ${local.controlUrl}   (GET /twin/<m>, PATCH /twin/<m>, POST /invoke/<m>/<method>)`,
    '',
  ];
  for (const m of local.modules) {
    lines.push(`module ${m.moduleId}: start it with the environment in ${m.envFile}`, `  (set -a; . ${m.envFile}; set +a; <your module's command>)`);
    for (const [k, v] of Object.entries(m.env)) lines.push(`  ${k}=${v}`);
    lines.push(`  raw MQTT: -h localhost -p ${m.mqtt.port} --cafile ${m.mqtt.caFile} -i ${m.mqtt.clientId} -u '${m.mqtt.username}' -P "$EDGEML_HUB_MQTT_PASSWORD" (valid until ${m.mqtt.passwordExpiresAt})`, '');
  }
  lines.push(
    `Twins and methods: npx edgeml twin get <module> ${wd} · npx edgeml twin set <module> key=value ${wd} · npx edgeml invoke <module> <method> '{…}' ${wd}`,
    'Ctrl-C stops the hub.',
  );
  return `${lines.join('\n')}\n`;
}

function port(flag: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 65_535) throw usageError(`${flag} needs a port number (0 = any free port), got ${raw}`);
  return n;
}

export const hubCommand: CliCommand = {
  name: 'hub',
  usage:
    'hub [--manifest FILE] [--env-file FILE] [--port N] [--metrics-port N]\n' +
    '                                       run the local edge hub alone (no modules) for modules you start yourself, in any\n' +
    '                                       language; prints each module\'s environment (default manifest: deployment.template.json)',
  async run(args, ctx) {
    let values: { manifest?: string | undefined; 'env-file'?: string | undefined; port?: string | undefined; 'metrics-port'?: string | undefined };
    try {
      ({ values } = parseArgs({
        args: [...args],
        options: { manifest: { type: 'string' }, 'env-file': { type: 'string' }, port: { type: 'string' }, 'metrics-port': { type: 'string' } },
        strict: true,
      }));
    } catch (err: unknown) {
      throw usageError((err as Error).message);
    }
    const manifestFile = values.manifest === undefined ? path.join(REPO_ROOT, 'deployment.template.json') : path.resolve(ctx.cwd, values.manifest);
    const envFile = values['env-file'] === undefined ? undefined : path.resolve(ctx.cwd, values['env-file']);
    for (const [flag, file] of [['--manifest', manifestFile], ['--env-file', envFile]] as const) {
      if (file !== undefined && !existsSync(file)) throw usageError(`${flag} ${file}: no such file`);
    }
    const hubPort = port('--port', values.port);
    const metricsPort = port('--metrics-port', values['metrics-port']);
    await mkdir(path.join(ctx.workDir, 'logs'), { recursive: true });
    const logStream = createWriteStream(path.join(ctx.workDir, 'logs', 'hub.log'), { flags: 'a' });
    const logger = createLogger({ name: 'edge-hub', destination: logStream });
    const local = await startLocalHub({
      workDir: ctx.workDir,
      manifestFile,
      env: ctx.env,
      logger,
      ...(envFile === undefined ? {} : { envFile }),
      ...(hubPort === undefined ? {} : { hubPort }),
      ...(metricsPort === undefined ? {} : { metricsPort }),
    });
    try {
      ctx.write(ctx.json ? `${JSON.stringify(hubDescription(local))}\n` : renderForPerson(local));
      await new Promise<void>((resolve) => {
        if (ctx.signal.aborted) resolve();
        else ctx.signal.addEventListener('abort', () => resolve(), { once: true });
      });
    } finally {
      await local.stop();
      await new Promise<void>((resolve) => logStream.end(() => resolve()));
    }
    return EXIT_CODES.ok;
  },
};
