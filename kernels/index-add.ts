/**
 * Launchers for kernels/wgsl/index_add.wgsl: a deterministic index_add (the backward of index_select and
 * embedding lookups) as a stable radix sort of the index followed by one sequential sum per output element.
 */
import { ParamWriter, grid1d, specialize, type AdapterClass, type ElementType, type Launch } from './launch.js';

/** Pairs each sort invocation walks serially (index_add.wgsl's BLOCK) and the width of one digit. */
const BLOCK = 256;
const DIGIT_BITS = 8;
/** Invocations per workgroup of the sort and run kernels. */
const SORT_WG = 64;

export interface IndexAddShape {
  readonly dtype: ElementType;
  /** Entries of the index (positions j). */
  readonly n: number;
  /** Entries of the target axis. */
  readonly size: number;
  /** Products of the dims before and after the axis. */
  readonly outer: number;
  readonly inner: number;
  /** Element offsets of the index and of src in their buffers. */
  readonly indexOffset: number;
  readonly srcOffset: number;
  readonly adapterClass: AdapterClass;
}

/** How index_add_rows splits the output: elements per unit, units per invocation, invocations per line. */
interface Split {
  readonly unit: 1 | 4;
  readonly units: number;
  readonly per: number;
  readonly segments: number;
}

/** vec4 units where inner and src's offset allow; a whole line per invocation on CPU adapters, one unit on GPUs. */
function splitOf(s: IndexAddShape): Split {
  const unit = s.inner % 4 === 0 && s.srcOffset % 4 === 0 ? 4 : 1;
  const units = s.inner / unit;
  const per = s.adapterClass === 'cpu' ? units : 1;
  return { unit, units, per, segments: Math.ceil(units / per) };
}

/**
 * The dispatches of one index_add and the buffers each binds, named by role; the caller owns the buffers:
 *   keys, pos: two ping-pong pairs of n u32 (A and B); hist: 256 * blocks u32; starts: size + 1 u32.
 * A pass reads one pair and writes the other; the last pass's output pair feeds the runs and the sums.
 */
export interface IndexAddPlan {
  readonly blocks: number;
  readonly passes: number;
  readonly launches: readonly { readonly launch: Launch; readonly binds: readonly IndexAddBuffer[] }[];
}

export type IndexAddBuffer = 'index' | 'keysA' | 'posA' | 'keysB' | 'posB' | 'hist' | 'starts' | 'src' | 'out';

function params(s: IndexAddShape, split: Split, blocks: number, shift: number): ArrayBuffer {
  return new ParamWriter()
    .u32(s.n)
    .u32(s.size)
    .u32(blocks)
    .u32(shift)
    .u32(s.outer)
    .u32(split.units)
    .u32(split.per)
    .u32(split.segments)
    .u32(s.indexOffset)
    .u32(s.srcOffset / split.unit)
    .finish();
}

/** Digit passes needed for keys 0 ..= size (out-of-range positions get key `size`). */
function indexAddPasses(size: number): number {
  return Math.max(1, Math.ceil(Math.ceil(Math.log2(size + 1)) / DIGIT_BITS));
}

export function indexAddPlan(s: IndexAddShape): IndexAddPlan {
  const blocks = Math.ceil(s.n / BLOCK);
  const passes = indexAddPasses(s.size);
  const split = splitOf(s);
  const accumulator = s.dtype === 'f16' ? 'f32' : s.dtype;
  const unitOf = (t: string) => (split.unit === 4 ? `vec4<${t}>` : t);
  const code = () => specialize('index_add', { U: unitOf(s.dtype), UA: unitOf(accumulator) });
  const sortKey = (entry: string, first: boolean) => `index_add/${entry}/${s.dtype}/first${+first}`;
  const launches: { launch: Launch; binds: IndexAddBuffer[] }[] = [];
  // Pass k writes pair A when k is even, else B, and reads the other (the first pass reads the index).
  const pairWritten = (pass: number): [IndexAddBuffer, IndexAddBuffer] => (pass % 2 === 0 ? ['keysA', 'posA'] : ['keysB', 'posB']);
  for (let pass = 0; pass < passes; pass++) {
    const first = pass === 0;
    const [keysIn, posIn] = pairWritten(pass + 1);
    const [keysOut, posOut] = pairWritten(pass);
    const p = params(s, split, blocks, pass * DIGIT_BITS);
    const sortBinds: IndexAddBuffer[] = ['index', keysIn, 'hist', posIn, keysOut, posOut];
    const constants = { FIRST: +first };
    launches.push(
      { launch: { key: sortKey('sort_histogram', first), code, entryPoint: 'sort_histogram', constants, params: p, workgroups: grid1d(Math.ceil(blocks / SORT_WG)) }, binds: ['index', keysIn, 'hist'] },
      { launch: { key: sortKey('sort_offsets', first), code, entryPoint: 'sort_offsets', params: p, workgroups: [1, 1, 1] }, binds: ['hist'] },
      { launch: { key: sortKey('sort_scatter', first), code, entryPoint: 'sort_scatter', constants, params: p, workgroups: grid1d(Math.ceil(blocks / SORT_WG)) }, binds: sortBinds },
    );
  }
  const [sortedKeys, sortedPos] = pairWritten(passes - 1);
  const p = params(s, split, blocks, 0);
  const wg = s.adapterClass === 'cpu' ? 16 : 256;
  launches.push(
    {
      launch: { key: `index_add/run_starts/${s.dtype}`, code, entryPoint: 'run_starts', params: p, workgroups: grid1d(Math.ceil((s.size + 1) / SORT_WG)) },
      binds: [sortedKeys, 'starts'],
    },
    {
      launch: {
        key: `index_add/index_add_rows/${s.dtype}/unit${split.unit}/wg${wg}`, code, entryPoint: 'index_add_rows', constants: { WG: wg }, params: p,
        workgroups: grid1d(Math.ceil((s.outer * s.size * split.segments) / wg)),
      },
      binds: ['starts', sortedPos, 'src', 'out'],
    },
  );
  return { blocks, passes, launches };
}
