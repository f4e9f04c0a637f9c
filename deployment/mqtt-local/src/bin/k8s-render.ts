// `npm run k8s:render`: derives deployment/k8s/base/{routes.json,config/*.json} from
// deployment.template.json and renders each overlay into deployment/k8s/rendered/ with kubectl.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { deriveK8sFiles, K8S_OVERLAYS, renderKustomize, writeDerivedFiles } from '../k8s.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');
const k8s = path.join(repoRoot, 'deployment', 'k8s');
await writeDerivedFiles(k8s, await deriveK8sFiles(path.join(repoRoot, 'deployment.template.json')));
await mkdir(path.join(k8s, 'rendered'), { recursive: true });
for (const [name, dir] of Object.entries(K8S_OVERLAYS)) {
  const out = path.join(k8s, 'rendered', `${name}.yaml`);
  await writeFile(out, `# Rendered by npm run k8s:render (kubectl kustomize deployment/k8s/${dir}); do not edit.\n${await renderKustomize(path.join(k8s, dir))}`);
  console.log(`wrote ${path.relative(repoRoot, out)}`);
}
