/**
 * Launcher for kernels/wgsl/elementwise.wgsl: unary, binary and ternary maps over strided operands.
 *
 * An op is a WGSL expression over `x` (unary) or `a`, `b`, `c`, with `p.alpha`/`p.beta` available as
 * scalar parameters. For float tensors the operands arrive as f32 (f16 is widened), so the expressions
 * use f32 literals; integer tensors compute in their own type.
 */
import { ParamWriter, WG1D, grid1d, specialize, type ElementType, type Launch } from './launch.js';
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

const ARITY_ENTRY = ['map1', 'map2', 'map3'] as const;
const ARITY_VARS = [['x'], ['a', 'b'], ['a', 'b', 'c']] as const;

function wgslType(t: ElementType): string {
  return t;
}

/**
 * Builds the launch for `out[i] = spec.expr(operands at i)` over the broadcast output shape `shape`.
 * Operand strides must already be broadcast to `shape` (0 on expanded dims).
 */
export function mapLaunch(spec: MapSpec, shape: readonly number[], operands: readonly Operand[]): Launch {
  const arity = operands.length as 1 | 2 | 3;
  const numel = shape.reduce((n, d) => n * d, 1);
  const { shape: cShape, strides: cStrides } = coalesce(shape, operands.map((o) => o.strides));
  const names = ['A', 'B', 'C'];
  const types: Record<string, string> = { R: wgslType(spec.out) };
  operands.forEach((o, k) => (types[names[k]!] = wgslType(o.dtype)));
  const vars = ARITY_VARS[arity - 1];
  const params = ['a_in', 'b_in', 'c_in'].slice(0, arity);
  const binds = vars
    .map((v, k) => `let ${v} = ${spec.widen ? `f32(${params[k]})` : params[k]};`)
    .join(' ');
  const body = `${binds} return R(${spec.expr});`;
  // The entry points of the other arities stay in the module and must still type-check once A/B/C/R are
  // specialised (e.g. op2's default `a_in + b_in` fails for A = i32, B = f32), so their bodies become a
  // type-independent zero.
  const bodies: Record<string, string> = { op1: 'return R();', op2: 'return R();', op3: 'return R();' };
  bodies[`op${arity}`] = body;
  let code = specialize('elementwise', types, bodies);
  if (spec.math) code += `\n${WGSL_SOURCES.math}`;

  const w = new ParamWriter()
    .u32(numel)
    .u32(cShape.length)
    .u32(operands[0]?.offset ?? 0)
    .u32(operands[1]?.offset ?? 0)
    .u32(operands[2]?.offset ?? 0)
    .scalar(spec.scalarType ?? 'f32', spec.alpha ?? 0)
    .scalar(spec.scalarType ?? 'f32', spec.beta ?? 0)
    .u32x4Array(cShape, 2, 1);
  for (let k = 0; k < 3; k++) w.u32x4Array(cStrides[k] ?? [], 2, 0);

  return {
    key: `elementwise/${ARITY_ENTRY[arity - 1]}/${spec.name}/${Object.entries(types).join(';')}/${spec.widen}`,
    code,
    entryPoint: ARITY_ENTRY[arity - 1],
    params: w.finish(),
    workgroups: grid1d(Math.ceil(numel / WG1D)),
  };
}
