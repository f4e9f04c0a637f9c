import { exitCodeForMethodStatus, usageError, type CliCommand } from '../command.js';
import { callControl, readRuntimeInfo } from '../control-client.js';
import { parseValue } from '../patch.js';
import { renderTree, toJson } from '../render.js';

export const invokeCommand: CliCommand = {
  name: 'invoke',
  usage: 'invoke <module> <method> [json]      call a direct method (exit 4 on 404, 5 on 504, 6 on another error status)',
  async run(args, ctx) {
    const [mod, method, json, ...extra] = args;
    if (mod === undefined || method === undefined) throw usageError('invoke needs a module and a method');
    if (extra.length > 0) throw usageError(`invoke takes one payload argument (quote the JSON), got ${extra.length + 1}`);
    const info = await readRuntimeInfo(ctx.workDir);
    const reply = (await callControl(info, 'POST', `/invoke/${encodeURIComponent(mod)}/${encodeURIComponent(method)}`, json === undefined ? null : parseValue(json))) as {
      status: number;
      payload: unknown;
    };
    ctx.write(ctx.json ? toJson(reply) : `${mod} ${method} answered ${reply.status}\n${renderTree(reply.payload)}\n`);
    return exitCodeForMethodStatus(reply.status);
  },
};
