/**
 * `edgeml hub`: the local edge hub alone, for modules any developer starts by hand. Started from the CLI (as a
 * user would) with a three-module manifest; two modules are plain azure-iot-device programs started with the
 * environment the CLI printed (one through the IOTEDGE_* workload API, one through EdgeHubConnectionString),
 * the third is mosquitto_sub with the MQTT identity from its env file, exactly as the README shows.
 */
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '..', '..', '..');
const bin = path.join(repoRoot, 'deployment', 'runtime', 'bin', 'edgeml.js');
const manifest = path.join(here, 'fixtures', 'three-modules.deployment.json');

interface Started {
  readonly child: ChildProcess;
  readonly lines: string[];
  /** Resolves with the first line (past or future) that satisfies `match`. */
  waitFor(match: (line: string) => boolean, what: string, timeoutMs?: number): Promise<string>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

function start(command: string, args: string[], env: Record<string, string | undefined>): Started {
  const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  const waiters = new Set<() => void>();
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
  createInterface({ input: child.stdout! }).on('line', (line) => {
    lines.push(line);
    for (const w of waiters) w();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    lines,
    waitFor(match, what, timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          const found = lines.find(match);
          if (found !== undefined) {
            waiters.delete(check);
            clearTimeout(timer);
            resolve(found);
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`timed out waiting for ${what}; ${command} printed:\n${lines.join('\n')}\nstderr: ${stderr}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { env: { ...process.env, INIT_CWD: '' } }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof (error as { code?: unknown }).code === 'number' ? ((error as { code: number }).code) : -1;
      resolve({ code, out: stdout, err: stderr });
    });
  });
}

const events = (s: Started, event: string): Array<Record<string, unknown>> =>
  s.lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((e) => e['event'] === event);

interface ModuleInfo {
  envFile: string;
  env: Record<string, string>;
  mqtt: { host: string; port: number; clientId: string; username: string; password: string; caFile: string };
}
interface HubInfo {
  workDir: string;
  controlUrl: string;
  hub: { port: number; metricsUrl: string; routes: number };
  upstreamJournal: string;
  modules: Record<string, ModuleInfo>;
}

describe('edgeml hub: the local edge hub alone, for modules in any language', function () {
  this.timeout(120_000);
  let workDir: string;
  let hubProcess: Started;
  let info: HubInfo;
  const modules: Started[] = [];
  const baseEnv = { PATH: process.env['PATH'], HOME: process.env['HOME'], TMPDIR: process.env['TMPDIR'] };

  before(async () => {
    workDir = await mkdtemp(path.join(tmpdir(), 'edgeml-hub-'));
    hubProcess = start(process.execPath, [bin, 'hub', '--manifest', manifest, '--workdir', workDir, '--port', '0'], { ...process.env, INIT_CWD: '' });
    info = JSON.parse(await hubProcess.waitFor((l) => l.startsWith('{'), 'the hub description', 60_000)) as HubInfo;
  });

  after(async () => {
    for (const m of modules) await m.stop();
    if (hubProcess !== undefined) await hubProcess.stop();
    await rm(workDir, { recursive: true, force: true });
  });

  it('prints, per module of the manifest, the environment to start it with and where the journal is', () => {
    assert.deepEqual(Object.keys(info.modules).sort(), ['alarm', 'filter', 'sensor']);
    assert.equal(info.hub.routes, 3);
    assert.equal(info.upstreamJournal, path.join(workDir, 'hub', 'upstream.jsonl'));
    for (const [name, m] of Object.entries(info.modules)) {
      assert.match(m.env['EdgeHubConnectionString'] ?? '', new RegExp(`ModuleId=${name};SharedAccessKey=`));
      assert.ok(existsSync(m.env['EdgeModuleCACertificateFile'] ?? ''), 'the CA file exists');
      for (const v of ['IOTEDGE_WORKLOADURI', 'IOTEDGE_DEVICEID', 'IOTEDGE_MODULEID', 'IOTEDGE_IOTHUBHOSTNAME', 'IOTEDGE_AUTHSCHEME', 'IOTEDGE_MODULEGENERATIONID', 'IOTEDGE_GATEWAYHOSTNAME', 'IOTEDGE_APIVERSION']) {
        assert.ok(m.env[v] !== undefined, `${name} gets ${v}`);
      }
      assert.equal(m.envFile, path.join(workDir, 'env', `${name}.env`));
    }
    assert.equal(info.modules['sensor']!.env['SENSOR_INTERVAL_MS'], '1000', "the manifest's env is passed on");
    assert.equal(info.modules['filter']!.env['FILTER_STATE_DIR'], path.join(workDir, 'data', 'filter'), 'the /data volume maps into the work folder');
  });

  it('drives real ModuleClient modules and a mosquitto client from the printed environment: routes, twins, methods, $upstream', async () => {
    const { filter, sensor, alarm } = info.modules as Record<'filter' | 'sensor' | 'alarm', ModuleInfo>;
    // filter: the production path (IOTEDGE_* and the workload API), so no connection string.
    const { EdgeHubConnectionString: _cs, EdgeModuleCACertificateFile: _ca, ...workloadPath } = filter.env;
    const filterModule = start(process.execPath, [path.join(here, 'fixtures', 'filter-module.cjs')], { ...baseEnv, ...workloadPath });
    modules.push(filterModule);
    const opened = JSON.parse(await filterModule.waitFor((l) => l.includes('"open"'), 'filter open')) as { desired: { thresholdC?: number } };
    assert.equal(opened.desired.thresholdC, 30, "the twin is seeded from the manifest's desired properties");
    await filterModule.waitFor((l) => l.includes('"reported"'), 'filter reported its threshold');

    // alarm: mosquitto_sub, as the README shows, with the identity from its env file.
    const alarmSub = start(
      'bash',
      [
        '-c',
        `set -a; . '${alarm.envFile}'; set +a
         exec mosquitto_sub -h "$EDGEML_HUB_MQTT_HOST" -p "$EDGEML_HUB_MQTT_PORT" --cafile "$EDGEML_HUB_MQTT_CAFILE" -V mqttv311 \\
           -i "$EDGEML_HUB_MQTT_CLIENT_ID" -u "$EDGEML_HUB_MQTT_USERNAME" -P "$EDGEML_HUB_MQTT_PASSWORD" \\
           -q 1 -t "devices/$IOTEDGE_DEVICEID/modules/$IOTEDGE_MODULEID/inputs/#" -v`,
      ],
      baseEnv,
    );
    modules.push(alarmSub);

    // sensor: the connection-string path (EdgeHubConnectionString + EdgeModuleCACertificateFile only).
    const sensorModule = start(process.execPath, [path.join(here, 'fixtures', 'sensor-module.cjs'), '35', '20'], {
      ...baseEnv,
      EdgeHubConnectionString: sensor.env['EdgeHubConnectionString'],
      EdgeModuleCACertificateFile: sensor.env['EdgeModuleCACertificateFile'],
    });
    modules.push(sensorModule);
    await sensorModule.waitFor((l) => l.includes('"sent"') && l.includes('20'), 'both readings sent');

    // Route sensor/readings → filter/readings; filter/filtered → $upstream, and → alarm/hot only above 30 °C.
    await filterModule.waitFor(() => events(filterModule, 'input').length === 2, 'two readings delivered to filter');
    assert.deepEqual(events(filterModule, 'input').map((e) => [e['input'], e['temperature']]), [
      ['readings', '35'],
      ['readings', '20'],
    ]);
    const hot = await alarmSub.waitFor((l) => l.includes('/inputs/hot/'), 'the hot reading at alarm');
    assert.match(hot, /^devices\/edgeml-dev\/modules\/alarm\/inputs\/hot\/\S*temperature=35\S* \{"temperature":35,"filteredBy":"filter"\}$/);

    const upstream = async (): Promise<Array<{ source: string; body: { temperature: number } }>> => {
      const r = await cli(['upstream', '--workdir', workDir]);
      assert.equal(r.code, 0, r.err);
      return r.out.trim() === '' ? [] : r.out.trim().split('\n').map((l) => JSON.parse(l) as { source: string; body: { temperature: number } });
    };
    for (let i = 0; i < 100 && (await upstream()).length < 2; i++) await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual((await upstream()).map((r) => [r.source, r.body.temperature]).sort(), [
      ['/messages/modules/filter/outputs/filtered', 20],
      ['/messages/modules/filter/outputs/filtered', 35],
    ]);

    // Twins: read what the module reported, patch desired; the module sees the patch.
    const twin = await cli(['twin', 'get', 'filter', '--workdir', workDir]);
    assert.equal(twin.code, 0, twin.err);
    assert.equal((JSON.parse(twin.out) as { reported: { seenThresholdC?: number } }).reported.seenThresholdC, 30);
    const set = await cli(['--workdir', workDir, 'twin', 'set', 'filter', 'thresholdC=25']);
    assert.equal(set.code, 0, set.err);
    await filterModule.waitFor((l) => l.includes('"reported"') && l.includes('25'), 'filter reported the new threshold');

    // Methods: the module answers; a module without a method subscription is a 404 (exit 4).
    const invoked = await cli(['invoke', 'filter', 'setThreshold', '{"thresholdC":28}', '--workdir', workDir]);
    assert.equal(invoked.code, 0, invoked.err);
    assert.deepEqual(JSON.parse(invoked.out), { status: 200, payload: { thresholdC: 28, accepted: true } });
    const notThere = await cli(['invoke', 'alarm', 'ring', '--workdir', workDir]);
    assert.equal(notThere.code, 4, notThere.err);

    const status = JSON.parse((await cli(['status', '--workdir', workDir])).out) as { mode: string; hub: { connected: string[] } };
    assert.equal(status.mode, 'hub');
    assert.deepEqual(status.hub.connected, ['alarm', 'filter', 'sensor']);

    // The hub's own metrics (edgeHub's names).
    const metrics = await (await fetch(info.hub.metricsUrl)).text();
    assert.match(metrics, /^edgehub_messages_received_total\{[^}]*route_output="readings",id="edgeml-dev\/sensor"[^}]*\} 2$/m);
  });

  it('stops on SIGINT, exits 0 and removes its runtime.json (the CLI then says nothing runs)', async () => {
    assert.ok(existsSync(path.join(workDir, 'runtime.json')));
    assert.equal(await hubProcess.stop('SIGINT'), 0);
    assert.ok(!existsSync(path.join(workDir, 'runtime.json')));
    assert.equal((await cli(['status', '--workdir', workDir])).code, 3);
  });
});
