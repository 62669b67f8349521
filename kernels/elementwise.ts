/**
 * Launcher for kernels/wgsl/elementwise.wgsl: unary, binary and ternary maps over strided operands.
 *
 * An op is a WGSL expression over `x` (unary) or `a`, `b`, `c`, with `p.alpha`/`p.beta` available as
 * scalar parameters. For float tensors the operands arrive as f32 (f16 is widened), so the expressions
 * use f32 literals; integer tensors compute in their own type.
 */
import { ParamWriter, grid1d, specialize, type AdapterClass, type ElementType, type Launch } from './launch.js';
import { WGSL_SOURCES } from './wgsl/embedded.js';

/** A tensor as a kernel sees it: a buffer region read through shape-independent strides. */
export interface Operand {
  readonly dtype: ElementType;
  readonly strides: readonly number[];
  readonly offset: number;
}

export interface MapSpec {
  /** Pipeline cache key fragment naming the operation, e.g. 'exp' or 'gelu_grad'. */
  readonly name: string;
  /** WGSL expression; `x` is the unary operand, `a`, `b`, `c` the n-ary ones. */
  readonly expr: string;
  /** Output element type. */
  readonly out: ElementType;
  /** Whether operands are widened to f32 before `expr` (float ops) or used as stored (integer-safe ops). */
  readonly widen: boolean;
  /** Whether `expr` calls functions from math.wgsl. */
  readonly math?: boolean;
  readonly alpha?: number;
  readonly beta?: number;
  /**
   * How `alpha`/`beta` are encoded in the uniforms (default f32). The WGSL fields are declared f32, so an
   * integer op reads them as `bitcast<i32>(p.alpha)`: integer bounds then travel as data instead of being
   * baked into the shader text, which would compile a pipeline per distinct value.
   */
  readonly scalarType?: ElementType;
}

/**
 * Merges adjacent dimensions that are laid out contiguously in every operand, dropping size-1 dims:
 * a same-shape contiguous map becomes rank 1, a row-broadcast bias add rank 2.
 */
export function coalesce(shape: readonly number[], strides: readonly (readonly number[])[]): { shape: number[]; strides: number[][] } {
  const outShape: number[] = [];
  const outStrides: number[][] = strides.map(() => []);
  for (let d = 0; d < shape.length; d++) {
    const size = shape[d]!;
    if (size === 1) continue;
    const last = outShape.length - 1;
    const mergeable =
      last >= 0 && strides.every((s, k) => outStrides[k]![last] === s[d]! * size);
    if (mergeable) {
      outShape[last] = outShape[last]! * size;
      strides.forEach((s, k) => (outStrides[k]![last] = s[d]!));
    } else {
      outShape.push(size);
      strides.forEach((s, k) => outStrides[k]!.push(s[d]!));
    }
  }
  return { shape: outShape, strides: outStrides };
}

const ARITY_VARS = [['x'], ['a', 'b'], ['a', 'b', 'c']] as const;

/**
 * Invocation shape per adapter class: `wg` invocations per workgroup, each taking `per` consecutive units
 * of four elements. CPU adapters (lavapipe) pay per invocation and per loop entry far more than per byte,
 * so they get small workgroups and several units each; GPUs get one unit per invocation, 256 per
 * workgroup. Figures behind the CPU choice are in the header of kernels/wgsl/elementwise.wgsl.
 */
export const MAP_TUNING: Readonly<Record<AdapterClass, { readonly wg: number; readonly per: number }>> = {
  cpu: { wg: 16, per: 32 },
  gpu: { wg: 256, per: 1 },
};

function wgslType(t: ElementType): string {
  return t;
}

/**
 * Whether operands can be read as vec4s (the shader's `vec` mode): the innermost extent is a multiple of
 * 4 and every operand either walks it with stride 1 (then its offset and outer strides must be multiples
 * of 4, so loads are aligned and never straddle a row) or is constant along it (stride 0: splatted).
 */
function vectorizable(shape: readonly number[], strides: readonly (readonly number[])[], offsets: readonly number[]): boolean {
  const inner = shape.length - 1;
  if (shape[inner]! % 4 !== 0) return false;
  return strides.every((s, k) => {
    if (s[inner] === 0) return true;
    return s[inner] === 1 && offsets[k]! % 4 === 0 && s.every((v, d) => d === inner || v % 4 === 0);
  });
}

/** The buffers a map launch binds: the operands, the first one again in unread slots, the output. */
export function mapBindings<T>(inputs: readonly T[], out: T): T[] {
  return [inputs[0]!, inputs[1] ?? inputs[0]!, inputs[2] ?? inputs[0]!, out];
}

/**
 * Builds the launch for `out[i] = spec.expr(operands at i)` over the broadcast output shape `shape`.
 * Operand strides must already be broadcast to `shape` (0 on expanded dims). The output must be a
 * contiguous tensor that owns its buffer (see the constraints in elementwise.wgsl). `adapterClass` picks
 * the invocation shape (MAP_TUNING); results do not depend on it. The caller binds three operand slots
 * and the output: operands beyond `operands.length` take any buffer, e.g. the first operand's, which is
 * never read (mapBindings).
 */
export function mapLaunch(spec: MapSpec, shape: readonly number[], operands: readonly Operand[], adapterClass: AdapterClass = 'gpu'): Launch {
  const arity = operands.length as 1 | 2 | 3;
  const numel = shape.reduce((n, d) => n * d, 1);
  const merged = coalesce(shape, operands.map((o) => o.strides));
  // A single element coalesces to rank 0; the kernel wants an innermost dim to walk.
  const cShape = merged.shape.length ? merged.shape : [1];
  const cStrides = merged.shape.length ? merged.strides : operands.map(() => [0]);
  const offsets = operands.map((o) => o.offset);
  const tune = MAP_TUNING[adapterClass];

  const names = ['A', 'B', 'C'];
  const types: Record<string, string> = { R: wgslType(spec.out) };
  operands.forEach((o, k) => (types[names[k]!] = wgslType(o.dtype)));
  const key = `elementwise/${arity}/${spec.name}/${Object.entries(types).join(';')}/${spec.widen}/${tune.wg}x${tune.per}`;
  // Built only when the pipeline for `key` is first compiled (see Launch.code).
  const code = () => {
    const vars = ARITY_VARS[arity - 1];
    const params = ['a_in', 'b_in', 'c_in'].slice(0, arity);
    const binds = vars
      .map((v, k) => `let ${v} = ${spec.widen ? `f32(${params[k]})` : params[k]};`)
      .join(' ');
    const bodies = { ARITY: `${arity}u`, op: `${binds} return R(${spec.expr});` };
    const text = specialize('elementwise', types, bodies);
    return spec.math ? `${text}\n${WGSL_SOURCES.math}` : text;
  };

  // Dims innermost first.
  const dims = [...cShape].reverse();
  const pitch: number[] = [];
  dims.reduce((p, d) => (pitch.push(p), p * d), 1);
  const w = new ParamWriter()
    .u32(numel)
    .u32(dims.length)
    .u32(offsets[0] ?? 0)
    .u32(offsets[1] ?? 0)
    .u32(offsets[2] ?? 0)
    .scalar(spec.scalarType ?? 'f32', spec.alpha ?? 0)
    .scalar(spec.scalarType ?? 'f32', spec.beta ?? 0)
    .u32(dims[0]!)
    .u32(vectorizable(cShape, cStrides, offsets) ? 1 : 0)
    .u32x4Array(pitch, 2, 0);
  for (let k = 0; k < 3; k++) w.u32x4Array([...(cStrides[k] ?? [])].reverse(), 2, 0);

  return {
    key,
    code,
    entryPoint: 'map',
    constants: { WG: tune.wg, PER: tune.per },
    params: w.finish(),
    workgroups: grid1d(Math.ceil(numel / 4 / (tune.wg * tune.per))),
  };
}
