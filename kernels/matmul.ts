/**
 * Launcher for the GEMM kernels: matmul.wgsl (tiled, workgroup memory; GPUs and the portable fallback)
 * and matmul_lanes.wgsl (one subgroup = one SIMD register; CPU adapters such as lavapipe), both with
 * the strided operand reads and fused epilogue of matmul_common.wgsl.
 *
 * Operands are described by strides only, so transposed views and PyTorch [out, in] weights read as
 * w^T reach the kernels without copies.
 */
import { ParamWriter, specialize, type ElementType, type Launch, type AdapterClass } from './launch.js';
import { WGSL_SOURCES } from './wgsl/embedded.js';

export type MatmulVariant = 'tiled' | 'lanes';
export type Activation = 'none' | 'gelu' | 'relu';

/** A matrix operand: element offset, strides of its two matrix dims, and strides of the batch dims. */
export interface MatrixOperand {
  readonly dtype: ElementType;
  readonly offset: number;
  /** Stride between rows (A: along M, B: along K, residual: along M). */
  readonly rowStride: number;
  /** Stride between columns (A: along K, B: along N, residual: along N). */
  readonly colStride: number;
  /** One stride per batch dim of the output (0 where broadcast). */
  readonly batchStrides: readonly number[];
}

export interface GemmSpec {
  readonly m: number;
  readonly n: number;
  readonly k: number;
  /** Broadcast batch shape of the output (empty for a plain 2-D product). */
  readonly batchShape: readonly number[];
  readonly a: MatrixOperand;
  readonly b: MatrixOperand;
  readonly out: ElementType;
  /** Per-column bias: element offset and stride along N. */
  readonly bias?: { readonly dtype: ElementType; readonly offset: number; readonly stride: number };
  readonly residual?: MatrixOperand;
  readonly activation: Activation;
  /** Also write act's input (acc + bias) to an extra output bound after `out`. */
  readonly savePre: boolean;
}

export interface KernelChoice {
  readonly variant: MatmulVariant;
  /** Output rows per workgroup of the lanes kernel. */
  readonly rows: number;
  /** Subgroup width the lanes kernel is compiled for. */
  readonly lanes: number;
}

/**
 * Kernel and tile per adapter class and shape bucket (first entry whose maxM >= M wins).
 *
 * How 'cpu' was measured: bench/gemm-probe.ts on Mesa lavapipe 25.0.7 (2 cores, AVX-512 Xeon, 8-wide
 * subgroups), f32, wall clock over back-to-back dispatches of one submit after a validated run; the
 * probe prints this table from its measurements. Small M gets fewer rows per workgroup because rows
 * past M are computed and thrown away. 'gpu' is the conventional 64x64 tiled kernel, untuned here
 * (no GPU on the development machine).
 */
export const TUNING: Readonly<Record<AdapterClass, readonly { readonly maxM: number; readonly variant: MatmulVariant; readonly rows: number }[]>> = {
  cpu: [
    { maxM: 4, variant: 'lanes', rows: 4 },
    { maxM: Infinity, variant: 'lanes', rows: 12 },
  ],
  gpu: [{ maxM: Infinity, variant: 'tiled', rows: 4 }],
};

/**
 * Picks the kernel for a shape. The lanes kernel needs the `subgroups` feature and a known fixed
 * subgroup size (it shuffles across exactly one subgroup per workgroup); otherwise the tiled kernel runs.
 */
export function chooseKernel(adapterClass: AdapterClass, hasSubgroups: boolean, subgroupSize: number | undefined, m: number): KernelChoice {
  const entry = TUNING[adapterClass].find((e) => m <= e.maxM) ?? TUNING[adapterClass][TUNING[adapterClass].length - 1]!;
  const lanesOk = hasSubgroups && subgroupSize !== undefined && [4, 8, 16, 32].includes(subgroupSize);
  if (entry.variant === 'lanes' && lanesOk) return { variant: 'lanes', rows: entry.rows, lanes: subgroupSize! };
  return { variant: 'tiled', rows: 4, lanes: 0 };
}

/** Output tile (rows, columns) one workgroup of the chosen kernel covers. */
export function tileOf(choice: KernelChoice): [number, number] {
  return choice.variant === 'lanes' ? [choice.rows, choice.lanes * 4] : [64, 64];
}

const RELU = 'v = select(0.0, v, v > 0.0) + select(0.0, v, v != v);'; // keeps NaN, as torch.relu

/**
 * Whether the lanes kernel may bind B as array<vec4<TB>>: B row-major along N and every offset it
 * forms (base, row and batch strides, N) a multiple of 4 elements.
 */
export function vectorB(spec: GemmSpec, choice: KernelChoice): boolean {
  const b = spec.b;
  return choice.variant === 'lanes' && b.colStride === 1 && spec.n % 4 === 0 && b.offset % 4 === 0 &&
    b.rowStride % 4 === 0 && b.batchStrides.every((s) => s % 4 === 0);
}

function moduleCode(spec: GemmSpec, choice: KernelChoice, vec4B: boolean): string {
  const decl = [`@group(0) @binding(2) var<storage, read> b_in: array<${vec4B ? 'vec4<TB>' : 'TB'}>;`];
  const body: string[] = [];
  let binding = 3;
  if (spec.bias) {
    decl.push(`@group(0) @binding(${binding++}) var<storage, read> bias_in: array<${spec.bias.dtype}>;`);
    body.push('v += f32(bias_in[p.bias_off + col * p.bias_sn]);');
  }
  if (spec.residual) decl.push(`@group(0) @binding(${binding++}) var<storage, read> res_in: array<${spec.residual.dtype}>;`);
  decl.push(`@group(0) @binding(${binding++}) var<storage, read_write> out: array<TO>;`);
  if (spec.savePre) {
    decl.push(`@group(0) @binding(${binding++}) var<storage, read_write> pre_out: array<TO>;`);
    body.push('pre_out[idx] = TO(v);');
  }
  if (spec.activation === 'gelu') body.push('v = gelu_f32(v);');
  if (spec.activation === 'relu') body.push(RELU);
  body.push(spec.residual ? 'v += f32(res_in[res_base + row * p.res_sm + col * p.res_sn]);' : '_ = res_base;');
  const types = { TA: spec.a.dtype, TB: spec.b.dtype, TO: spec.out };
  const common = specialize('matmul_common', types, { bindings: decl.join('\n'), epilogue: body.join(' ') });
  const kernel =
    choice.variant === 'lanes'
      ? specialize('matmul_lanes', {}, {
          ROWS: `${choice.rows}u`,
          LANES: `${choice.lanes}u`,
          ...(vec4B ? { load_b4: 'return vec4<f32>(b_in[bo.x / 4u]);' } : {}),
        })
      : WGSL_SOURCES.matmul;
  // `specialize` put any `enable f16;` at the top of `common`; directives must open the module.
  const directives = [...new Set(`${kernel}\n${common}`.match(/^enable [a-z0-9_]+;$/gm) ?? [])];
  const strip = (s: string) => s.replace(/^enable [a-z0-9_]+;$/gm, '');
  return [...directives, strip(kernel), strip(common), spec.activation === 'gelu' ? WGSL_SOURCES.math : ''].join('\n');
}

/** Largest workgroup count per grid dimension in WebGPU. */
export const MAX_GRID = 65535;

/**
 * The launches for one GEMM: one per chunk of at most 65535 batch entries (grid z). The caller binds
 * a, b, [bias], [residual], out, [pre] in that order.
 */
export function matmulLaunches(spec: GemmSpec, choice: KernelChoice): Launch[] {
  const vec4B = vectorB(spec, choice);
  const code = moduleCode(spec, choice, vec4B);
  const [tileM, tileN] = tileOf(choice);
  const batch = spec.batchShape.reduce((x, d) => x * d, 1);
  const key = [
    'matmul', choice.variant, choice.rows, choice.lanes, vec4B ? 'b4' : 'b1', spec.a.dtype, spec.b.dtype, spec.out,
    spec.bias?.dtype ?? '-', spec.residual?.dtype ?? '-', spec.activation, spec.savePre,
  ].join('/');
  const launches: Launch[] = [];
  for (let base = 0; base < batch; base += MAX_GRID) {
    const w = new ParamWriter()
      .u32(spec.m).u32(spec.n).u32(spec.k).u32(spec.batchShape.length)
      .u32(spec.a.offset).u32(spec.a.rowStride).u32(spec.a.colStride)
      .u32(spec.b.offset).u32(spec.b.rowStride).u32(spec.b.colStride)
      .u32(spec.bias?.offset ?? 0).u32(spec.bias?.stride ?? 0)
      .u32(spec.residual?.offset ?? 0).u32(spec.residual?.rowStride ?? 0).u32(spec.residual?.colStride ?? 0)
      .u32(base)
      .u32x4Array(spec.batchShape, 2, 1)
      .u32x4Array(spec.a.batchStrides, 2, 0)
      .u32x4Array(spec.b.batchStrides, 2, 0)
      .u32x4Array(spec.residual?.batchStrides ?? [], 2, 0);
    launches.push({
      key,
      code,
      entryPoint: choice.variant === 'lanes' ? 'matmul_lanes' : 'matmul_tiled',
      params: w.finish(),
      workgroups: [Math.ceil(spec.n / tileN), Math.ceil(spec.m / tileM), Math.min(MAX_GRID, batch - base)],
    });
  }
  return launches;
}
