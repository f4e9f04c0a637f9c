/**
 * The inference chain of the suite in one process: the real transformer, inferencer and aggregator
 * module definitions (runModule, real sharp, ONNX Runtime with the bundled PaddleOCR models, real
 * files), each on an in-memory edge client, joined by the routes of deployment.template.json compiled
 * by the local edge hub's own route engine. What a route sends to a module not running here (the
 * uploader, the watcher) or to $upstream is recorded.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { aggregatorModule } from '@edgeml/aggregator';
import { compileRoutes } from '@edgeml/edge-hub';
import { inferencerModule } from '@edgeml/inferencer';
import {
  SCHEMAS,
  bodyToBuffer,
  createMemoryEdgeClient,
  dataPaths,
  runModule,
  sha256,
  type DataPaths,
  type FileMessage,
  type MemoryEdgeClient,
  type ModuleDefinition,
  type OutgoingMessage,
  type RunningModule,
} from '@edgeml/shared';
import { transformerModule } from '@edgeml/transformer';
import { REPO_ROOT } from '../../unit/deployment/paths.js';

/** A message a route delivered outside the three modules, or to $upstream. */
export interface Routed {
  readonly from: string;
  readonly output: string;
  readonly to: string;
  readonly properties: Readonly<Record<string, string>>;
  readonly body: Record<string, unknown>;
}

export interface ChainPipeline {
  readonly paths: DataPaths;
  readonly edges: Readonly<Record<'transformer' | 'inferencer' | 'aggregator', MemoryEdgeClient>>;
  /** Everything routed to `$upstream` or to a module not running here (`uploader/results`, `watcher/completed`, …). */
  readonly routed: Routed[];
  /** Messages routed and not yet handled by their module. */
  pending(): number;
  /** Drops a file into the inbox and sends the watcher's `files` message for it. */
  drop(name: string, content: Buffer): Promise<FileMessage>;
  /** Delivers a message to a module input as a route would. */
  deliver(module: 'transformer' | 'inferencer' | 'aggregator', input: string, body: object): Promise<void>;
  to(endpoint: string): Routed[];
  stop(): Promise<void>;
}

/** The manifest's `$edgeHub` desired properties (its routes). */
async function edgeHubDesired(): Promise<unknown> {
  const template = JSON.parse(await readFile(path.join(REPO_ROOT, 'deployment.template.json'), 'utf8')) as { modulesContent: Record<string, { 'properties.desired': unknown }> };
  return template.modulesContent['$edgeHub']!['properties.desired'];
}

export async function startChainPipeline(desired: { transformer?: Record<string, unknown>; inferencer?: Record<string, unknown>; aggregator?: Record<string, unknown> } = {}): Promise<ChainPipeline> {
  const root = await mkdtemp(path.join(tmpdir(), 'edgeml-chain-'));
  const paths = dataPaths(root);
  await mkdir(paths.inbox, { recursive: true });
  const routes = compileRoutes(await edgeHubDesired());
  const names = ['transformer', 'inferencer', 'aggregator'] as const;
  const edges = Object.fromEntries(names.map((n) => [n, createMemoryEdgeClient({ moduleId: n, initialDesired: desired[n] ?? {} })])) as Record<(typeof names)[number], MemoryEdgeClient>;
  const routed: Routed[] = [];
  const inFlight = new Set<Promise<void>>();
  const failures: unknown[] = [];

  for (const from of names) {
    const edge = edges[from];
    const send = edge.sendOutput.bind(edge);
    edge.sendOutput = async (output: string, message: OutgoingMessage): Promise<void> => {
      await send(output, message);
      const body = bodyToBuffer(message.body);
      const properties = { ...(message.properties ?? {}) };
      const matches = routes.match({
        source: { kind: 'telemetry', deviceId: 'test-device', moduleId: from, outputName: output },
        systemProperties: { contentType: 'application/json', contentEncoding: 'utf-8', ...(message.messageId === undefined ? {} : { messageId: message.messageId }) },
        properties,
        body,
      });
      for (const m of matches) {
        const target = m.endpoint.kind === 'module' ? (names as readonly string[]).includes(m.endpoint.moduleId) ? (m.endpoint.moduleId as (typeof names)[number]) : undefined : undefined;
        if (target === undefined || m.endpoint.kind !== 'module') {
          routed.push({ from, output, to: m.endpoint.id, properties, body: JSON.parse(body.toString('utf8')) as Record<string, unknown> });
          continue;
        }
        // Delivered later, as the hub does after it persisted the message (the sender does not wait for the handler).
        const input = m.endpoint.inputName;
        const p = new Promise<void>((resolve) => setImmediate(resolve))
          .then(() => edges[target].deliver(input, body, properties))
          .catch((err: unknown) => {
            failures.push(err);
          });
        inFlight.add(p);
        void p.finally(() => inFlight.delete(p));
      }
    };
  }

  const env = { EDGEML_DATA_ROOT: root, EDGEML_METRICS_PORT: '0', EDGEML_LOG_LEVEL: process.env['EDGEML_TEST_LOG_LEVEL'] ?? 'silent' };
  const running: RunningModule[] = [];
  const start = async <C>(definition: ModuleDefinition<C>, edge: MemoryEdgeClient): Promise<void> => {
    running.push(await runModule(definition, { env, argv: [], connect: () => Promise.resolve(edge), twinWaitMs: 60_000 }));
  };
  await start(aggregatorModule, edges.aggregator);
  await start(inferencerModule, edges.inferencer);
  await start(transformerModule, edges.transformer);

  return {
    paths,
    edges,
    routed,
    pending: () => {
      if (failures.length > 0) throw failures[0] instanceof Error ? failures[0] : new Error(String(failures[0]));
      return inFlight.size;
    },
    async drop(name, content) {
      await writeFile(path.join(paths.inbox, name), content);
      const id = sha256(content);
      const t = new Date().toISOString();
      const msg: FileMessage = {
        schema: SCHEMAS.file,
        id,
        messageId: `${id.slice(0, 16)}-1`,
        attempt: 1,
        source: { path: `inbox/${name}`, sha256: id, sizeBytes: content.length, detectedAt: t, name, extension: path.extname(name).toLowerCase(), kind: 'image', mtimeMs: 1 },
        detectedAt: t,
        stableAt: t,
        createdAt: t,
      };
      await edges.transformer.deliver('files', msg);
      return msg;
    },
    deliver: (module, input, body) => edges[module].deliver(input, body),
    to: (endpoint) => routed.filter((r) => r.to === endpoint),
    async stop() {
      for (const r of running.reverse()) await r.stop('test done');
      await rm(root, { recursive: true, force: true });
    },
  };
}

const escapeXml = (s: string): string => s.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);

/**
 * An image of lines of dark text on a light background, rendered by sharp (librsvg) from SVG, turned
 * 180° when asked; PNG, or JPEG.
 */
export async function renderLines(lines: readonly string[], options: { rotate180?: boolean; width?: number; lineHeight?: number; format?: 'png' | 'jpeg'; fontFamily?: string } = {}): Promise<Buffer> {
  const lineHeight = options.lineHeight ?? 64;
  const width = options.width ?? 560;
  const height = lineHeight * lines.length + 24;
  const texts = lines
    .map((l, i) => `<text x="16" y="${Math.round(12 + lineHeight * (i + 0.72))}" font-family="${options.fontFamily ?? 'DejaVu Sans, sans-serif'}" font-size="${Math.round(lineHeight * 0.5)}" fill="#151515">${escapeXml(l)}</text>`)
    .join('');
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}"><rect width="100%" height="100%" fill="#fbfbf8"/>${texts}</svg>`;
  let img = sharp(Buffer.from(svg)).flatten({ background: '#ffffff' });
  if (options.rotate180 === true) img = img.rotate(180);
  return options.format === 'jpeg' ? img.jpeg({ quality: 90 }).toBuffer() : img.png().toBuffer();
}
