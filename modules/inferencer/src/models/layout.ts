/** Where things are in the model store: `<models>/<name>/<version>/{model.onnx, manifest.json}`. */
import path from 'node:path';

/** Where downloads land before they are verified; inside the store so the final rename stays on one filesystem. */
export const STAGING_DIR = '.staging';

/** `<models>/<name>/<version>`. */
export function storeDir(modelsDir: string, name: string, version: string): string {
  return path.join(modelsDir, name, version);
}
