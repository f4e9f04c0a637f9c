import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_SCHEMAS_DIR } from '@edgeml/deploy-tools';

/** Repository root (tests/unit/deployment → ../../..). */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
/** The official SchemaStore copies vendored in the repository: `deployment/tools/schemas`. */
export const SCHEMAS_DIR = DEFAULT_SCHEMAS_DIR;
export const SUITE_MODULES = ['watcher', 'transformer', 'inferencer', 'uploader', 'aggregator'] as const;
