/** One finding of genconfig or validate. `path` is a JSON pointer inside the document, or a route name. */
export interface Problem {
  readonly severity: 'error' | 'warning';
  /** Where: a JSON pointer such as `/modulesContent/$edgeHub/properties.desired/routes/toCloud`. */
  readonly path: string;
  readonly message: string;
}

export function error(path: string, message: string): Problem {
  return { severity: 'error', path, message };
}

export function warning(path: string, message: string): Problem {
  return { severity: 'warning', path, message };
}

export function errorsOf(problems: readonly Problem[]): Problem[] {
  return problems.filter((p) => p.severity === 'error');
}

/** `<file>: error: <path>: <message>`, the line the CLIs print. */
export function formatProblem(problem: Problem, file?: string): string {
  return `${file === undefined ? '' : `${file}: `}${problem.severity}: ${problem.path}: ${problem.message}`;
}
