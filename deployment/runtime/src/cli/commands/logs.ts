import path from 'node:path';
import { EXIT_CODES, usageError, type CliCommand } from '../command.js';
import { readRuntimeInfo } from '../control-client.js';
import { readLines } from '../follow.js';

export const logsCommand: CliCommand = {
  name: 'logs',
  usage: 'logs <module> [--follow]             the module\'s log (pino JSON lines)',
  async run(args, ctx) {
    const follow = args.includes('--follow') || args.includes('-f');
    const [name, ...extra] = args.filter((a) => a !== '--follow' && a !== '-f');
    if (name === undefined) throw usageError('logs needs a module name');
    if (extra.length > 0) throw usageError(`logs takes one module name, got ${args.join(' ')}`);
    if (!/^[A-Za-z0-9_-]+$/.test(name)) throw usageError(`not a module name: ${name}`);
    const info = await readRuntimeInfo(ctx.workDir);
    await readLines(path.join(info.logsDir, `${name}.log`), { follow, signal: ctx.signal, onLine: (line) => ctx.write(`${line}\n`) });
    return EXIT_CODES.ok;
  },
};
