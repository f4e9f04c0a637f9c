/**
 * A small Dockerfile reader for static checks and the container-build rehearsal: instructions with their
 * line numbers, stages, COPY sources. Covers what the suite's Dockerfiles use (line continuations, comments,
 * shell and JSON exec forms, `--flag=value` options); it is not a full BuildKit parser.
 */

export interface Instruction {
  /** Upper-case keyword: FROM, RUN, COPY, … */
  readonly keyword: string;
  /** Everything after the keyword, continuations joined with a space. */
  readonly args: string;
  /** 1-based line of the keyword. */
  readonly line: number;
}

export interface Stage {
  /** Base image or earlier stage name as written in FROM. */
  readonly from: string;
  /** `AS <name>`, lower-cased; undefined when unnamed. */
  readonly name: string | undefined;
  readonly index: number;
  readonly instructions: readonly Instruction[];
}

export interface CopyInstruction {
  /** `--from=<stage or image>`, when present. */
  readonly from: string | undefined;
  readonly sources: readonly string[];
  readonly destination: string;
  readonly line: number;
}

/** Splits a Dockerfile into instructions (comments and parser directives dropped, continuations joined). */
export function parseInstructions(text: string): Instruction[] {
  const out: Instruction[] = [];
  const lines = text.split(/\r?\n/);
  let current: { parts: string[]; line: number } | undefined;
  lines.forEach((raw, i) => {
    const trimmed = raw.trim();
    if (trimmed.startsWith('#')) return;
    if (current === undefined && trimmed === '') return;
    const continued = /\\\s*$/.test(raw);
    const content = continued ? raw.replace(/\\\s*$/, '') : raw;
    if (current === undefined) current = { parts: [content.trim()], line: i + 1 };
    else current.parts.push(content.trim());
    if (!continued) {
      const joined = current.parts.filter((p) => p !== '').join(' ');
      const m = /^(\S+)\s*(.*)$/s.exec(joined);
      if (m !== null) out.push({ keyword: (m[1] ?? '').toUpperCase(), args: (m[2] ?? '').trim(), line: current.line });
      current = undefined;
    }
  });
  return out;
}

/** Groups instructions into stages (anything before the first FROM, such as global ARGs, is dropped). */
export function parseStages(text: string): Stage[] {
  const stages: Stage[] = [];
  let current: { from: string; name: string | undefined; instructions: Instruction[] } | undefined;
  for (const ins of parseInstructions(text)) {
    if (ins.keyword === 'FROM') {
      if (current !== undefined) stages.push({ ...current, index: stages.length });
      const words = ins.args.split(/\s+/).filter((w) => !w.startsWith('--'));
      const asAt = words.findIndex((w) => w.toUpperCase() === 'AS');
      current = { from: words[0] ?? '', name: asAt >= 0 ? words[asAt + 1]?.toLowerCase() : undefined, instructions: [ins] };
    } else if (current !== undefined) current.instructions.push(ins);
  }
  if (current !== undefined) stages.push({ ...current, index: stages.length });
  return stages;
}

/** Splits `--flag=value` options from the rest of an instruction's arguments. */
export function splitFlags(args: string): { flags: Record<string, string>; rest: string } {
  const flags: Record<string, string> = {};
  let rest = args;
  for (;;) {
    const m = /^--([a-z-]+)(?:=(\S*))?\s*/.exec(rest);
    if (m === null) break;
    flags[m[1] ?? ''] = m[2] ?? '';
    rest = rest.slice(m[0].length);
  }
  return { flags, rest };
}

/** Words of a shell-form argument list or the items of a JSON exec form. */
export function argumentList(rest: string): string[] {
  const trimmed = rest.trim();
  if (trimmed.startsWith('[')) {
    try {
      const parsed: unknown = JSON.parse(trimmed);
      if (Array.isArray(parsed) && parsed.every((p) => typeof p === 'string')) return parsed as string[];
    } catch {
      // Not valid JSON: Docker then treats it as shell form, and so does this reader.
    }
  }
  return trimmed.split(/\s+/).filter((w) => w !== '');
}

/** The COPY (and ADD) instructions of a stage. */
export function copyInstructions(stage: Stage): CopyInstruction[] {
  return stage.instructions
    .filter((i) => i.keyword === 'COPY' || i.keyword === 'ADD')
    .map((i) => {
      const { flags, rest } = splitFlags(i.args);
      const list = argumentList(rest);
      return { from: flags['from'], sources: list.slice(0, -1), destination: list[list.length - 1] ?? '', line: i.line };
    });
}

/** Last WORKDIR of a stage up to (not including) an instruction line; `/` when none. */
export function workdirAt(stage: Stage, line: number): string {
  let dir = '/';
  for (const i of stage.instructions) {
    if (i.line >= line) break;
    if (i.keyword === 'WORKDIR') {
      const next = i.args.trim();
      dir = next.startsWith('/') ? next : `${dir.replace(/\/$/, '')}/${next}`;
    }
  }
  return dir;
}

/** The `npm ci …` command of a stage's RUN instructions (one `&&`-separated segment), if any. */
export function npmCiCommand(stage: Stage): string | undefined {
  for (const i of stage.instructions) {
    if (i.keyword !== 'RUN') continue;
    for (const segment of i.args.split(/&&|;/)) {
      const s = segment.trim();
      if (/^npm\s+ci(\s|$)/.test(s)) return s;
    }
  }
  return undefined;
}

/**
 * Where the image's production install happens: the final stage's own `npm ci`, or the `npm ci` of a stage
 * the final stage copies wholesale (`COPY --from=deps /app ./`, a dependencies stage that keeps the compiler
 * out of the image).
 */
export function productionInstall(stages: readonly Stage[]): { stage: Stage; command: string } | undefined {
  const final = stages[stages.length - 1];
  if (final === undefined) return undefined;
  const own = npmCiCommand(final);
  if (own !== undefined) return { stage: final, command: own };
  for (const copy of copyInstructions(final)) {
    const from = copy.from === undefined ? undefined : stages.find((s) => s.name === copy.from?.toLowerCase());
    if (from === undefined || !copiesWholeStage(from, copy)) continue;
    const command = npmCiCommand(from);
    if (command !== undefined) return { stage: from, command };
  }
  return undefined;
}

/** True when a `COPY --from=<stage>` takes that stage's whole WORKDIR (`COPY --from=deps /app ./`). */
export function copiesWholeStage(from: Stage, copy: CopyInstruction): boolean {
  const workdir = workdirAt(from, Number.MAX_SAFE_INTEGER).replace(/\/+$/, '');
  return copy.sources.length === 1 && (copy.sources[0] ?? '').replace(/\/+$/, '') === workdir;
}

/** `ENV` keys of a stage (both `ENV A=1 B=2` and the legacy `ENV A 1`). */
export function envOf(stage: Stage): Record<string, string> {
  const env: Record<string, string> = {};
  for (const i of stage.instructions.filter((x) => x.keyword === 'ENV')) {
    const pairs = [...i.args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("(?:[^"\\]|\\.)*"|\S*)/g)];
    if (pairs.length > 0) for (const p of pairs) env[p[1] ?? ''] = (p[2] ?? '').replace(/^"|"$/g, '');
    else {
      const m = /^(\S+)\s+(.*)$/.exec(i.args);
      if (m !== null) env[m[1] ?? ''] = m[2] ?? '';
    }
  }
  return env;
}

const SECRET_NAME = /(PASSWORD|PASSWD|SECRET|TOKEN|CONNECTION_?STRING|SAS|ACCOUNT_?KEY|API_?KEY|PRIVATE_?KEY|CREDENTIAL)/i;
const SECRET_VALUE = /(AccountKey=|SharedAccessSignature=|[?&]sig=|-----BEGIN [A-Z ]*PRIVATE KEY-----)/;
const EXACT_VERSION_TAG = /:(?:[^:@/]*?)\d+\.\d+\.\d+[^:@/]*$/;

/** Generic static checks of one Dockerfile; each problem names the line. */
export function checkDockerfile(text: string): string[] {
  const problems: string[] = [];
  const stages = parseStages(text);
  if (stages.length === 0) return ['no FROM instruction'];
  const stageNames = new Set<string>();
  for (const stage of stages) {
    const fromLine = stage.instructions[0]?.line ?? 0;
    if (!stageNames.has(stage.from.toLowerCase())) {
      if (stage.from.includes('$')) problems.push(`line ${fromLine}: base image "${stage.from}" is set by a build argument; pin it in the Dockerfile`);
      else if (!EXACT_VERSION_TAG.test(stage.from) || /:latest$/.test(stage.from)) {
        problems.push(`line ${fromLine}: base image "${stage.from}" is not pinned to an exact version tag (e.g. node:22.12.0-bookworm-slim)`);
      }
    }
    if (stage.name !== undefined) stageNames.add(stage.name);
    for (const i of stage.instructions) {
      if (i.keyword === 'ADD' && /(^|\s)(https?:\/\/|git@|[a-z]+:\/\/)/i.test(i.args)) problems.push(`line ${i.line}: ADD of a URL; download in a RUN step with a checksum, or COPY from the context`);
      if (i.keyword === 'ENV' || i.keyword === 'ARG') {
        const names = [...i.args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)(=|\s|$)/g)].map((m) => m[1] ?? '');
        const declared = i.keyword === 'ENV' ? Object.keys(envOf({ ...stage, instructions: [i] })) : names.slice(0, 1);
        for (const name of declared) if (SECRET_NAME.test(name)) problems.push(`line ${i.line}: ${i.keyword} ${name} looks like a secret; secrets come from the deployment's env at run time`);
      }
      if (SECRET_VALUE.test(i.args)) problems.push(`line ${i.line}: ${i.keyword} contains what looks like a credential`);
      if (i.keyword === 'COPY' || i.keyword === 'ADD') {
        const { rest } = splitFlags(i.args);
        const sources = argumentList(rest).slice(0, -1);
        for (const s of sources) if (/(^|\/)\.env(\.|$)|\.pem$|\.key$|id_rsa/.test(s)) problems.push(`line ${i.line}: ${i.keyword} of "${s}", which may hold secrets`);
      }
    }
  }
  const final = stages[stages.length - 1] as Stage;
  const users = final.instructions.filter((i) => i.keyword === 'USER');
  const lastUser = users[users.length - 1];
  if (lastUser === undefined) problems.push('the final stage has no USER: the container would run as root');
  else if (/^(root|0)(:|$)/.test(lastUser.args.trim())) problems.push(`line ${lastUser.line}: the final stage runs as root`);
  if (!final.instructions.some((i) => i.keyword === 'HEALTHCHECK' && !/^NONE$/i.test(i.args.trim()))) problems.push('the final stage has no HEALTHCHECK');
  if (!final.instructions.some((i) => i.keyword === 'CMD' || i.keyword === 'ENTRYPOINT')) problems.push('the final stage has no CMD or ENTRYPOINT');
  return problems;
}
