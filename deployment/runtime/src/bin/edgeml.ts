#!/usr/bin/env node
// The `edgeml` CLI: talks to a running local runtime through its control API (runtime.json).
import { createReadStream, existsSync, watch } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildPatch, CLI_USAGE, parseValue } from '../cli/commands.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');

interface RuntimeInfo {
  controlUrl: string;
  upstreamJournal: string;
  logsDir: string;
}

async function info(workDir: string): Promise<RuntimeInfo> {
  const file = path.join(workDir, 'runtime.json');
  if (!existsSync(file)) throw new Error(`no running runtime found (${file} is missing): start one with npm start`);
  return JSON.parse(await readFile(file, 'utf8')) as RuntimeInfo;
}

async function call(rt: RuntimeInfo, method: string, route: string, body?: unknown): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(`${rt.controlUrl}${route}`, { method, ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }) });
  } catch (err: unknown) {
    throw new Error(`the runtime at ${rt.controlUrl} does not answer (is npm start still running?): ${(err as Error).message}`, { cause: err });
  }
  const payload = (await res.json()) as unknown;
  if (!res.ok) throw new Error(`runtime answered ${res.status}: ${JSON.stringify(payload)}`);
  return payload;
}

/** Prints a file from `offset`, then (with follow) every line appended to it. */
async function printFile(file: string, follow: boolean): Promise<void> {
  let offset = 0;
  const dump = async (): Promise<void> => {
    const size = (await stat(file).catch(() => ({ size: 0 }))).size;
    if (size < offset) offset = 0;
    if (size === offset) return;
    await new Promise<void>((resolve, reject) => {
      const s = createReadStream(file, { start: offset, end: size - 1 });
      s.on('data', (c) => process.stdout.write(c));
      s.on('end', () => resolve());
      s.on('error', reject);
    });
    offset = size;
  };
  await dump();
  if (!follow) return;
  watch(path.dirname(file), () => void dump());
  setInterval(() => void dump(), 1_000);
  await new Promise<never>(() => undefined);
}

async function main(argv: string[]): Promise<void> {
  let workDir = path.join(repoRoot, '.edge');
  if (argv[0] === '--workdir') {
    workDir = path.resolve(argv[1] ?? '.edge');
    argv = argv.slice(2);
  }
  const [cmd, ...rest] = argv;
  const follow = rest.includes('--follow') || rest.includes('-f');
  const args = rest.filter((a) => a !== '--follow' && a !== '-f');
  const out = (v: unknown): void => console.log(JSON.stringify(v, null, 2));
  switch (cmd) {
    case 'status':
      return out(await call(await info(workDir), 'GET', '/status'));
    case 'summary':
      return out(await call(await info(workDir), 'GET', '/summary'));
    case 'upstream':
      return printFile((await info(workDir)).upstreamJournal, follow);
    case 'logs': {
      if (args[0] === undefined) throw new Error('logs needs a module name');
      return printFile(path.join((await info(workDir)).logsDir, `${args[0]}.log`), follow);
    }
    case 'twin': {
      const [sub, mod, ...assignments] = args;
      if (mod === undefined) throw new Error('twin needs get|set and a module name');
      if (sub === 'get') return out(await call(await info(workDir), 'GET', `/twin/${encodeURIComponent(mod)}`));
      if (sub === 'set') {
        if (assignments.length === 0) throw new Error('twin set needs at least one <path>=<value>');
        return out(await call(await info(workDir), 'PATCH', `/twin/${encodeURIComponent(mod)}`, buildPatch(assignments)));
      }
      throw new Error(`unknown twin command ${String(sub)}`);
    }
    case 'invoke': {
      const [mod, method, json] = args;
      if (mod === undefined || method === undefined) throw new Error('invoke needs a module and a method');
      return out(await call(await info(workDir), 'POST', `/invoke/${encodeURIComponent(mod)}/${encodeURIComponent(method)}`, json === undefined ? null : parseValue(json)));
    }
    case undefined:
    case 'help':
    case '--help':
      console.log(CLI_USAGE);
      return;
    default:
      throw new Error(`unknown command ${cmd}\n${CLI_USAGE}`);
  }
}

main(process.argv.slice(2)).then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(`edgeml: ${(err as Error).message}`);
    process.exit(1);
  },
);
