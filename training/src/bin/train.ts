/**
 * `npm run train -- --data <file|folder|blob:container/folder> --out <folder> [--version V] [--name N] [--dataset URI]`:
 * fits the telemetry anomaly model on the data and writes model.onnx + manifest.json into the folder
 * (what `edgeml model push` publishes). `blob:` data is read with AZURE_STORAGE_CONNECTION_STRING. Prints a JSON summary; exit 0, 1 on failure, 2 on bad usage.
 * The Azure ML command component (training/azureml/component.yml) runs this same command.
 */
import { parseArgs } from 'node:util';
import { errorCode, errorMessage } from '@edgeml/shared';
import { trainAnomalyModel } from '../train.js';

function usage(message: string): never {
  process.stderr.write(`${message}\nusage: npm run train -- --data <file|folder|blob:container/folder> --out <folder> [--version V] [--name N] [--dataset URI]\n`);
  process.exit(2);
}

async function main(): Promise<void> {
  let values: Record<string, string | undefined>;
  try {
    ({ values } = parseArgs({ options: { data: { type: 'string' }, out: { type: 'string' }, version: { type: 'string' }, name: { type: 'string' }, dataset: { type: 'string' } }, strict: true }));
  } catch (err: unknown) {
    usage(errorMessage(err));
  }
  if (values['data'] === undefined || values['out'] === undefined) usage('--data and --out are required');
  const now = new Date();
  const version = values['version'] ?? now.toISOString().replace(/[-:]/g, '').replace(/\..*$/, '').replace('T', '');
  try {
    const r = await trainAnomalyModel({
      data: values['data'],
      outDir: values['out'],
      version,
      ...(values['name'] === undefined ? {} : { name: values['name'] }),
      ...(values['dataset'] === undefined ? {} : { dataset: { uri: values['dataset'] } }),
      ...(process.env['AZURE_STORAGE_CONNECTION_STRING'] === undefined ? {} : { blobConnectionString: process.env['AZURE_STORAGE_CONNECTION_STRING'] }),
      now: () => now,
    });
    const summary = { model: { name: r.manifest.name, version: r.manifest.version, sha256: r.manifest.sha256 }, folder: values['out'], data: { format: r.source.format, files: r.source.files.length, via: r.source.via }, rows: r.fitted.rows, center: r.fitted.center, scale: r.fitted.scale, threshold: r.fitted.threshold, trainingScores: r.fitted.scoreQuantiles };
    process.stdout.write(`${JSON.stringify(summary)}\n`);
  } catch (err: unknown) {
    process.stderr.write(`training failed: ${errorCode(err)}: ${errorMessage(err)}\n`);
    process.exit(1);
  }
}

void main();
