/**
 * Starts each running module of the manifest as a supervised child process (supervisor.ts) with
 * the environment edgeAgent would give its container: the manifest's env with `/data` paths mapped
 * into the work folder, the data root, a metrics port of its own and the workload API variables.
 */
import path from 'node:path';
import type { EdgeHub } from '@edgeml/edge-hub';
import type { Logger } from '@edgeml/shared';
import { mapContainerPath, type RuntimeManifest, type RuntimeModule } from './manifest.js';
import { workloadEnv } from './module-env.js';
import { freePort } from './ports.js';
import { ModuleProcess } from './supervisor.js';

/** Environment variables a module process inherits from the runtime (besides the manifest's env). */
const INHERITED_ENV = ['PATH', 'HOME', 'TMPDIR', 'LANG', 'LC_ALL', 'TZ', 'SYSTEMROOT', 'NODE_EXTRA_CA_CERTS'];

export interface ModuleLaunchOptions {
  readonly manifest: RuntimeManifest;
  /** Where modules/<name>/dist/main.js live; the processes' working directory. */
  readonly repoRoot: string;
  readonly dataDir: string;
  /** One `<module>.log` each. */
  readonly logsDir: string;
  readonly hub: EdgeHub;
  readonly workloadSocket: string;
  readonly logger: Logger;
}

export interface LaunchedModules {
  /** In the manifest's order (the startup order). */
  readonly processes: Map<string, ModuleProcess>;
  readonly metricsPorts: Record<string, number>;
}

/** The environment of module `m`'s process (before its metrics port and the workload variables). */
function baseEnv(m: RuntimeModule, dataDir: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const key of INHERITED_ENV) {
    const v = process.env[key];
    if (v !== undefined) env[key] = v;
  }
  for (const [k, v] of Object.entries(m.env)) env[k] = v.startsWith('/data') ? mapContainerPath(v, dataDir) : v;
  const dataBind = m.binds.find((b) => b.containerPath === '/data');
  env['EDGEML_DATA_ROOT'] = dataBind !== undefined || env['EDGEML_DATA_ROOT'] === undefined ? dataDir : env['EDGEML_DATA_ROOT'];
  return env;
}

/** Starts every module whose status is `running`, one after another in the manifest's order. */
export async function launchModules(o: ModuleLaunchOptions): Promise<LaunchedModules> {
  const processes = new Map<string, ModuleProcess>();
  const metricsPorts: Record<string, number> = {};
  for (const m of o.manifest.modules) {
    if (m.status !== 'running') continue;
    const entry = path.join(o.repoRoot, 'modules', m.name, 'dist', 'main.js');
    const env = baseEnv(m, o.dataDir);
    metricsPorts[m.name] = await freePort();
    env['EDGEML_METRICS_PORT'] = String(metricsPorts[m.name]);
    Object.assign(env, workloadEnv(o.hub, m.name, o.workloadSocket));
    const proc = new ModuleProcess(
      {
        name: m.name,
        command: process.execPath,
        args: [entry],
        cwd: o.repoRoot,
        env,
        restartPolicy: m.restartPolicy,
        logFile: path.join(o.logsDir, `${m.name}.log`),
        healthUrl: `http://127.0.0.1:${metricsPorts[m.name]}/health/live`,
      },
      o.logger.child({ component: 'supervisor' }),
    );
    processes.set(m.name, proc);
    proc.start();
  }
  return { processes, metricsPorts };
}
