import assert from 'node:assert/strict';
import { appendFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { cliUsage, COMMANDS, EXIT_CODES, parseGlobalArgs, runCli, statusExitCode, upstreamLine } from '@edgeml/runtime';

/** A stand-in for the runtime's control API: answers from a table, records what it was asked. */
async function fakeControl(answers: Record<string, { status: number; body: unknown }>): Promise<{ url: string; requests: string[]; close(): Promise<void> }> {
  const requests: string[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const key = `${req.method} ${req.url}`;
      requests.push(body === '' ? key : `${key} ${body}`);
      const a = answers[key] ?? { status: 404, body: { error: `unknown control request ${key}` } };
      res.writeHead(a.status, { 'content-type': 'application/json' }).end(JSON.stringify(a.body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return { url: `http://127.0.0.1:${port}`, requests, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

async function run(argv: string[], options: { tty?: boolean; cwd?: string; env?: Record<string, string> } = {}): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli(argv, {
    env: options.env ?? {},
    cwd: options.cwd ?? '/',
    stdoutIsTty: options.tty ?? false,
    write: (t) => (out += t),
    warn: (l) => (err += `${l}\n`),
    signal: new AbortController().signal,
  });
  return { code, out, err };
}

describe('edgeml CLI', () => {
  let dir: string;
  let control: Awaited<ReturnType<typeof fakeControl>>;
  const statusBody = {
    mode: 'suite',
    elapsedMs: 12_000,
    processes: [
      { name: 'watcher', state: 'running', pid: 11, restarts: 0 },
      { name: 'uploader', state: 'running', pid: 12, restarts: 1 },
    ],
    modules: { watcher: { counts: { detected: 3, completed: 2 }, activity: { windowMs: 60_000, items: 2, perSecond: 0.03, p50Ms: 1800, p99Ms: 2400 } }, uploader: { counts: { uploaded: 5 } } },
    hub: { connected: ['uploader', 'watcher'], metricsPort: 9999 },
    upstreamCount: 7,
  };
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'edgeml-cli-'));
    control = await fakeControl({
      'GET /status': { status: 200, body: statusBody },
      'GET /twin/watcher': { status: 200, body: { desired: { a: { b: 1 } }, reported: { config: { status: 'applied' } } } },
      'PATCH /twin/watcher': { status: 200, body: { version: 4 } },
      'PATCH /twin/nobody': { status: 500, body: { error: 'module nobody is not known to the hub' } },
      'POST /invoke/watcher/getStatus': { status: 200, body: { status: 200, payload: { ok: true } } },
      'POST /invoke/gone/getStatus': { status: 200, body: { status: 404, payload: { message: 'module gone is not connected' } } },
      'POST /invoke/slow/getStatus': { status: 200, body: { status: 504, payload: { message: 'did not answer' } } },
      'POST /invoke/watcher/rescan': { status: 200, body: { status: 400, payload: { problems: ['x'] } } },
    });
    await writeFile(path.join(dir, 'upstream.jsonl'), `${JSON.stringify({ receivedAt: 't1', source: 'inferencer/results', properties: { label: '0' }, body: { score: 0.9 } })}\n`);
    await writeFile(path.join(dir, 'runtime.json'), JSON.stringify({ controlUrl: control.url, upstreamJournal: path.join(dir, 'upstream.jsonl'), logsDir: dir }));
  });
  after(async () => {
    await control.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('takes --workdir anywhere on the command line, relative to the caller (INIT_CWD under npm)', async () => {
    assert.deepEqual(parseGlobalArgs(['status', '--workdir', 'x']), { workDir: 'x', json: false, help: false, rest: ['status'] });
    assert.deepEqual(parseGlobalArgs(['--workdir=x', 'twin', 'get', 'm', '--json']), { workDir: 'x', json: true, help: false, rest: ['twin', 'get', 'm'] });
    assert.deepEqual(parseGlobalArgs(['invoke', 'm', 'x', '--', '--workdir']).rest, ['invoke', 'm', 'x', '--workdir']);
    for (const argv of [['--workdir', dir, 'status'], ['status', '--workdir', dir], ['status', `--workdir=${dir}`]]) {
      const r = await run(argv);
      assert.equal(r.code, 0, r.err);
      assert.equal((JSON.parse(r.out) as { upstreamCount: number }).upstreamCount, 7);
    }
    const relative = await run(['status', '--workdir', path.basename(dir)], { cwd: '/', env: { INIT_CWD: path.dirname(dir) } });
    assert.equal(relative.code, 0, relative.err);
  });

  it('prints JSON when stdout is not a terminal and a table on a terminal', async () => {
    const piped = await run(['status', '--workdir', dir]);
    assert.deepEqual(JSON.parse(piped.out), statusBody);
    const tty = await run(['status', '--workdir', dir], { tty: true });
    assert.throws(() => JSON.parse(tty.out) as unknown);
    assert.match(tty.out, /^module\s+state\s+pid\s+restarts\s+last minute\s+counts$/m);
    assert.match(tty.out, /^watcher\s+running\s+11\s+0\s+0\.03\/s p50 1\.8 s p99 2\.4 s\s+detected=3 completed=2$/m);
    assert.match(tty.out, /^uploader\s+running\s+12\s+1\s+-\s+uploaded=5$/m);
    assert.match(tty.out, /hub metrics http:\/\/127\.0\.0\.1:9999\/metrics/);
    const forced = await run(['status', '--workdir', dir, '--json'], { tty: true });
    assert.deepEqual(JSON.parse(forced.out), statusBody);
    const twin = await run(['twin', 'get', 'watcher', '--workdir', dir], { tty: true });
    assert.match(twin.out, /^desired\.a\.b\s+1$/m);
    assert.match(twin.out, /^reported\.config\.status\s+applied$/m);
  });

  it('exits 4 on a 404 method answer, 5 on 504, 6 on another error status, 0 on 200', async () => {
    assert.equal((await run(['invoke', 'watcher', 'getStatus', '--workdir', dir])).code, EXIT_CODES.ok);
    const gone = await run(['invoke', 'gone', 'getStatus', '--workdir', dir]);
    assert.equal(gone.code, EXIT_CODES.methodNotFound);
    assert.equal((JSON.parse(gone.out) as { status: number }).status, 404, 'the answer is still printed');
    assert.equal((await run(['invoke', 'slow', 'getStatus', '--workdir', dir])).code, EXIT_CODES.methodTimeout);
    const bad = await run(['invoke', 'watcher', 'rescan', '{"x":1}', '--workdir', dir]);
    assert.equal(bad.code, EXIT_CODES.methodFailed);
    assert.ok(control.requests.includes('POST /invoke/watcher/rescan {"x":1}'), control.requests.join('\n'));
  });

  it('status is non-zero when a module does not answer getStatus', () => {
    assert.equal(statusExitCode({ modules: { a: { counts: {} } } }), EXIT_CODES.ok);
    assert.equal(statusExitCode({ modules: { a: { error: 'getStatus answered 404', status: 404 } } }), EXIT_CODES.methodNotFound);
    assert.equal(statusExitCode({ modules: { a: { error: 'x', status: 404 }, b: { error: 'y', status: 504 } } }), EXIT_CODES.methodTimeout);
    assert.equal(statusExitCode({ modules: { a: { error: 'socket closed' } } }), EXIT_CODES.failed);
  });

  it('twin set sends a merge patch; a refused patch exits 1 with the runtime\'s reason', async () => {
    const ok = await run(['twin', 'set', 'watcher', 'a.b=2', 'gone=null', '--workdir', dir]);
    assert.equal(ok.code, 0, ok.err);
    assert.ok(control.requests.includes('PATCH /twin/watcher {"a":{"b":2},"gone":null}'), control.requests.join('\n'));
    const refused = await run(['twin', 'set', 'nobody', 'a=1', '--workdir', dir]);
    assert.equal(refused.code, EXIT_CODES.failed);
    assert.match(refused.err, /module nobody is not known/);
  });

  it('exits 3 when nothing runs in the work folder, 2 on usage errors', async () => {
    const none = await run(['status', '--workdir', path.join(dir, 'absent')]);
    assert.equal(none.code, EXIT_CODES.notRunning);
    assert.match(none.err, /nothing is running in/);
    assert.equal((await run(['frobnicate'])).code, EXIT_CODES.usage);
    assert.equal((await run(['status', '--workdir'])).code, EXIT_CODES.usage);
    assert.equal((await run(['twin', 'set', 'watcher', '--workdir', dir])).code, EXIT_CODES.usage);
    assert.equal((await run(['twin', 'set', 'watcher', 'novalue', '--workdir', dir])).code, EXIT_CODES.usage);
    assert.equal((await run([])).code, EXIT_CODES.usage);
    const help = await run(['--help']);
    assert.equal(help.code, 0);
    for (const c of COMMANDS) assert.ok(help.out.includes(c.usage.split('\n')[0]!), `usage lists ${c.name}`);
    assert.equal(help.out, `${cliUsage()}\n`);
  });

  it('upstream prints the journal: JSON lines when piped, one readable line per message on a terminal', async () => {
    const piped = await run(['upstream', '--workdir', dir]);
    assert.equal((JSON.parse(piped.out.trim()) as { source: string }).source, 'inferencer/results');
    const tty = await run(['upstream', '--workdir', dir], { tty: true });
    assert.equal(tty.out, `${upstreamLine(piped.out.trim())}\n`);
    assert.match(tty.out, /^t1 {2}inferencer\/results {2}\[label=0\] {2}\{"score":0\.9\}$/m);
  });

  it('results prints one line per source file (JSON object when piped), also from a stopped run, and follows changes', async () => {
    const source = { path: 'inbox/sample-08.jpg', sha256: '81fdc7f2', sizeBytes: 3920, detectedAt: '2026-12-04T09:33:26.406Z' };
    const record = (receivedAt: string, body: Record<string, unknown>): string => `${JSON.stringify({ receivedAt, source: '/messages/modules/x/outputs/results', properties: {}, body: { id: '81fdc7f2', source, ...body } })}\n`;
    const det = record('2026-12-04T09:33:29.100Z', { schema: 'edgeml.inference.result/v1', part: 'result:det', model: { name: 'paddleocr-det', version: '1' }, outputs: { boxes: [{ score: 0.99 }], boxCount: 1 } });
    const read = (text: string): string =>
      record('2026-12-04T09:33:30.992Z', { schema: 'edgeml.chain.result/v1', part: 'chain:ocr', chain: 'ocr', items: [{ text, confidence: 0.9811, accepted: true }], text, upsideDown: false });
    const journal = path.join(dir, 'results.jsonl');
    await writeFile(journal, `${det}not json\n${record('t', { schema: 'edgeml.alert/v1', module: 'watcher' })}${read('Line 7 Stop')}`);
    const workDir = path.join(dir, 'results-run');
    await mkdir(workDir, { recursive: true });
    await writeFile(path.join(workDir, 'runtime.json'), JSON.stringify({ controlUrl: control.url, upstreamJournal: journal, logsDir: dir }));

    const tty = await run(['results', '--workdir', workDir], { tty: true });
    assert.equal(tty.code, 0, tty.err);
    assert.equal(tty.out, 'inbox/sample-08.jpg  text "Line 7 Stop" (1 line, conf 0.98)  det 1 box\n');
    const piped = await run(['results', '--workdir', workDir]);
    const objects = piped.out.trim().split('\n').map((l) => JSON.parse(l) as { file: string; text?: string; boxes?: number });
    assert.deepEqual(objects.map((o) => [o.file, o.text, o.boxes]), [['inbox/sample-08.jpg', 'Line 7 Stop', 1]]);

    // A stopped runtime removed its runtime.json; the journal it left in hub/ is still read.
    const stopped = path.join(dir, 'stopped-run');
    await mkdir(path.join(stopped, 'hub'), { recursive: true });
    await writeFile(path.join(stopped, 'hub', 'upstream.jsonl'), `${det}${read('Line 7 Stop')}`);
    assert.equal((await run(['results', '--workdir', stopped], { tty: true })).out, tty.out);
    assert.equal((await run(['results', '--workdir', path.join(dir, 'absent')])).code, EXIT_CODES.notRunning);
    assert.equal((await run(['results', '--now', '--workdir', workDir])).code, EXIT_CODES.usage);

    let out = '';
    const stop = new AbortController();
    const following = runCli(['results', '--follow', '--workdir', workDir], { env: {}, cwd: '/', stdoutIsTty: true, write: (t) => (out += t), warn: () => undefined, signal: stop.signal });
    const until = async (re: RegExp): Promise<void> => {
      for (let i = 0; i < 100 && !re.test(out); i++) await new Promise((resolve) => setTimeout(resolve, 50));
      assert.match(out, re);
    };
    await until(/Line 7 Stop/);
    await appendFile(journal, `${record('t', { schema: 'edgeml.alert/v1', module: 'watcher' })}${read('Line 8 Go')}`);
    await until(/Line 8 Go/);
    stop.abort();
    assert.equal(await following, EXIT_CODES.ok);
    assert.deepEqual(out.trim().split('\n'), [
      'inbox/sample-08.jpg  text "Line 7 Stop" (1 line, conf 0.98)  det 1 box',
      '09:33:30  inbox/sample-08.jpg  text "Line 8 Go" (1 line, conf 0.98)  det 1 box',
    ]);
  });
});
