import assert from 'node:assert/strict';
import {
  buildPatch,
  isIdle,
  mapContainerPath,
  parseEnv,
  parseManifest,
  parseStartArgs,
  renderLine,
  renderView,
  resolvePlaceholders,
  shouldRestart,
  storageConfigured,
  telemetryCsv,
  watcherCounts,
} from '@edgeml/runtime';

const template = {
  $schema_template: '4.0.0',
  modulesContent: {
    $edgeAgent: {
      'properties.desired': {
        modules: {
          uploader: {
            status: 'running',
            restartPolicy: 'on-failure',
            startupOrder: 2,
            settings: { image: '${MODULES.uploader}', createOptions: { HostConfig: { Binds: ['/srv/edgeml:/data', '/mnt/cloud:/data/cloudshare:ro'] } } },
            env: { EDGEML_STORAGE_CONNECTION_STRING: { value: '$EDGEML_STORAGE_CONNECTION_STRING' }, EDGEML_DATA_ROOT: { value: '/data' }, OTHER: { value: '${MISSING_VAR}x' } },
          },
          watcher: {
            status: 'running',
            restartPolicy: 'always',
            startupOrder: 1,
            settings: { image: '${MODULES.watcher}', createOptions: '{"HostConfig":{"Binds":["/srv/edgeml', createOptions01: ':/data"]}}' },
          },
          stoppedOne: { status: 'stopped', settings: { image: 'x' } },
        },
      },
    },
    $edgeHub: { 'properties.desired': { schemaVersion: '1.2', routes: {} } },
    watcher: { 'properties.desired': { maxInFlight: 10 } },
  },
};

describe('runtime: manifest, env, args, CLI, status (pure)', () => {
  it('parses .env files', () => {
    assert.deepEqual(parseEnv('# c\nA=1\nexport B="two words"\nC=\'x#y\'\nD=val # comment\nbad line\n\nE='), { A: '1', B: 'two words', C: 'x#y', D: 'val', E: '' });
  });

  it('resolves placeholders and records missing variables', () => {
    const missing = new Set<string>();
    assert.deepEqual(resolvePlaceholders({ a: ['$X', '${Y}-z', '${MODULES.watcher}'] }, { X: '1', Y: '2' }, missing), { a: ['1', '2-z', 'local/watcher:dev'] });
    assert.equal(resolvePlaceholders('FROM /messages/* INTO $upstream', {}, missing), 'FROM /messages/* INTO $upstream');
    assert.equal(resolvePlaceholders('$NOPE', {}, missing), '$NOPE');
    assert.deepEqual([...missing], ['NOPE']);
  });

  it('reads modules in startup order with env, binds (object or chunked createOptions), policy and desired twin', () => {
    const m = parseManifest(template, { EDGEML_STORAGE_CONNECTION_STRING: 'UseDevelopmentStorage=true' });
    assert.deepEqual(
      m.modules.map((x) => x.name),
      ['watcher', 'uploader', 'stoppedOne'],
    );
    const [watcher, uploader, stopped] = m.modules;
    assert.equal(watcher!.restartPolicy, 'always');
    assert.deepEqual(watcher!.binds, [{ hostPath: '/srv/edgeml', containerPath: '/data', readOnly: false }]);
    assert.deepEqual(watcher!.desired, { maxInFlight: 10 });
    assert.equal(uploader!.restartPolicy, 'on-failure');
    assert.equal(uploader!.env['EDGEML_STORAGE_CONNECTION_STRING'], 'UseDevelopmentStorage=true');
    assert.equal(uploader!.binds[1]!.readOnly, true);
    assert.equal(stopped!.status, 'stopped');
    assert.deepEqual(m.unresolved, ['MISSING_VAR']);
    assert.equal(uploader!.env['OTHER'], '', 'an env value with an unresolved variable is passed empty');
    assert.throws(() => parseManifest({ modulesContent: 3 }, {}), /modulesContent must be an object/);
  });

  it('maps container paths of the /data volume into the work folder', () => {
    assert.equal(mapContainerPath('/data', '/w/data'), '/w/data');
    assert.equal(mapContainerPath('/data/cloudshare', '/w/data'), '/w/data/cloudshare');
    assert.equal(mapContainerPath('/elsewhere/x', '/w/data'), '/w/data/_mounts/elsewhere/x');
    assert.equal(mapContainerPath('/data/../etc', '/w/data'), '/w/data/_mounts/etc');
  });

  it('parses start options and refuses unknown ones', () => {
    assert.deepEqual(parseStartArgs(['--until-idle', '--no-demo', '--workdir', '/tmp/x', '--hub-port', '0', '--idle-timeout', '60']), {
      workDir: '/tmp/x',
      manifest: undefined,
      envFile: undefined,
      hubMetricsPort: undefined,
      untilIdle: true,
      demo: false,
      hubPort: 0,
      idleTimeoutS: 60,
      help: false,
    });
    const other = parseStartArgs(['--manifest', 'deployment.debug.template.json', '--env-file', 'dev.env', '--hub-metrics-port', '9601']);
    assert.deepEqual([other.manifest, other.envFile, other.hubMetricsPort], ['deployment.debug.template.json', 'dev.env', 9601]);
    assert.throws(() => parseStartArgs(['--manifest']), /needs a value/);
    assert.throws(() => parseStartArgs(['--frobnicate']), /unknown option --frobnicate/);
    assert.throws(() => parseStartArgs(['--hub-port', '-1']), /non-negative integer/);
    assert.throws(() => parseStartArgs(['--workdir']), /needs a value/);
  });

  it('builds twin patches from path=value assignments', () => {
    assert.deepEqual(buildPatch(['batching.maxBatchSize=16', 'batching.maxQueueDelayMs=5', 'label=cat', 'gone=null', 'obj={"a":1}']), {
      batching: { maxBatchSize: 16, maxQueueDelayMs: 5 },
      label: 'cat',
      gone: null,
      obj: { a: 1 },
    });
    assert.throws(() => buildPatch(['novalue']), /expected <path>=<value>/);
    assert.throws(() => buildPatch(['a..b=1']), /empty path segment/);
  });

  it('applies restart policies as edgeAgent does', () => {
    const ok = { code: 0, signal: null };
    const crash = { code: 1, signal: null };
    const killed = { code: null, signal: 'SIGKILL' };
    assert.deepEqual([shouldRestart('never', crash, false), shouldRestart('always', ok, false)], [false, true]);
    assert.deepEqual([shouldRestart('on-failure', ok, false), shouldRestart('on-failure', crash, false), shouldRestart('on-failure', killed, false)], [false, true, true]);
    assert.deepEqual([shouldRestart('on-unhealthy', ok, true), shouldRestart('on-unhealthy', ok, false)], [true, false]);
  });

  it('is idle only when the inbox was scanned and every detected file is closed', () => {
    const base = { initialScanDone: true, counts: { detected: 6, completed: 4, deadLettered: 1, gone: 1, inFlight: 0, pending: 0, waiting: 0 } };
    assert.equal(isIdle(base), true);
    assert.equal(isIdle({ ...base, initialScanDone: false }), false);
    assert.equal(isIdle({ ...base, counts: { ...base.counts, inFlight: 1 } }), false);
    assert.equal(isIdle({ ...base, counts: { ...base.counts, pending: 2 } }), false);
    assert.equal(isIdle({ ...base, counts: { ...base.counts, completed: 3 } }), false);
    assert.equal(isIdle({ ...base, counts: { ...base.counts, waiting: 1 } }), false, 'a file still stabilising keeps the run busy');
    assert.equal(isIdle({ error: 'timeout' }), false);
    assert.equal(watcherCounts(null), undefined);
  });

  it('renders the live view and plain lines', () => {
    const model = {
      elapsedMs: 12_000,
      processes: [
        { name: 'watcher', state: 'running' as const, pid: 42, restarts: 1, lastExit: undefined },
        { name: 'inferencer', state: 'running' as const, pid: 43, restarts: 0, lastExit: undefined },
      ],
      statuses: {
        watcher: { counts: { detected: 10, completed: 5, deadLettered: 1, inFlight: 4, pending: 0 }, activity: { windowMs: 60_000, items: 5, perSecond: 0.5, p50Ms: 2150, p99Ms: 12_400 } },
        inferencer: { counts: { results: 9 }, activity: { windowMs: 60_000, items: 0, perSecond: 0, p50Ms: null, p99Ms: null } },
      },
      upstreamCount: 7,
      latestResults: ['inbox/a.png → cls label=0 score=0.990'],
      errors: ['transformer INPUT_MALFORMED: truncated'],
    };
    const view = renderView(model);
    assert.match(view, /\[#+\.+\] 6\/10/);
    assert.match(view, /watcher\s+running\s+0\.50\/s p50 2\.1 s p99 12 s\s+detected=10 .* restarts=1/);
    assert.match(view, /inferencer\s+running\s+0\.00\/s p50 - p99 -\s+results=9$/m);
    assert.match(view, /INPUT_MALFORMED/);
    assert.match(renderLine(model), /t=12s upstream=7 watcher:running\(detected=10 .* 0\.50\/s\)/);
  });

  it('generates telemetry CSV with missing values and quoted commas', () => {
    const csv = telemetryCsv(30).trim().split('\n');
    assert.equal(csv.length, 31);
    assert.equal(csv[0], 'timestamp,device,temperature_c,humidity_pct,door_open,note');
    assert.ok(csv.some((l) => l.includes('"check seal, door 2"')));
    assert.ok(csv.some((l) => /,,/.test(l)));
  });

  it('starts no Azurite when storage comes from a secret file only (regression: _FILE credentials were ignored)', () => {
    assert.equal(storageConfigured({}), false);
    assert.equal(storageConfigured({ EDGEML_STORAGE_CONNECTION_STRING: '', EDGEML_STORAGE_CONTAINER_SAS_URL: '' }), false);
    assert.equal(storageConfigured({ EDGEML_STORAGE_CONNECTION_STRING: 'DefaultEndpointsProtocol=https;AccountName=a' }), true);
    assert.equal(storageConfigured({ EDGEML_STORAGE_CONTAINER_SAS_URL_FILE: '/run/secrets/sas' }), true);
    assert.equal(storageConfigured({ EDGEML_STORAGE_CONNECTION_STRING_FILE: '/run/secrets/cs' }), true);
  });
});

