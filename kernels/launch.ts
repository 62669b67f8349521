/**
 * What a kernel launcher hands to the engine: everything needed to dispatch one compute shader, with no
 * GPU objects in it. Launchers (kernels/*.ts) are pure functions from shapes to `Launch`es; the engine's
 * scheduler compiles (and caches) the pipeline, binds buffers and records the dispatch.
 *
 * Binding convention for every kernel in kernels/wgsl: `@group(0) @binding(0)` is the uniform `Params`
 * struct, bindings 1..n are storage buffers in the order the launcher's caller passes them (inputs first,
 * outputs last). Shapes, strides and offsets always travel in `Params`, so one compiled pipeline serves
 * every shape.
 */
import { WGSL_SOURCES, type WgslFile } from './wgsl/embedded.js';

export type ElementType = 'f32' | 'f16' | 'i32' | 'u32';

/** 'cpu' for software adapters (lavapipe, SwiftShader, WARP), 'gpu' otherwise: launchers pick tiles by it. */
export type AdapterClass = 'cpu' | 'gpu';

/** The subgroup widths the lanes kernels are written for. */
const LANE_WIDTHS = [4, 8, 16, 32];

/** What the lanes kernels need of the adapter (lanesSupported), in the words every refusal uses. */
export const LANES_REQUIREMENT = `the subgroups feature and a fixed subgroup size of ${LANE_WIDTHS.slice(0, -1).join(', ')} or ${LANE_WIDTHS.at(-1)}`;

/**
 * Whether the lanes kernels (matmul_lanes, attention_lanes*: one workgroup is exactly one subgroup,
 * whose lanes share operands by subgroupShuffle) can run: the `subgroups` feature and a fixed
 * subgroup width they are written for (`subgroupSize` undefined when the adapter reports a range).
 */
export function lanesSupported(hasSubgroups: boolean, subgroupSize: number | undefined): boolean {
  return hasSubgroups && subgroupSize !== undefined && LANE_WIDTHS.includes(subgroupSize);
}

export interface Launch {
  /** Unique per distinct shader text + entry point + constants: the pipeline cache key. */
  readonly key: string;
  /**
   * The WGSL source, or a function that builds it: the scheduler calls it only when `key` has no compiled
   * pipeline yet. Specialising sources on every dispatch (regex passes over whole files, then joins) cost
   * ~5% of the main job's time on lavapipe, plus the garbage collection of the discarded strings.
   */
  readonly code: string | (() => string);
  readonly entryPoint: string;
  /** Values for `override` declarations in the shader. */
  readonly constants?: Readonly<Record<string, number>>;
  /** Uniform bytes for binding 0 (little-endian, laid out as the shader's `Params`). */
  readonly params: ArrayBuffer;
  /** Workgroup counts; launchers keep each <= 65535 by spilling into y (see `grid1d`). */
  readonly workgroups: readonly [number, number, number];
}

/**
 * Takes a kernel file and specialises its type aliases: a file declares `alias T = f32;` (valid WGSL on
 * its own, so it reads and compiles as written) and a launcher asks for `{ T: 'f16' }`. f16 anywhere
 * adds the `enable f16;` directive. `bodies` replaces marked snippets `/*@NAME*\/ ... /*@end*\/` by name,
 * which elementwise files use to inject the operation.
 */
export function specialize(
  file: WgslFile,
  types: Readonly<Record<string, string>> = {},
  bodies: Readonly<Record<string, string>> = {},
): string {
  let code: string = WGSL_SOURCES[file];
  for (const [name, type] of Object.entries(types)) {
    const re = new RegExp(`^alias ${name} = [a-z0-9<>]+;`, 'm');
    if (!re.test(code)) throw new Error(`specialize: ${file}.wgsl declares no 'alias ${name}'`);
    code = code.replace(re, `alias ${name} = ${type};`);
  }
  for (const [marker, body] of Object.entries(bodies)) {
    const re = new RegExp(`/\\*@${marker}\\*/[\\s\\S]*?/\\*@end\\*/`);
    if (!re.test(code)) throw new Error(`specialize: ${file}.wgsl has no /*@${marker}*/ marker`);
    code = code.replace(re, body);
  }
  if (/\bf16\b/.test([...Object.values(types), ...Object.values(bodies)].join(' '))) code = `enable f16;\n${code}`;
  return code;
}

/**
 * Writes a uniform struct field by field following WGSL's layout rules for the types we use:
 * 4-byte scalars packed, `vec4<u32>` arrays aligned to 16 bytes. Call in struct order.
 */
export class ParamWriter {
  private readonly bytes: ArrayBuffer;
  private readonly view: DataView;
  private offset = 0;
  constructor(maxBytes = 256) {
    this.bytes = new ArrayBuffer(maxBytes);
    this.view = new DataView(this.bytes);
  }
  u32(v: number): this {
    this.view.setUint32(this.offset, v >>> 0, true);
    this.offset += 4;
    return this;
  }
  i32(v: number): this {
    this.view.setInt32(this.offset, v | 0, true);
    this.offset += 4;
    return this;
  }
  f32(v: number): this {
    this.view.setFloat32(this.offset, v, true);
    this.offset += 4;
    return this;
  }
  /** One 4-byte scalar of the given element type (f16 values are written as f32). */
  scalar(type: ElementType, v: number): this {
    return type === 'i32' ? this.i32(v) : type === 'u32' ? this.u32(v) : this.f32(v);
  }
  /** `array<vec4<u32>, n>` holding `values` padded with `fill` (e.g. 8 dims of a shape padded with 1). */
  u32x4Array(values: readonly number[], n: number, fill = 0): this {
    this.offset = Math.ceil(this.offset / 16) * 16;
    for (let i = 0; i < n * 4; i++) this.u32(values[i] ?? fill);
    return this;
  }
  /** Struct size rounded up to 16 bytes, as uniform buffers require. */
  finish(): ArrayBuffer {
    const size = Math.max(16, Math.ceil(this.offset / 16) * 16);
    return this.bytes.slice(0, size);
  }
}

/**
 * A sum split across workgroups (a GEMM's K, attention's keys): `segments` ranges of `perSegment`
 * elements, each its own workgroups, the last range possibly shorter; a second pass merges them. One
 * segment over everything is no split.
 */
export interface Split {
  readonly segments: number;
  readonly perSegment: number;
}

export function unsplit(length: number): Split {
  return { segments: 1, perSegment: Math.max(1, length) };
}

/**
 * Workgroups a split aims for: two or more resident workgroups on each of a large GPU's ~130
 * multiprocessors (H100 and H200: 132 SMs; WebGPU does not report the count).
 */
export const SPLIT_TARGET_WORKGROUPS = 256;

/** `requested` segments of whole `unit`s (slabs, staged tiles) over `length`, rounded so none is empty. */
export function splitOf(length: number, unit: number, requested: number): Split {
  const units = Math.ceil(length / unit);
  const wanted = Math.min(requested, units);
  if (!(wanted > 1)) return unsplit(length);
  const perSegment = unit * Math.ceil(units / wanted);
  return { segments: Math.ceil(length / perSegment), perSegment };
}

/**
 * The split of a sum over `length` for a `grid` of workgroups on a GPU: none when the grid is at least
 * half of SPLIT_TARGET_WORKGROUPS, else as many segments as bring it to the target, at most
 * `maxSegments` and of at least `minUnits` units each.
 */
export function gridFillingSplit(grid: number, length: number, unit: number, minUnits: number, maxSegments: number): Split {
  if (grid * 2 >= SPLIT_TARGET_WORKGROUPS) return unsplit(length);
  const most = Math.min(maxSegments, Math.floor(Math.ceil(length / unit) / minUnits));
  return splitOf(length, unit, Math.min(most, Math.ceil(SPLIT_TARGET_WORKGROUPS / grid)));
}

/** Threads per workgroup for 1-D elementwise-style kernels. */
export const WG1D = 256;

/** WebGPU's default cap on each workgroup-grid dimension. */
export const MAX_GRID_DIM = 65535;

/**
 * Workgroup grid for `count` workgroups: each dimension is capped at MAX_GRID_DIM, so large launches spill
 * into y. Shaders recover the linear workgroup index as `wid.x + wid.y * nwg.x`.
 */
export function grid1d(count: number): [number, number, number] {
  const n = Math.max(1, count);
  if (n <= MAX_GRID_DIM) return [n, 1, 1];
  const y = Math.ceil(n / MAX_GRID_DIM);
  return [Math.ceil(n / y), y, 1];
}
