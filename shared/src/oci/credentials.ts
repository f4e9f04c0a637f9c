/**
 * Registry credentials and transport from the environment — never from a twin. Variables:
 *
 * | variable | what |
 * |---|---|
 * | `EDGEML_REGISTRY_USERNAME`, `EDGEML_REGISTRY_PASSWORD` (or `EDGEML_REGISTRY_PASSWORD_FILE`, re-read on every pull) | Basic credentials: an ACR token or admin user, a service principal, the null-GUID user with an ACR refresh token |
 * | `EDGEML_REGISTRY_SERVER` | the one registry those credentials are sent to (unset: any registry named) |
 * | `CONTAINER_REGISTRY_SERVER`, `CONTAINER_REGISTRY_USERNAME`, `CONTAINER_REGISTRY_PASSWORD` | the deployment manifest's registry credentials, used for that server when the `EDGEML_` ones are not set |
 * | `EDGEML_REGISTRY_AAD_TOKEN` (or `_FILE`), `EDGEML_REGISTRY_TENANT` | an Entra ID access token for ACR's token exchange |
 * | `EDGEML_REGISTRY_PLAIN_HTTP` | comma-separated `host[:port]` spoken to over http; loopback hosts always are |
 */
import { readFile } from 'node:fs/promises';
import { EdgeMLError, errorMessage } from '../errors.js';
import type { RegistryCredentials } from './registry/types.js';

type Env = Readonly<Record<string, string | undefined>>;

const set = (v: string | undefined): v is string => v !== undefined && v !== '';
const hostOnly = (registry: string): string => registry.replace(/:\d+$/, '').replace(/^\[|\]$/g, '').toLowerCase();

/** True for a registry on this machine (`localhost`, `127.x.x.x`, `::1`): spoken to over http. */
export function isLoopbackRegistry(registry: string): boolean {
  const host = hostOnly(registry);
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** Whether to use http for `registry`: loopback, or listed in EDGEML_REGISTRY_PLAIN_HTTP. */
export function plainHttpFor(registry: string, env: Env): boolean {
  if (isLoopbackRegistry(registry)) return true;
  const listed = (env['EDGEML_REGISTRY_PLAIN_HTTP'] ?? '').split(',').map((s) => s.trim().toLowerCase()).filter((s) => s !== '');
  return listed.includes(registry.toLowerCase()) || listed.includes(hostOnly(registry));
}

async function valueOrFile(env: Env, name: string): Promise<string | undefined> {
  if (set(env[name])) return env[name];
  const file = env[`${name}_FILE`];
  if (!set(file)) return undefined;
  try {
    return (await readFile(file, 'utf8')).trim();
  } catch (err: unknown) {
    throw new EdgeMLError('CONFIG_INVALID', `${name}_FILE (${file}) cannot be read: ${errorMessage(err)}`, { cause: err });
  }
}

/**
 * The credentials for `registry` (anonymous when none apply).
 * @throws EdgeMLError CONFIG_INVALID (a user name without a password, an unreadable secret file)
 */
export async function registryCredentialsFromEnv(registry: string, env: Env): Promise<RegistryCredentials> {
  const same = (server: string | undefined): boolean => !set(server) || server.toLowerCase() === registry.toLowerCase();
  const aad = await valueOrFile(env, 'EDGEML_REGISTRY_AAD_TOKEN');
  if (aad !== undefined && same(env['EDGEML_REGISTRY_SERVER'])) return { aadAccessToken: aad, ...(set(env['EDGEML_REGISTRY_TENANT']) ? { tenant: env['EDGEML_REGISTRY_TENANT'] } : {}) };
  if (set(env['EDGEML_REGISTRY_USERNAME'])) {
    if (!same(env['EDGEML_REGISTRY_SERVER'])) return {};
    const password = await valueOrFile(env, 'EDGEML_REGISTRY_PASSWORD');
    if (password === undefined) throw new EdgeMLError('CONFIG_INVALID', 'EDGEML_REGISTRY_USERNAME is set without EDGEML_REGISTRY_PASSWORD (or EDGEML_REGISTRY_PASSWORD_FILE)');
    return { username: env['EDGEML_REGISTRY_USERNAME'], password };
  }
  const server = env['CONTAINER_REGISTRY_SERVER'];
  if (set(server) && server.toLowerCase() === registry.toLowerCase() && set(env['CONTAINER_REGISTRY_USERNAME']) && set(env['CONTAINER_REGISTRY_PASSWORD'])) {
    return { username: env['CONTAINER_REGISTRY_USERNAME'], password: env['CONTAINER_REGISTRY_PASSWORD'] };
  }
  return {};
}
