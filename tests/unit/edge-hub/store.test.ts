/**
 * The hub's SQLite store on its own (real SQLite): message numbers, deletes of any set of numbers in
 * one commit, and a hub.db in the earlier schema (AUTOINCREMENT) opened with its queued messages.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';
import { EdgeMLError } from '@edgeml/shared';
import { openHubStore, type HubStore, type NewMessage } from '@edgeml/edge-hub';
import { writeOldHubDb } from '../../integration/edge-hub/fixtures/old-hub-db.js';

const Database = createRequire(new URL('../../../deployment/edge-hub/package.json', import.meta.url))('better-sqlite3') as typeof BetterSqlite3;

function row(n: number, endpoint = 'b/in'): NewMessage {
  return {
    endpoint,
    priority: 0,
    enqueuedAtMs: 1_000,
    expiresAtMs: undefined,
    sizeBytes: 10,
    systemProperties: { messageId: `m${n}` },
    properties: {},
    routeName: 'r',
    fromModule: 'a',
    fromOutput: 'out',
    body: Buffer.from(`body-${n}`),
  };
}

const ids = (store: HubStore, endpoint = 'b/in'): Array<string | undefined> => store.load(endpoint, 2_000, undefined, 100).map((m) => m.systemProperties['messageId']);

describe('edge-hub store', () => {
  let dir: string;
  let store: HubStore | undefined;

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'edgeml-store-'));
  });

  afterEach(async () => {
    store?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('deletes exactly the numbers given, consecutive or not, in any order, in one commit', () => {
    store = openHubStore(dir);
    const seqs = store.commit([1, 2, 3, 4, 5, 6, 7, 8].map((n) => row(n)), []);
    assert.deepEqual(
      seqs.map((s) => s - seqs[0]!),
      [0, 1, 2, 3, 4, 5, 6, 7],
    );
    const [s1, s2, s3, s4, , s6, s7] = seqs as [number, number, number, number, number, number, number, number];
    // Two runs (s2-s4 given out of order, s6-s7) and a single (s1); s5 and s8 stay.
    store.commit([], [s4, s1, s7, s2, s6, s3]);
    assert.deepEqual(ids(store), ['m5', 'm8']);
  });

  it('numbers keep rising in the process after the highest is deleted, and after a reopen', () => {
    store = openHubStore(dir);
    const [a, b] = store.commit([row(1), row(2)], []) as [number, number];
    store.commit([], [b]);
    const [c] = store.commit([row(3)], []) as [number];
    assert.ok(c > b, `seq ${c} after a deleted ${b}`);
    store.close();
    store = openHubStore(dir);
    const [d] = store.commit([row(4)], []) as [number];
    assert.ok(d > c && c > a);
    assert.deepEqual(ids(store), ['m1', 'm3', 'm4']);
  });

  it('opens a hub.db of the earlier schema (AUTOINCREMENT): its messages keep their numbers and order, new ones come after', () => {
    writeOldHubDb(
      dir,
      [
        { endpoint: 'b/in', priority: 0, messageId: 'old-1', body: 'one' },
        { endpoint: 'c/in', priority: 0, messageId: 'old-2', body: 'two' },
        { endpoint: 'b/in', priority: 0, messageId: 'old-3', body: 'three' },
      ],
      5,
    );
    store = openHubStore(dir);
    const loaded = store.load('b/in', 2_000, undefined, 10);
    assert.deepEqual(
      loaded.map((m) => [m.seq, m.systemProperties['messageId'], m.body.toString(), m.properties['old']]),
      [
        [6, 'old-1', 'one', 'yes'],
        [8, 'old-3', 'three', 'yes'],
      ],
    );
    assert.deepEqual(ids(store, 'c/in'), ['old-2']);
    const [next] = store.commit([row(9)], [6]) as [number];
    assert.equal(next, 9);
    assert.deepEqual(ids(store), ['old-3', 'm9']);
    store.close();
    store = undefined;

    const db = new Database(path.join(dir, 'hub.db'), { readonly: true });
    try {
      const schema = db.prepare("SELECT name, sql FROM sqlite_master WHERE tbl_name = 'messages' ORDER BY name").all() as Array<{ name: string; sql: string }>;
      assert.deepEqual(
        schema.map((s) => s.name),
        ['messages', 'messages_by_expiry', 'messages_by_queue'],
      );
      assert.doesNotMatch(schema[0]!.sql, /AUTOINCREMENT/i);
    } finally {
      db.close();
    }
    // A second open finds today's schema and changes nothing.
    store = openHubStore(dir);
    assert.deepEqual(ids(store), ['old-3', 'm9']);
  });

  it('a hub.db that is not a database is refused as STATE_CORRUPT, naming the file', async () => {
    await writeFile(path.join(dir, 'hub.db'), Buffer.alloc(8192, 0x5a));
    assert.throws(
      () => openHubStore(dir),
      (err: unknown) => err instanceof EdgeMLError && err.code === 'STATE_CORRUPT' && err.message.includes(path.join(dir, 'hub.db')),
    );
  });
});
