/**
 * Child process for the kill -9 test: delivers the messages in CHILD_MESSAGES to a real uploader
 * app (memory edge client, real queue on CHILD_DATA_ROOT, real Azurite) and prints `ENQUEUED`, then
 * `DONE <id>` per final completion (not `held`), until the parent kills it. DONE is written synchronously when the
 * hub accepts the completion, before the uploader can forget it (its outbox), so the parent's view
 * of what was acknowledged is exact.
 */
import { writeSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dataPaths, type CompletionMessage, type OutgoingMessage } from '@edgeml/shared';
import { startApp } from './fixtures.js';

const paths = dataPaths(process.env['CHILD_DATA_ROOT'] ?? '');
const messages = JSON.parse(await readFile(process.env['CHILD_MESSAGES'] ?? '', 'utf8')) as object[];
const desired = JSON.parse(process.env['CHILD_DESIRED'] ?? '{}') as Record<string, unknown>;
const t = await startApp(paths, { EDGEML_STORAGE_CONNECTION_STRING: process.env['EDGEML_STORAGE_CONNECTION_STRING'] }, desired);
const send = t.edge.sendOutput.bind(t.edge);
t.edge.sendOutput = async (output: string, message: OutgoingMessage): Promise<void> => {
  await send(output, message);
  const c = message.body as CompletionMessage;
  if (output === 'completed' && c.outcome !== 'held') writeSync(1, `DONE ${c.id}\n`);
};
for (const m of messages) await t.edge.deliver('artifacts', m);
writeSync(1, 'ENQUEUED\n');
