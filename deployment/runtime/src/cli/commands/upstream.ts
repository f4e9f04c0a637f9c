import { EXIT_CODES, usageError, type CliCommand } from '../command.js';
import { readRuntimeInfo } from '../control-client.js';
import { readLines } from '../follow.js';

/** One journal record as a line for a person: time, source, properties, body (cut at 160 characters). */
export function upstreamLine(jsonLine: string): string {
  try {
    const r = JSON.parse(jsonLine) as { receivedAt?: string; source?: unknown; properties?: Record<string, string>; body?: unknown };
    const props = Object.entries(r.properties ?? {})
      .map(([k, v]) => `${k}=${v}`)
      .join(' ');
    const body = typeof r.body === 'string' ? r.body : JSON.stringify(r.body);
    return `${r.receivedAt ?? '?'}  ${String(r.source ?? '?')}  [${props}]  ${body.length > 160 ? `${body.slice(0, 159)}…` : body}`;
  } catch {
    return jsonLine; // not a record: shown as it is
  }
}

export const upstreamCommand: CliCommand = {
  name: 'upstream',
  usage: 'upstream [--follow]                  the $upstream journal (JSON lines; one line per message on a terminal)',
  async run(args, ctx) {
    const follow = args.includes('--follow') || args.includes('-f');
    const extra = args.filter((a) => a !== '--follow' && a !== '-f');
    if (extra.length > 0) throw usageError(`upstream takes only --follow, got ${extra.join(' ')}`);
    const info = await readRuntimeInfo(ctx.workDir);
    await readLines(info.upstreamJournal, { follow, signal: ctx.signal, onLine: (line) => ctx.write(`${ctx.json ? line : upstreamLine(line)}\n`) });
    return EXIT_CODES.ok;
  },
};
