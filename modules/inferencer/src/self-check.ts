import { createLogger, errorMessage } from '@edgeml/shared';
import { bundledModels } from './models/bundled.js';
import { ORT_VERSION } from './session/ort.js';
import { createSessionPool } from './session/pool.js';

/**
 * For `--self-check` (container-build rehearsal): the onnxruntime-node addon loads, the bundled
 * models are present, and the classifier opens and runs on the CPU in a session worker thread, as the
 * module runs it (so an image missing the worker's file fails its build). Returns the problems (empty when fine).
 */
export async function checkInferencerRuntime(): Promise<{ problems: string[]; onnxruntimeVersion: string }> {
  const problems: string[] = [];
  const pool = createSessionPool({ size: 1, logger: createLogger({ name: 'self-check', level: 'silent' }) });
  try {
    const cls = bundledModels().find((b) => b.profile === 'cls');
    if (cls === undefined) throw new Error('no bundled classifier');
    const session = await pool.open(cls.file, { executionProvider: 'cpu', cudaDeviceId: 0, intraOpThreads: 1, interOpThreads: 1 });
    try {
      await session.run('x', { dtype: 'float32', data: new Float32Array(3 * 48 * 192), dims: [1, 3, 48, 192] });
    } finally {
      await session.release();
    }
  } catch (err: unknown) {
    problems.push(`ONNX Runtime or the bundled models do not work: ${errorMessage(err)}`);
  } finally {
    await pool.close();
  }
  return { problems, onnxruntimeVersion: ORT_VERSION };
}
