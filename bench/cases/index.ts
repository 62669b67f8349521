/** The case registry. */
import type { BenchCase, Group } from '../harness.js';
import { attentionCases } from './attention.js';
import { backwardCases } from './backward.js';
import { convCases } from './conv.js';
import { elementwiseCases } from './elementwise.js';
import { gemmCases } from './gemm.js';
import { modelCases } from './model.js';
import { normCases } from './norm.js';
import { optimizerCases } from './optimizer.js';
import { overheadCases } from './overhead.js';
import { reduceCases } from './reduce.js';

export interface RegistryOptions {
  quick: boolean;
  /** Full-size shapes on CPU adapters, plus the largest GEMM. */
  large: boolean;
  /**
   * 'cpu' adapters (lavapipe: 2 cores) run smaller batches of the same shapes by default so the whole
   * suite stays within minutes; the shapes are printed with every figure.
   */
  adapterClass: 'cpu' | 'gpu';
  /** The adapter has shader-f16 (adds the f16 model cases). */
  f16: boolean;
  /** Only these groups (all when empty). */
  groups: readonly Group[];
}

export function allCases(options: RegistryOptions): BenchCase[] {
  const wanted = (g: Group) => options.groups.length === 0 || options.groups.includes(g);
  const small = options.adapterClass === 'cpu' && !options.large;
  const sized = { ...options, small };
  const cases = [
    ...gemmCases(sized),
    ...attentionCases(sized),
    ...normCases(),
    ...elementwiseCases(sized),
    ...convCases(sized),
    ...reduceCases(sized),
    ...backwardCases(sized),
    ...optimizerCases(options),
    ...overheadCases(),
    ...modelCases(sized),
  ];
  return cases.filter((c) => wanted(c.group));
}
