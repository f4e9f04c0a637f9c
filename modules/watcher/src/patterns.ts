import { createRequire } from 'node:module';
import path from 'node:path';

/** picomatch is CommonJS without bundled types; this is the slice of its API the watcher uses. */
type Matcher = (input: string) => boolean;
type Picomatch = (glob: string | readonly string[], options?: { dot?: boolean; basename?: boolean; strictSlashes?: boolean }) => Matcher;
const picomatch = createRequire(import.meta.url)('picomatch') as Picomatch;

/** Why a path is not a candidate. */
export type FilterReason = 'notIncluded' | 'excluded' | 'tempName' | 'marker';

export type FilterVerdict = { readonly accepted: true } | { readonly accepted: false; readonly reason: FilterReason };

export interface PathFilterOptions {
  readonly include: readonly string[];
  readonly exclude: readonly string[];
  readonly ignoredNames: readonly string[];
  readonly markerMode: boolean;
  readonly markerSuffix: string;
}

/** A compiled path filter: takes a POSIX path relative to the inbox. */
export type PathFilter = (relPath: string) => FilterVerdict;

/** Compiles globs one by one so a bad one is named. */
export function compileGlobs(globs: readonly string[]): { matcher: Matcher } | { problems: string[] } {
  const problems: string[] = [];
  const matchers: Matcher[] = [];
  for (const glob of globs) {
    try {
      matchers.push(picomatch(glob, { dot: true }));
    } catch (err: unknown) {
      problems.push(`invalid glob ${JSON.stringify(glob.slice(0, 80))}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  if (problems.length > 0) return { problems };
  return { matcher: (p) => matchers.some((m) => m(p)) };
}

function mustCompile(globs: readonly string[]): Matcher {
  const r = compileGlobs(globs);
  if ('problems' in r) throw new Error(r.problems.join('; '));
  return r.matcher;
}

/**
 * Builds the filter that decides which inbox files are candidates. Order: temp names first (a
 * writer's partial file is never a candidate, whatever the globs say), then marker files, then
 * exclude, then include. Globs are matched with `dot: true`: dotfiles are handled by
 * `ignoredNames` (`.*` by default, which covers rsync's `.name.XXXXXX` and our own `.tmp-*`).
 * @throws Error when a glob does not compile (config validation catches that first)
 */
export function createPathFilter(options: PathFilterOptions): PathFilter {
  const include = mustCompile(options.include);
  const exclude = mustCompile(options.exclude);
  const temp = mustCompile(options.ignoredNames);
  const { markerMode, markerSuffix } = options;
  return (relPath) => {
    const base = path.posix.basename(relPath);
    if (temp(base)) return { accepted: false, reason: 'tempName' };
    if (markerMode && base.length > markerSuffix.length && base.endsWith(markerSuffix)) return { accepted: false, reason: 'marker' };
    if (exclude(relPath)) return { accepted: false, reason: 'excluded' };
    if (!include(relPath)) return { accepted: false, reason: 'notIncluded' };
    return { accepted: true };
  };
}
