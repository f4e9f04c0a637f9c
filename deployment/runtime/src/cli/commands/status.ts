import { formatActivity, moduleActivity, moduleCounts } from '../../status.js';
import { EXIT_CODES, exitCodeForMethodStatus, usageError, type CliCommand, type ExitCode } from '../command.js';
import { callControl, readRuntimeInfo } from '../control-client.js';
import { renderTable, toJson } from '../render.js';

interface StatusReply {
  readonly mode?: string;
  readonly elapsedMs?: number;
  readonly processes?: ReadonlyArray<{ name: string; state: string; pid?: number; restarts: number }>;
  /** getStatus answer per module, or `{ error, status? }` when it did not answer 200. */
  readonly modules?: Readonly<Record<string, unknown>>;
  readonly hub?: { connected?: readonly string[]; metricsPort?: number | null; port?: number };
  readonly upstreamCount?: number;
}

/** Non-zero when a module did not answer getStatus: the worst answer decides (504 over 404 over others). */
export function statusExitCode(reply: StatusReply): ExitCode {
  let code: ExitCode = EXIT_CODES.ok;
  for (const entry of Object.values(reply.modules ?? {})) {
    const e = entry as { error?: unknown; status?: unknown } | null;
    if (e === null || e.error === undefined) continue;
    const c = typeof e.status === 'number' ? exitCodeForMethodStatus(e.status) : EXIT_CODES.failed;
    if (code === EXIT_CODES.ok || c === EXIT_CODES.methodTimeout) code = c;
  }
  return code;
}

function renderStatus(s: StatusReply): string {
  const lines: string[] = [];
  const hub = s.hub;
  lines.push(
    `${s.mode === 'hub' ? 'local edge hub' : 'EdgeML local runtime'}: up ${((s.elapsedMs ?? 0) / 1000).toFixed(0)} s, $upstream messages ${s.upstreamCount ?? 0}` +
      (hub?.metricsPort !== undefined && hub.metricsPort !== null ? `, hub metrics http://127.0.0.1:${hub.metricsPort}/metrics` : ''),
  );
  if (hub?.connected !== undefined) lines.push(`connected to the hub: ${hub.connected.length === 0 ? '(none)' : hub.connected.join(', ')}`);
  const procs = s.processes ?? [];
  if (procs.length > 0) {
    const rows = procs.map((p) => {
      const answer = s.modules?.[p.name] as { error?: unknown } | undefined;
      const counts = moduleCounts(answer);
      const detail =
        answer?.error !== undefined
          ? `getStatus: ${String(answer.error)}`
          : Object.entries(counts)
              .map(([k, v]) => `${k}=${v}`)
              .join(' ');
      return [p.name, p.state, String(p.pid ?? '-'), String(p.restarts), formatActivity(moduleActivity(answer)) || '-', detail];
    });
    lines.push('', renderTable(['module', 'state', 'pid', 'restarts', 'last minute', 'counts'], rows));
  }
  return `${lines.join('\n')}\n`;
}

export const statusCommand: CliCommand = {
  name: 'status',
  usage: 'status                               per-module process state and getStatus counts (exit 4/5/6 when a module does not answer)',
  async run(args, ctx) {
    if (args.length > 0) throw usageError(`status takes no arguments, got ${args.join(' ')}`);
    const reply = (await callControl(await readRuntimeInfo(ctx.workDir), 'GET', '/status')) as StatusReply;
    ctx.write(ctx.json ? toJson(reply) : renderStatus(reply));
    return statusExitCode(reply);
  },
};
