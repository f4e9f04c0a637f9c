/**
 * Registry test helpers: the real CNCF distribution registry on a loopback port (anonymous, or
 * with htpasswd Basic auth), a model package made in code, and a raw OCI distribution client made
 * of plain `fetch` calls — independent of the project's adapter, so a test can build an artifact
 * exactly as another tool (oras) would and check that ours reads it.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import bcrypt from 'bcryptjs';
import { startLocalRegistry, type LocalRegistry } from '@edgeml/runtime';

export interface TestRegistry extends LocalRegistry {
  close(): Promise<void>;
}

/** Starts docker-registry in a temp folder; with `auth`, Basic credentials are required. */
export async function startTestRegistry(options: { auth?: { username: string; password: string }; relativeUrls?: boolean } = {}): Promise<TestRegistry> {
  const dir = await mkdtemp(path.join(tmpdir(), 'edgeml-registry-'));
  let htpasswdFile: string | undefined;
  if (options.auth !== undefined) {
    htpasswdFile = path.join(dir, 'htpasswd');
    await writeFile(htpasswdFile, `${options.auth.username}:${bcrypt.hashSync(options.auth.password, 5)}\n`);
  }
  const registry = await startLocalRegistry({ dir, ...(htpasswdFile === undefined ? {} : { htpasswdFile }), ...(options.relativeUrls === true ? { relativeUrls: true } : {}) });
  return {
    ...registry,
    async close() {
      await registry.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export const digestOf = (bytes: Uint8Array): string => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

/** Plain-HTTP OCI distribution calls (spec v1.1), no client library. */
export function rawOci(baseUrl: string, authorization?: string) {
  const headers = (extra: Record<string, string> = {}): Record<string, string> => ({ ...extra, ...(authorization === undefined ? {} : { authorization }) });
  return {
    /** POST an upload session, then PUT the whole blob with ?digest= (monolithic upload). */
    async pushBlob(repository: string, bytes: Uint8Array): Promise<{ digest: string; size: number }> {
      const digest = digestOf(bytes);
      const start = await fetch(`${baseUrl}/v2/${repository}/blobs/uploads/`, { method: 'POST', headers: headers({ 'content-length': '0' }) });
      if (start.status !== 202) throw new Error(`POST uploads: ${start.status} ${await start.text()}`);
      const location = new URL(start.headers.get('location')!, baseUrl);
      location.searchParams.set('digest', digest);
      const put = await fetch(location, { method: 'PUT', headers: headers({ 'content-type': 'application/octet-stream' }), body: bytes });
      if (put.status !== 201) throw new Error(`PUT blob: ${put.status} ${await put.text()}`);
      return { digest, size: bytes.length };
    },
    async pushManifest(repository: string, reference: string, manifest: unknown, mediaType = 'application/vnd.oci.image.manifest.v1+json'): Promise<string> {
      const bytes = Buffer.from(JSON.stringify(manifest));
      const put = await fetch(`${baseUrl}/v2/${repository}/manifests/${reference}`, { method: 'PUT', headers: headers({ 'content-type': mediaType }), body: bytes });
      if (put.status !== 201) throw new Error(`PUT manifest: ${put.status} ${await put.text()}`);
      return digestOf(bytes);
    },
  };
}

/** A ustar header block for one member (512 bytes). `size` may exceed what follows (a hostile header). */
export function tarHeader(name: string, size: number, type: '0' | '2' | '5' = '0', linkName = ''): Buffer {
  const h = Buffer.alloc(512);
  h.write(name, 0, 100, 'utf8');
  h.write('0000644\0', 100, 'ascii');
  h.write('0000000\0', 108, 'ascii');
  h.write('0000000\0', 116, 'ascii');
  // Sizes past 8 GiB do not fit 11 octal digits: GNU base-256 (high bit set), as GNU tar writes them.
  if (size < 8 ** 11) h.write(`${size.toString(8).padStart(11, '0')}\0`, 124, 'ascii');
  else {
    h[124] = 0x80;
    let v = BigInt(size);
    for (let i = 135; i > 124; i--) {
      h[i] = Number(v & 0xffn);
      v >>= 8n;
    }
  }
  h.write('00000000000\0', 136, 'ascii');
  h.write(type, 156, 'ascii');
  h.write(linkName, 157, 100, 'utf8');
  h.write('ustar\0', 257, 'ascii');
  h.write('00', 263, 'ascii');
  h.fill(' ', 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'ascii');
  return h;
}

/** A tar of regular files (and raw extra blocks), ended by two zero blocks. */
export function tarOf(files: readonly { name: string; data: Buffer }[], extra: readonly Buffer[] = []): Buffer {
  const parts: Buffer[] = [];
  for (const f of files) {
    parts.push(tarHeader(f.name, f.data.length), f.data, Buffer.alloc((512 - (f.data.length % 512)) % 512));
  }
  parts.push(...extra, Buffer.alloc(1024));
  return Buffer.concat(parts);
}

/** Runs `edgeml <argv>` in process (the real CLI), JSON output; returns the exit code and what it printed. */
export async function runEdgeml(argv: readonly string[], env: Readonly<Record<string, string | undefined>> = {}, cwd = process.cwd()): Promise<{ code: number; stdout: string; stderr: string; json: Record<string, unknown> | undefined }> {
  const { runCli } = await import('@edgeml/runtime');
  let stdout = '';
  let stderr = '';
  const code = await runCli(argv, { env: { ...env }, cwd, stdoutIsTty: false, write: (t) => (stdout += t), warn: (l) => (stderr += `${l}\n`), signal: new AbortController().signal });
  let json: Record<string, unknown> | undefined;
  try {
    json = JSON.parse(stdout) as Record<string, unknown>;
  } catch {
    json = undefined;
  }
  return { code, stdout, stderr, json };
}

/** A model package folder (model.onnx + manifest.json) for `edgeml model push`. */
export async function writePackageDir(dir: string, model: Buffer, manifest: Record<string, unknown>): Promise<string> {
  const { mkdir } = await import('node:fs/promises');
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, 'model.onnx'), model);
  await writeFile(path.join(dir, 'manifest.json'), JSON.stringify({ schema: 'edgeml.model-manifest/v1', ...manifest }, null, 2));
  return dir;
}
