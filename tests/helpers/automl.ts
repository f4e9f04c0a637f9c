/**
 * JSON Schema of one Azure ML AutoML image JSON line, written from the documented format
 * (MicrosoftDocs/azure-ai-docs: articles/machine-learning/reference-automl-images-schema.md):
 * `image_url` (an `azureml://` or `https://` URL), optional `image_details {format, width, height}`,
 * and `label` — a class name (multi-class classification) or a list of boxes with `label` and
 * `topX/topY/bottomX/bottomY` as fractions 0–1 (object detection). Extra keys (the edge's scores)
 * are allowed: AutoML reads the keys it knows.
 */
import { createRequire } from 'node:module';

const fraction = { type: 'number', minimum: 0, maximum: 1 } as const;

export const AUTOML_IMAGE_LINE_SCHEMA = {
  $id: 'https://edgeml.example/test-schemas/automl-image-line.json',
  type: 'object',
  required: ['image_url', 'label'],
  properties: {
    image_url: { type: 'string', pattern: '^(azureml://|https?://)[^\\s]+$' },
    image_details: {
      type: 'object',
      required: ['format'],
      properties: {
        format: { enum: ['jpg', 'jpeg', 'png', 'jpe', 'jfif', 'bmp', 'tif', 'tiff'] },
        width: { anyOf: [{ type: 'integer', minimum: 1 }, { type: 'string', pattern: '^[0-9]+px$' }] },
        height: { anyOf: [{ type: 'integer', minimum: 1 }, { type: 'string', pattern: '^[0-9]+px$' }] },
      },
    },
    label: {
      anyOf: [
        { type: 'string', minLength: 1 },
        {
          type: 'array',
          items: {
            type: 'object',
            required: ['label', 'topX', 'topY', 'bottomX', 'bottomY'],
            properties: { label: { type: 'string', minLength: 1 }, topX: fraction, topY: fraction, bottomX: fraction, bottomY: fraction, isCrowd: { enum: [0, 1] } },
          },
        },
      ],
    },
  },
} as const;

interface Validator {
  (data: unknown): boolean;
  errors?: { instancePath: string; message?: string }[] | null;
}
/** Ajv 8 as the shared package resolves it (the root's hoisted copy is an older major, with other types). */
const { Ajv } = createRequire(new URL('../../shared/package.json', import.meta.url))('ajv') as { Ajv: new (o: object) => { compile(schema: object): Validator } };
const validate = new Ajv({ allErrors: true, strict: false }).compile(AUTOML_IMAGE_LINE_SCHEMA);

/** Problems of one line against the AutoML image line schema (empty when it conforms). */
export function automlLineProblems(line: unknown): string[] {
  if (validate(line)) return [];
  return (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? ''}`);
}
