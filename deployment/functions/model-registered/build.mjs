// Bundles the function (deployment/tools/src/model-registered/function.ts and the @edgeml/shared code it
// uses) into dist/index.js, leaving @azure/functions to this folder's own npm install.
// Run from the repository root after `npm ci`: node deployment/functions/model-registered/build.mjs
import { build } from 'esbuild';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
await build({
  entryPoints: [path.join(here, '..', '..', 'tools', 'src', 'model-registered', 'function.ts')],
  outfile: path.join(here, 'dist', 'index.js'),
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  conditions: ['@edgeml/source'],
  external: ['@azure/functions'],
  // pino and the Azure IoT SDK are CommonJS: give the ESM bundle a require().
  banner: { js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" },
  logLevel: 'warning',
});
console.log(`wrote ${path.join(here, 'dist', 'index.js')}`);
