import { EXIT_CODES, usageError, type CliCommand } from '../command.js';
import { callControl, readRuntimeInfo } from '../control-client.js';
import { renderTree, toJson } from '../render.js';

export const summaryCommand: CliCommand = {
  name: 'summary',
  usage: 'summary                              the summary --until-idle prints (exit 1 while files are unaccounted for)',
  async run(args, ctx) {
    if (args.length > 0) throw usageError(`summary takes no arguments, got ${args.join(' ')}`);
    const reply = (await callControl(await readRuntimeInfo(ctx.workDir), 'GET', '/summary')) as { ok?: unknown };
    ctx.write(ctx.json ? toJson(reply) : `${renderTree(reply, ['', ''])}\n`);
    return reply.ok === true ? EXIT_CODES.ok : EXIT_CODES.failed;
  },
};
