/**
 * The sink pauses, it does not quarantine: credentials refused (expired, revoked, insufficient) or a
 * sink that does not answer stop every upload, raise one alert and resume by themselves. The app
 * runs for real around a scripted sink whose behaviour follows the credentials it was built with.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createMemoryEdgeClient, dataPaths, EdgeMLError, Registry, type AlertMessage, type CompletionMessage, type DataPaths } from '@edgeml/shared';
import { CREDENTIAL_ENV, createUploaderApp, md5Base64, type StorageCredentials, type UploadRequest, type UploadResult, type UploadSink } from '@edgeml/uploader';
import { config, logger, sha, sleep, stagedArtifact } from './fixtures.js';



const denied = (): EdgeMLError => new EdgeMLError('SINK_PERMISSION_DENIED', 'upload refused (403 AuthenticationFailed): the SAS expired');

/** What the scripted "service" does: which secrets it accepts, and which names it refuses whatever the secret. */
class Service {
  readonly accepted = new Set<string>();
  readonly refusedNames = new Set<string>();
  checks = 0;
  uploads = 0;
  /** A network failure to answer with instead (no answer at all), for checks and uploads alike. */
  unreachable: (() => Error | undefined) | undefined;
  readonly perName = new Map<string, number>();
}

class ScriptedSink implements UploadSink {
  readonly kind = 'blob' as const;
  readonly target = 'fake://container';
  constructor(
    private readonly service: Service,
    private readonly secret: string,
  ) {}
  checkAccess(): Promise<void> {
    this.service.checks++;
    const down = this.service.unreachable?.();
    if (down !== undefined) return Promise.reject(down);
    return this.service.accepted.has(this.secret) ? Promise.resolve() : Promise.reject(denied());
  }
  async upload(request: UploadRequest): Promise<UploadResult> {
    this.service.uploads++;
    this.service.perName.set(request.name, (this.service.perName.get(request.name) ?? 0) + 1);
    await sleep(5);
    const down = this.service.unreachable?.();
    if (down !== undefined) throw down;
    if (!this.service.accepted.has(this.secret) || [...this.service.refusedNames].some((n) => request.name.includes(n))) throw denied();
    return { name: request.name, md5: md5Base64(Buffer.from(request.name)), sizeBytes: request.sizeBytes, outcome: 'created', bytesSent: request.sizeBytes, blocksStaged: 0, blocksSkipped: 0 };
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}


describe('uploader sink state: pause, alert once, resume', function () {
  this.timeout(20_000);
  let paths: DataPaths;
  let secretFile: string;
  beforeEach(async () => {
    paths = dataPaths(await mkdtemp(path.join(tmpdir(), 'usink-')));
    await mkdir(paths.staging, { recursive: true });
    secretFile = path.join(paths.root, 'sas-url');
  });
  afterEach(async () => {
    await rm(paths.root, { recursive: true, force: true });
  });

  const start = async (service: Service, desired: Record<string, unknown>) => {
    const edge = createMemoryEdgeClient({ deviceId: 'd' });
    const built: string[] = [];
    const app = createUploaderApp(
      { edge, logger, registry: new Registry(), paths, env: { [CREDENTIAL_ENV.containerSasUrlFile]: secretFile }, now: () => new Date() },
      {
        random: () => 0,
        createSink: (_cfg, _limiter, credentials: StorageCredentials | undefined) => {
          built.push(credentials?.value ?? '(none)');
          return new ScriptedSink(service, credentials?.value ?? '');
        },
      },
    );
    await app.configure(config({ concurrency: 2, maxAttempts: 3, retry: { initialDelayMs: 10, maxDelayMs: 20 }, sinkProbe: { initialDelayMs: 20, maxDelayMs: 100 }, credentialsRefreshIntervalMs: 1_000, ...desired }), undefined);
    await app.start();
    const sinkStatus = () => (app.status() as { sink: { state: string; code?: string; cause?: string; credentials?: { from: string } } }).sink;
    return {
      edge,
      app,
      built,
      sinkStatus,
      completions: () => edge.sentTo('completed').map((m) => m.json as CompletionMessage).filter((c) => c.outcome !== 'held'),
      alerts: () => edge.sentTo('alerts').map((m) => m.json as AlertMessage),
    };
  };

  it('the SAS expires mid-backlog and is rotated through the secret file: nothing quarantined, one alert, every item uploaded', async () => {
    const service = new Service();
    service.accepted.add('sas-1');
    await writeFile(secretFile, 'sas-1\n');
    const t = await start(service, {});
    try {
      const messages = [];
      for (let i = 0; i < 12; i++) messages.push(await stagedArtifact(paths, i));
      for (const m of messages.slice(0, 4)) await t.edge.deliver('artifacts', m);
      assert.ok(await t.app.idle(5_000));
      assert.equal(t.completions().length, 4);
      // The SAS expires: the service refuses it from now on.
      service.accepted.delete('sas-1');
      for (const m of messages.slice(4)) await t.edge.deliver('artifacts', m);
      await sleep(600);
      assert.equal(t.sinkStatus().state, 'paused');
      assert.equal(t.sinkStatus().code, 'SINK_PERMISSION_DENIED');
      assert.equal(t.sinkStatus().cause, 'credentials');
      assert.equal(t.sinkStatus().credentials?.from, CREDENTIAL_ENV.containerSasUrlFile);
      assert.equal(t.app.ready().ready, false);
      assert.match(t.app.ready().reasons.join(), /uploads paused/);
      const uploadsWhilePaused = service.uploads;
      await sleep(400);
      assert.equal(service.uploads, uploadsWhilePaused, 'no upload is attempted while paused');
      assert.ok(service.checks <= 12, `the access check backs off (${service.checks} checks)`);
      assert.equal(t.completions().filter((c) => c.outcome !== 'uploaded').length, 0, 'nothing dead-lettered');
      // The platform writes a new SAS into the file; the uploader picks it up without a restart.
      service.accepted.add('sas-2');
      await writeFile(secretFile, 'sas-2\n');
      assert.ok(await t.app.idle(8_000), 'the backlog drains after the rotation');
      assert.equal(t.built.at(-1), 'sas-2');
      assert.equal(t.sinkStatus().state, 'ready');
      assert.equal(t.completions().length, 12);
      assert.ok(t.completions().every((c) => c.outcome === 'uploaded'));
      const s = t.app.status() as { totals: { quarantined: number; deadLettered: number } };
      assert.deepEqual([s.totals.quarantined, s.totals.deadLettered], [0, 0]);
      const alerts = t.alerts();
      assert.equal(alerts.length, 1, JSON.stringify(alerts));
      assert.deepEqual([alerts[0]?.severity, alerts[0]?.code], ['critical', 'SINK_PERMISSION_DENIED']);
    } finally {
      await t.app.stop(AbortSignal.timeout(5_000));
    }
  });

  it('an item refused while the sink accepts other writes is the item’s own fault: charged attempts, quarantined, no pause/resume loop', async () => {
    const service = new Service();
    service.accepted.add('sas-1');
    service.refusedNames.add(sha('src-1'));
    await writeFile(secretFile, 'sas-1');
    const t = await start(service, { concurrency: 1 });
    try {
      for (let i = 0; i < 4; i++) await t.edge.deliver('artifacts', await stagedArtifact(paths, i));
      assert.ok(await t.app.idle(8_000));
      const bad = t.completions().find((c) => c.id === sha('src-1'));
      assert.deepEqual([bad?.outcome, bad?.code], ['deadLettered', 'SINK_PERMISSION_DENIED']);
      assert.equal(t.completions().filter((c) => c.outcome === 'uploaded').length, 3);
      // First refusal pauses (the sink's fault until proven otherwise); then maxAttempts charged tries.
      assert.equal([...service.perName.entries()].find(([n]) => n.includes(sha('src-1')))?.[1], 1 + 3);
      assert.equal(t.sinkStatus().state, 'ready');
    } finally {
      await t.app.stop(AbortSignal.timeout(5_000));
    }
  });

  it('an unreachable sink: a single dropped connection pauses briefly without an alert; an outage raises one warning', async () => {
    const service = new Service();
    service.accepted.add('sas-1');
    await writeFile(secretFile, 'sas-1');
    let dropNext = 0;
    let outage = false;
    // A dropped connection answers one upload; an outage answers every request.
    service.unreachable = () => (outage || dropNext-- > 0 ? Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }) : undefined);
    try {
      const t = await start(service, { concurrency: 1 });
      try {
        dropNext = 1;
        for (let i = 0; i < 3; i++) await t.edge.deliver('artifacts', await stagedArtifact(paths, i));
        assert.ok(await t.app.idle(5_000));
        assert.equal(t.completions().length, 3);
        assert.deepEqual(t.alerts(), [], 'a blip is no alert');
        outage = true;
        for (let i = 3; i < 6; i++) await t.edge.deliver('artifacts', await stagedArtifact(paths, i));
        await sleep(800);
        assert.deepEqual([t.sinkStatus().state, t.sinkStatus().cause], ['paused', 'unreachable']);
        assert.deepEqual(t.alerts().map((a) => [a.severity, a.code]), [['warning', 'SINK_UNAVAILABLE']]);
        assert.equal(t.app.ready().ready, true, 'queueing while offline is normal operation');
        outage = false;
        assert.ok(await t.app.idle(5_000));
        assert.equal(t.completions().length, 6);
        assert.equal(t.alerts().length, 1);
      } finally {
        await t.app.stop(AbortSignal.timeout(5_000));
      }
    } finally {
      service.unreachable = undefined;
    }
  });

  it('an unreadable secret file leaves items queued (unconfigured); once the file appears, uploads start', async () => {
    const service = new Service();
    service.accepted.add('sas-1');
    const t = await start(service, {});
    try {
      await t.edge.deliver('artifacts', await stagedArtifact(paths, 0));
      await sleep(200);
      assert.equal(t.sinkStatus().state, 'unconfigured');
      assert.equal(t.sinkStatus().code, 'CONFIG_INVALID');
      assert.equal(t.completions().length, 0);
      assert.equal(t.alerts().length, 1);
      await writeFile(secretFile, 'sas-1');
      assert.ok(await t.app.idle(5_000));
      assert.deepEqual(t.completions().map((c) => c.outcome), ['uploaded']);
    } finally {
      await t.app.stop(AbortSignal.timeout(5_000));
    }
  });
});
