import { EXIT_CODES, usageError, type CliCommand } from '../command.js';
import { callControl, readRuntimeInfo } from '../control-client.js';
import { buildPatch } from '../patch.js';
import { renderTree, toJson } from '../render.js';

export const twinCommand: CliCommand = {
  name: 'twin',
  usage: 'twin get <module>                    desired and reported properties\n  twin set <module> <path>=<value>…    patch desired properties (value parsed as JSON, else a string; null deletes)',
  async run(args, ctx) {
    const [sub, mod, ...assignments] = args;
    if ((sub !== 'get' && sub !== 'set') || mod === undefined) throw usageError('twin needs get|set and a module name');
    const info = await readRuntimeInfo(ctx.workDir);
    const route = `/twin/${encodeURIComponent(mod)}`;
    if (sub === 'get') {
      if (assignments.length > 0) throw usageError(`twin get takes one module name, got ${args.join(' ')}`);
      const twin = await callControl(info, 'GET', route);
      ctx.write(ctx.json ? toJson(twin) : `${renderTree(twin)}\n`);
      return EXIT_CODES.ok;
    }
    if (assignments.length === 0) throw usageError('twin set needs at least one <path>=<value>');
    let patch: Record<string, unknown>;
    try {
      patch = buildPatch(assignments);
    } catch (err: unknown) {
      throw usageError((err as Error).message);
    }
    const reply = (await callControl(info, 'PATCH', route, patch)) as { version?: number };
    ctx.write(ctx.json ? toJson(reply) : `desired properties of ${mod} are now at $version ${String(reply.version)}\n`);
    return EXIT_CODES.ok;
  },
};
