#!/usr/bin/env node
// The `edgeml` command (package bin): committed so that `npx edgeml …` works right after `npm ci`.
// It runs the built CLI (dist/) when the build is current, otherwise the TypeScript sources through tsx
// (a devDependency of the repository), so a fresh clone or an edited source never runs stale code.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const packageDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const builtEntry = path.join(packageDir, 'dist', 'bin', 'edgeml.js');
const sourceEntry = path.join(packageDir, 'src', 'bin', 'edgeml.ts');

/** Newest modification time of any file under dir (0 when absent). */
function newestMtimeMs(dir) {
  let newest = 0;
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true, recursive: true });
  } catch {
    return 0;
  }
  for (const e of entries) {
    if (!e.isFile()) continue;
    newest = Math.max(newest, statSync(path.join(e.parentPath ?? e.path, e.name)).mtimeMs);
  }
  return newest;
}

/** This package and the workspace packages it depends on (@edgeml/*), transitively, as folders. */
function workspaceClosure(dir, seen = new Map()) {
  if (seen.has(dir)) return seen;
  seen.set(dir, true);
  const manifest = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8'));
  for (const name of Object.keys(manifest.dependencies ?? {})) {
    if (!name.startsWith('@edgeml/')) continue;
    const linked = path.join(packageDir, '..', '..', 'node_modules', ...name.split('/'));
    if (existsSync(linked)) workspaceClosure(realpathSync(linked), seen);
  }
  return seen;
}

/** The build is current when every package's last build (its tsbuildinfo) is newer than its sources. */
function buildIsCurrent() {
  if (!existsSync(builtEntry)) return false;
  for (const dir of workspaceClosure(packageDir).keys()) {
    const info = path.join(dir, 'tsconfig.tsbuildinfo');
    if (!existsSync(info) || statSync(info).mtimeMs < newestMtimeMs(path.join(dir, 'src'))) return false;
  }
  return true;
}

function tsxLoader() {
  try {
    return import.meta.resolve('tsx');
  } catch {
    return undefined;
  }
}

const loader = buildIsCurrent() ? undefined : tsxLoader();
if (loader === undefined) {
  if (!existsSync(builtEntry)) {
    console.error('edgeml: neither a build nor tsx is available: run `npm ci` (installs tsx) or `npx tsc -b deployment/runtime`');
    process.exit(1);
  }
  await import(pathToFileURL(builtEntry).href);
} else {
  // Workspace packages resolve to their TypeScript sources through the @edgeml/source export condition.
  // `--` ends node's own options: Node 20 would otherwise take an `--env-file` among the user's arguments.
  const userArgs = process.argv.slice(2);
  if (userArgs[0] === '--') userArgs.shift();
  const child = spawn(process.execPath, ['--import', loader, '--conditions=@edgeml/source', sourceEntry, '--', ...userArgs], { stdio: 'inherit' });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => child.kill(signal));
  child.on('exit', (code, signal) => {
    if (signal !== null) {
      process.removeAllListeners(signal);
      process.kill(process.pid, signal);
    }
    else process.exit(code ?? 1);
  });
}
