import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The repository root, from this file's place: `deployment/runtime/{src,dist}/repo-root.*` → three levels up.
 * Both the TypeScript sources and the build sit at the same depth, so the answer is the same either way.
 */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** The default work folder of `npm start` and the CLI: `<repo>/.edge`. */
export const DEFAULT_WORK_DIR = path.join(REPO_ROOT, '.edge');
