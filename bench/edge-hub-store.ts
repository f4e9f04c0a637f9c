/**
 * The edge hub's SQLite store alone, as the group commit drives it (prints, never asserts):
 *
 *   node --conditions=@edgeml/source --import tsx bench/edge-hub-store.ts [--store <src folder>] [--messages N] [--group G] [--reps R]
 *
 * Commits `--messages` messages (1 KiB body, the system properties an output event carries) in groups of
 * `--group`, each commit also deleting the previous group (acknowledged in the meantime, as in the bench's
 * steady state), in a fresh hub.db per repetition; prints the process CPU time and the wall time per
 * message. Under `strace -f -c -e trace=pwrite64,fsync` the syscall counts are a load-independent measure
 * of the WAL writes. `--store` compares another version's store.ts (default: this checkout's).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { openHubStore as OpenHubStore, NewMessage } from '@edgeml/edge-hub';
import { arg, count } from './hub-args.js';

const SOURCE = path.resolve(arg('store', 'deployment/edge-hub/src'));
const MESSAGES = count('messages', 40_000);
const GROUP = count('group', 12);
const REPS = count('reps', 3);
const { openHubStore } = (await import(path.join(SOURCE, 'store.ts'))) as { openHubStore: typeof OpenHubStore };

const body = Buffer.alloc(1024, 0x61);
const row = (i: number, now: number): NewMessage => ({
  endpoint: 'receiver/in',
  priority: 0,
  enqueuedAtMs: now,
  expiresAtMs: now + 7_200_000,
  sizeBytes: 1100,
  systemProperties: {
    messageId: String(i),
    outputName: 'out',
    connectionDeviceId: 'edgeml-dev',
    connectionModuleId: 'sender',
    edgeMessageId: '3f1c2b9a-4d5e-4f60-8a71-92b3c4d5e6f7',
    edgeHubOriginInterface: 'internal',
  },
  properties: { seq: String(i) },
  routeName: 'bench',
  fromModule: 'sender',
  fromOutput: 'out',
  body: Buffer.from(body),
});

console.log(`edge hub store: ${MESSAGES} messages of 1 KiB in commits of ${GROUP}, each deleting the previous group; ${SOURCE}`);
for (let rep = 0; rep < REPS; rep++) {
  const dir = mkdtempSync(path.join(tmpdir(), 'edgeml-bench-hub-store-'));
  const store = openHubStore(dir);
  try {
    let acknowledged: number[] = [];
    const cpu0 = process.cpuUsage();
    const started = performance.now();
    for (let i = 0; i < MESSAGES; i += GROUP) {
      const now = Date.now();
      const rows = Array.from({ length: Math.min(GROUP, MESSAGES - i) }, (_, j) => row(i + j, now));
      acknowledged = store.commit(rows, acknowledged);
    }
    const cpu = process.cpuUsage(cpu0);
    const wallUs = (performance.now() - started) * 1000;
    console.log(
      `  rep ${rep}: cpu ${((cpu.user + cpu.system) / MESSAGES).toFixed(2)} µs/msg (user ${(cpu.user / MESSAGES).toFixed(2)}, system ${(cpu.system / MESSAGES).toFixed(2)}), wall ${(wallUs / MESSAGES).toFixed(2)} µs/msg`,
    );
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
