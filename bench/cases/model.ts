/**
 * Whole-model cases on the Meta-Transformer encoder, registered only once metatransformer/encoder.ts
 * exists. The module is expected to export
 *   createEncoder(variant: 'B16' | 'L14'): { forward(x: Tensor): Tensor; dispose(): void }
 * (x: [B, 3, 224, 224] images) and, for the training case,
 *   trainStepFrozen(encoder, x: Tensor, labels: Tensor): Tensor   // returns the loss
 * If the names differ when it lands, adapt the two lookups below; until then each case reports
 * 'unsupported' naming the missing export. A model has no cheap float64 oracle: the check is that the
 * output is finite with the expected size (its layers are validated by the op cases).
 */
import * as ops from '../../engine/ops/index.js';
import type { Tensor } from '../../engine/tensor.js';
import { Unsupported, type BenchCase, type OutputCheck, type Runner } from '../harness.js';
import { host } from './common.js';

type Module = Record<string, unknown>;
interface Encoder {
  forward(x: Tensor): Tensor;
  dispose(): void;
}

/** The encoder module, or null when the file does not exist yet. Other import errors propagate. */
async function loadEncoderModule(): Promise<Module | null> {
  const name = 'encoder';
  try {
    return (await import(`../../metatransformer/${name}.js`)) as Module;
  } catch (err) {
    if (/Cannot find module|ERR_MODULE_NOT_FOUND|Failed to fetch|Could not resolve/i.test(String(err))) return null;
    throw err;
  }
}

function exported<F>(mod: Module, name: string): F {
  const fn = mod[name];
  if (typeof fn !== 'function') throw new Unsupported(`metatransformer/encoder.js exports no ${name}()`);
  return fn as F;
}

const finite =
  (size?: number): OutputCheck =>
  (out) => {
    if (size !== undefined && out.length !== size) return `output has ${out.length} elements, expected ${size}`;
    for (let i = 0; i < out.length; i++) if (!Number.isFinite(out[i]!)) return `element ${i} is ${out[i]}`;
    return null;
  };

function modelRunner(mod: Module, variant: 'B16' | 'L14', batch: number, train: boolean): Runner {
  const encoder = exported<(v: string) => Encoder>(mod, 'createEncoder')(variant);
  const step = train ? exported<(e: Encoder, x: Tensor, y: Tensor) => Tensor>(mod, 'trainStepFrozen') : null;
  const x = ops.fromFlat(host([batch, 3, 224, 224], 91).data, [batch, 3, 224, 224], 'f32');
  const labels = ops.tensor(Int32Array.from({ length: batch }, (_, i) => i % 10));
  let last: Tensor | null = null;
  return {
    run(iterations) {
      for (let i = 0; i < iterations; i++) {
        last?.dispose();
        last = step ? step(encoder, x, labels) : encoder.forward(x);
      }
    },
    async sync() {
      await last?.data();
    },
    async result() {
      if (!last) throw new Error('model runner: result() before run()');
      return last.data();
    },
    dispose() {
      last?.dispose();
      x.dispose();
      labels.dispose();
      encoder.dispose();
    },
  };
}

function modelCase(mod: Module, variant: 'B16' | 'L14', batch: number, train: boolean): BenchCase {
  return {
    name: `Meta-Transformer ${variant} ${train ? 'train step (frozen encoder)' : 'forward'} B=${batch}`,
    group: 'model',
    shape: `images ${batch}x3x224x224`,
    dtype: 'f32',
    maxIterations: 3,
    async setup() {
      return {
        check: finite(train ? 1 : undefined),
        variants: [
          {
            engine: 'omnitensor',
            label: train ? 'trainStepFrozen' : 'encoder.forward',
            primary: true,
            create: async () => modelRunner(mod, variant, batch, train),
          },
        ],
      };
    },
  };
}

/** Model cases, or [] with the reason when the encoder module does not exist yet. */
export async function modelCases(options: { quick: boolean }): Promise<{ cases: BenchCase[]; note?: string }> {
  const mod = await loadEncoderModule();
  if (!mod) return { cases: [], note: 'model cases not registered: metatransformer/encoder.js does not exist yet' };
  const batch = options.quick ? 1 : 2;
  const cases = [modelCase(mod, 'B16', batch, false), modelCase(mod, 'B16', batch, true)];
  if (!options.quick) cases.push(modelCase(mod, 'L14', batch, false));
  return { cases };
}
