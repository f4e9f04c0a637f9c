import { describeFile, FileResults, type FileSummary } from '../../results.js';
import { EXIT_CODES, usageError, type CliCommand, type CliContext } from '../command.js';
import { upstreamJournalOf } from '../control-client.js';
import { readLines } from '../follow.js';

/** A journal line as a record; a line that is not JSON is not a result (the journal is written by the hub only). */
function parseRecord(line: string): unknown {
  try {
    return JSON.parse(line) as unknown;
  } catch {
    return undefined;
  }
}

/** `09:33:30` from an ISO time; empty when it is not one. */
function timeOfDay(iso: string): string {
  const m = /T(\d\d:\d\d:\d\d)/.exec(iso);
  return m === null ? '' : m[1]!;
}

function printFile(ctx: CliContext, file: FileSummary, withTime: boolean): void {
  if (ctx.json) ctx.write(`${JSON.stringify(file)}\n`);
  else ctx.write(`${withTime ? `${timeOfDay(file.updatedAt)}  ` : ''}${describeFile(file)}\n`);
}

export const resultsCommand: CliCommand = {
  name: 'results',
  usage: 'results [--follow]                   one line per source file with what was inferred (JSON: one object per file); --follow adds a file\'s line again when it changes',
  async run(args, ctx) {
    const follow = args.includes('--follow') || args.includes('-f');
    const extra = args.filter((a) => a !== '--follow' && a !== '-f');
    if (extra.length > 0) throw usageError(`results takes only --follow, got ${extra.join(' ')}`);
    const journal = await upstreamJournalOf(ctx.workDir);
    const fold = new FileResults();
    let caughtUp = false;
    const printAll = (): void => {
      caughtUp = true;
      const files = fold.summaries();
      if (files.length === 0 && !ctx.json) ctx.warn(`no inference results in ${journal} yet`);
      for (const f of files) printFile(ctx, f, false);
    };
    await readLines(journal, {
      follow,
      signal: ctx.signal,
      onCaughtUp: printAll,
      onLine: (line) => {
        const key = fold.add(parseRecord(line));
        if (!caughtUp || key === undefined) return;
        const file = fold.summary(key);
        if (file !== undefined) printFile(ctx, file, true);
      },
    });
    if (!follow) printAll();
    return EXIT_CODES.ok;
  },
};
