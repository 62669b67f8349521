/**
 * Launchers for kernels/wgsl/indexing.wgsl: gather (index_select is a gather with a broadcast index),
 * scatter-add, strided copy into a region, pad, one-hot and triangular masking. Pure functions from shapes to `Launch`es.
 */
import { MAP_TUNING, coalesce } from './elementwise.js';
import { ParamWriter, WG1D, grid1d, specialize, type AdapterClass, type ElementType, type Launch } from './launch.js';

/** A strided operand: element offset and one stride per dim of the iteration shape. */
export interface Strided {
  readonly offset: number;
  readonly strides: readonly number[];
}

export type PadMode = 'constant' | 'circular' | 'reflect';
const PAD_MODES: readonly PadMode[] = ['constant', 'circular', 'reflect'];

interface Fields {
  numel: number;
  shape: readonly number[];
  axisSize?: number;
  axisStride?: number;
  x?: Strided;
  index?: Strided;
  out?: Strided;
  mode?: number;
  value?: number;
  classes?: number;
  srcShape?: readonly number[];
  before?: readonly number[];
}

function params(f: Fields): ArrayBuffer {
  const value = f.value ?? 0;
  return new ParamWriter()
    .u32(f.numel)
    .u32(f.shape.length)
    .u32(f.axisSize ?? 0)
    .u32(f.axisStride ?? 0)
    .u32(f.x?.offset ?? 0)
    .u32(f.index?.offset ?? 0)
    .u32(f.out?.offset ?? 0)
    .u32(f.mode ?? 0)
    .f32(value)
    .i32(Number.isInteger(value) ? value : 0)
    .u32(f.classes ?? 0)
    .u32x4Array(f.shape, 2, 1)
    .u32x4Array(f.x?.strides ?? [], 2, 0)
    .u32x4Array(f.index?.strides ?? [], 2, 0)
    .u32x4Array(f.out?.strides ?? [], 2, 0)
    .u32x4Array(f.srcShape ?? [], 2, 1)
    .u32x4Array(f.before ?? [], 2, 0)
    .finish();
}

const isInt = (t: ElementType) => t === 'i32' || t === 'u32';

/**
 * Merges dims that are contiguous in every operand (as elementwise does), so each invocation unravels
 * over as few dims as possible: an embedding lookup walks 2 dims, a same-layout copy 1. Only for kernels
 * that use nothing but the operands' strides (not pad or triangle, which need the real dims).
 */
function merged(shape: readonly number[], operands: readonly (Strided | undefined)[]): { shape: number[]; operands: (Strided | undefined)[] } {
  const present = operands.filter((o): o is Strided => o !== undefined);
  const c = coalesce(shape, present.map((o) => o.strides));
  // A single element coalesces to rank 0; the cursor of gather and copy_into wants an innermost dim.
  const rank0 = c.shape.length === 0;
  let k = 0;
  return {
    shape: rank0 ? [1] : c.shape,
    operands: operands.map((o) => (o ? { offset: o.offset, strides: rank0 ? [0] : c.strides[k++]! } : undefined)),
  };
}

/**
 * The module for element type `t`. Integers: poison is 0, the pad value comes from the i32 field and
 * scatter-add uses atomicAdd on atomic<T>; floats keep the f32 compare-exchange loop on u32 cells.
 */
function shader(t: ElementType): string {
  if (!isInt(t)) return specialize('indexing', { T: t });
  return specialize('indexing', { T: t, S: t }, {
    poison: 'return T(0);',
    pad_value: 'return T(p.value_i);',
    accumulate: 'atomicAdd(&accum[cell], v);',
  });
}

function launch(entryPoint: string, t: ElementType, code: string, f: Fields): Launch {
  return { key: `indexing/${entryPoint}/${t}`, code, entryPoint, params: params(f), workgroups: grid1d(Math.ceil(f.numel / WG1D)) };
}

/** gather and copy_into (scalar or vec4) and scatter_add: PER positions per invocation, WG per workgroup (MAP_TUNING). */
function cursorLaunch(entryPoint: 'gather' | 'gather_vec4' | 'scatter_add' | 'copy_into' | 'copy_into_vec4', t: ElementType, f: Fields, adapterClass: AdapterClass): Launch {
  const { wg, per } = MAP_TUNING[adapterClass];
  return {
    key: `indexing/${entryPoint}/${t}/${wg}x${per}`,
    code: shader(t),
    entryPoint,
    constants: { WG: wg, PER: per },
    params: params(f),
    workgroups: grid1d(Math.ceil(f.numel / (wg * per))),
  };
}

/** Whether dim `inner` of `o` is contiguous and every other stride and the offset are multiples of 4. */
function alignedRows(o: Strided, inner: number): boolean {
  return o.strides[inner] === 1 && o.offset % 4 === 0 && o.strides.every((st, d) => d === inner || st % 4 === 0);
}

/** An alignedRows operand in units of 4 elements (the vec4 kernels' indexing). */
function inUnits(o: Strided, inner: number): Strided {
  return { offset: o.offset / 4, strides: o.strides.map((st, d) => (d === inner ? 1 : st / 4)) };
}

function shapeInUnits(shape: readonly number[], inner: number): number[] {
  return shape.map((n, d) => (d === inner ? n / 4 : n));
}

/**
 * out[e] = x[x.offset + pos·x.strides + index[...] * axisStride] over `shape` (the index's shape); the
 * caller zeroes x's stride on `axis` and passes it as `axisStride`. Binds (x, index, out).
 */
export function gatherLaunch(
  t: ElementType, shape: readonly number[], axisSize: number, axisStride: number, x: Strided, index: Strided, adapterClass: AdapterClass = 'gpu',
): Launch {
  const numel = shape.reduce((n, d) => n * d, 1);
  const m = merged(shape, [x, index]);
  const [xm, im] = m.operands as [Strided, Strided];
  const inner = m.shape.length - 1;
  // Row lookups in units of 4 elements: x contiguous and 4-aligned along the innermost dim, the index
  // constant along it.
  const vec4 = m.shape[inner]! % 4 === 0 && im.strides[inner] === 0 && axisStride % 4 === 0 && alignedRows(xm, inner);
  if (!vec4) return cursorLaunch('gather', t, { numel, shape: m.shape, axisSize, axisStride, x: xm, index: im }, adapterClass);
  const fields = { numel: numel / 4, shape: shapeInUnits(m.shape, inner), axisSize, axisStride: axisStride / 4, x: inUnits(xm, inner), index: im };
  return cursorLaunch('gather_vec4', t, fields, adapterClass);
}

/**
 * out[out.offset + pos·out.strides + index[...] * axisStride] += src[...] over `shape` (the index's
 * shape), atomically. Binds (index, src, out); `out` must hold zeros (or the values to add onto). Float
 * sources (f16 too) accumulate into f32 cells, so for f16 `out` is an f32 buffer the caller casts.
 */
export function scatterAddLaunch(
  t: ElementType, shape: readonly number[], axisSize: number, axisStride: number, src: Strided, index: Strided, out: Strided, adapterClass: AdapterClass = 'gpu',
): Launch {
  const numel = shape.reduce((n, d) => n * d, 1);
  const m = merged(shape, [src, index, out]);
  const fields = { numel, shape: m.shape, axisSize, axisStride, x: m.operands[0], index: m.operands[1], out: m.operands[2] };
  return cursorLaunch('scatter_add', t, fields, adapterClass);
}

/** Copies a strided source of `shape` into a strided region of the output. Binds (x, out). */
export function copyIntoLaunch(t: ElementType, shape: readonly number[], x: Strided, out: Strided, adapterClass: AdapterClass = 'gpu'): Launch {
  const numel = shape.reduce((n, d) => n * d, 1);
  const m = merged(shape, [x, out]);
  const [xm, om] = m.operands as [Strided, Strided];
  const inner = m.shape.length - 1;
  // In units of 4 elements when each unit is one aligned vec4 in both tensors.
  const vec4 = m.shape[inner]! % 4 === 0 && alignedRows(xm, inner) && alignedRows(om, inner);
  if (!vec4) return cursorLaunch('copy_into', t, { numel, shape: m.shape, x: xm, out: om }, adapterClass);
  const fields = { numel: numel / 4, shape: shapeInUnits(m.shape, inner), x: inUnits(xm, inner), out: inUnits(om, inner) };
  return cursorLaunch('copy_into_vec4', t, fields, adapterClass);
}

/**
 * Pads `x` (source dims `srcShape`) to the contiguous output `outShape`, `before[d]` elements before
 * each dim. Binds (x, out).
 */
export function padLaunch(t: ElementType, outShape: readonly number[], srcShape: readonly number[], before: readonly number[], x: Strided, mode: PadMode, value: number): Launch {
  const numel = outShape.reduce((n, d) => n * d, 1);
  return launch('pad', t, shader(t), { numel, shape: outShape, srcShape, before, x, mode: PAD_MODES.indexOf(mode), value });
}

/** f32 one-hot rows for an i32 index tensor of `shape`. Binds (index, out). */
export function oneHotLaunch(shape: readonly number[], classes: number, index: Strided): Launch {
  const numel = shape.reduce((n, d) => n * d, 1) * classes;
  const m = merged(shape, [index]);
  return launch('one_hot', 'f32', shader('f32'), { numel, shape: m.shape, classes, index: m.operands[0] });
}

/** tril (`upper` false) / triu of the last two dims of `x` (rank >= 2), diagonal offset `k`. Binds (x, out). */
export function triangleLaunch(t: ElementType, shape: readonly number[], x: Strided, upper: boolean, k: number): Launch {
  const numel = shape.reduce((n, d) => n * d, 1);
  return launch('triangle', t, shader(t), { numel, shape, x, mode: upper ? 1 : 0, value: k });
}
