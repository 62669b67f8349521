/**
 * Launchers for fused scaled-dot-product attention: kernels/wgsl/attention.wgsl (forward, 'tiled': GPUs
 * and the portable fallback), kernels/wgsl/attention_lanes.wgsl (forward, 'lanes': CPU adapters such as
 * lavapipe, one subgroup = one SIMD register; picked by `chooseAttentionKernel`) and
 * kernels/wgsl/attention_backward.wgsl (delta pre-pass, dK/dV pass, dQ pass), each completed by
 * kernels/wgsl/attention_common.wgsl (one uniform layout for all of them, flags, column helpers), and
 * kernels/wgsl/attention_combine.wgsl (the merge after a forward whose keys were split across workgroups).
 *
 * Every operand is read through its own element strides (q/k/v/dO as [batch, head, row, column], the
 * additive mask as [batch, head, query, key] with 0 on broadcast dims, the key-padding mask as
 * [batch, key]), so permuted or sliced views never need a copy. The head dim and tile sizes are compiled
 * in (private row arrays need a fixed size); everything else travels in the uniforms.
 */
import type { Operand } from './elementwise.js';
import {
  ParamWriter, WG1D, gridFillingSplit, grid1d, lanesSupported, specialize, unsplit, type AdapterClass, type ElementType, type Launch, type Split,
} from './launch.js';

/** Largest head dim the kernels compile for: private memory per invocation grows with it. */
export const MAX_HEAD_DIM = 256;

export interface AttentionShape {
  readonly batch: number;
  readonly heads: number;
  /** Query rows. */
  readonly tq: number;
  /** Key/value rows. */
  readonly tk: number;
  readonly headDim: number;
  readonly causal: boolean;
  readonly scale: number;
}

export interface AttentionOperands {
  readonly q: Operand;
  readonly k: Operand;
  readonly v: Operand;
  /** Additive float mask, strides [batch, head, query, key]. */
  readonly mask: Operand | null;
  /** Key-padding mask (non-zero = ignore the key), strides [batch, key]. */
  readonly keyPadding: Operand | null;
}

/** Rows per workgroup (one invocation each) and rows per staged tile of the other operand. */
export interface AttentionTile {
  readonly rows: number;
  readonly tile: number;
}

/**
 * Preferred (rows, tile) per adapter class. 'cpu': on lavapipe (bench/attention-probe.ts) rows 8..32 and
 * tiles 16..64 all land within ~10%; 16 rows keep ragged ends small (T = 197 pads to 208). 'gpu': the
 * fastest forward and within 5% of the fastest backward of the tiles `scripts/device-session.sh
 * attention-tiles` swept on an NVIDIA H200 (Dawn + Vulkan, 2026-11-27, B = 8, d = 64, wall clock,
 * forward / backward ms):
 *                    16x32       32x32       64x32       64x16       128x16      128x32      256x8
 *   ViT-B T = 197    0.69/2.40   0.41/1.08   0.28/0.74   0.26/0.57   0.24/0.61   0.22/0.60   0.24/0.65
 *   ViT-L T = 257    2.41/4.71   0.81/2.35   0.50/2.36   0.45/1.20   0.44/1.20   0.39/1.19   0.48/2.47
 * (64x32 was the GPU tile before; the unfused composition took 0.32-0.34 / 0.93-1.13 ms at ViT-B.)
 * A table measured on the device at hand (engine/tuning/attention.ts tuneAttention) replaces the family
 * and this tile at run time.
 */
const PREFERRED: Record<'cpu' | 'gpu', AttentionTile> = {
  cpu: { rows: 16, tile: 32 },
  gpu: { rows: 128, tile: 32 },
};

/**
 * Tile sizes for one head dim under the device's workgroup-storage limit: each staged tile row costs two
 * f32 rows padded to vec4 plus 8 bytes of per-row flags; the tile halves until it fits.
 */
export function attentionTile(adapterClass: 'cpu' | 'gpu', headDim: number, workgroupStorageBytes: number): AttentionTile {
  return fittedAttentionTile(PREFERRED[adapterClass], headDim, workgroupStorageBytes);
}

/** `tile` with its staged rows halved (down to 4) until they fit the device's workgroup memory at this head dim. */
export function fittedAttentionTile(preferred: AttentionTile, headDim: number, workgroupStorageBytes: number): AttentionTile {
  let tile = preferred.tile;
  while (tile > 4 && attentionTileBytes(headDim, tile) > workgroupStorageBytes) tile = Math.ceil(tile / 2);
  return { rows: preferred.rows, tile };
}

/**
 * One row of an attention tuning table measured on the device (engine/tuning/attention.ts tuneAttention): the
 * kernel family, and the tiled family's tile, for attention over at most maxT rows (the larger of Tq and
 * Tk). The first row that covers T wins; the last covers any T.
 */
export type AttentionTuningEntry = { readonly maxT: number } & (
  | { readonly kernel: 'lanes' | 'blocked' }
  | { readonly kernel: 'tiled'; readonly tile: AttentionTile });

/** The row of `entries` for attention over `t` rows. */
export function attentionTuningEntry(entries: readonly AttentionTuningEntry[], t: number): AttentionTuningEntry {
  return entries.find((e) => t <= e.maxT) ?? entries[entries.length - 1]!;
}

/** Workgroup memory of `tile` staged rows in the tiled kernels: two f32 rows padded to vec4s plus 8 bytes of flags each. */
export function attentionTileBytes(headDim: number, tile: number): number {
  return tile * (2 * Math.ceil(headDim / 4) * 16 + 8);
}

/** The markers of attention_common.wgsl: the q/k/v row loaders' bodies. */
const COMMON_MARKERS: readonly string[] = ['inputs', 'd_out_input', 'load_q4', 'load_k4', 'load_v4', 'load_do4'];

/**
 * A kernel file completed by attention_common.wgsl (uniforms, flags, row loaders, mask readers); `bodies`
 * may name markers of either file.
 */
function attentionCode(
  file: 'attention' | 'attention_blocked' | 'attention_lanes' | 'attention_backward' | 'attention_blocked_backward' | 'attention_lanes_backward', types: Record<string, string>, bodies: Record<string, string>): string {
  const entries = Object.entries(bodies);
  const own = Object.fromEntries(entries.filter(([marker]) => !COMMON_MARKERS.includes(marker)));
  const shared = Object.fromEntries(entries.filter(([marker]) => COMMON_MARKERS.includes(marker)));
  return `${specialize(file, types, own)}\n${specialize('attention_common', {}, shared)}`;
}

const FLAG_CAUSAL = 1;
const FLAG_KEY_PADDING = 2;
const FLAG_MASK = 4;

function flags(shape: AttentionShape, ops: AttentionOperands): number {
  return (shape.causal ? FLAG_CAUSAL : 0) | (ops.keyPadding ? FLAG_KEY_PADDING : 0) | (ops.mask ? FLAG_MASK : 0);
}

function typesOf(ops: AttentionOperands): Record<'T' | 'M' | 'KP', ElementType> {
  return { T: ops.q.dtype, M: ops.mask?.dtype ?? 'f32', KP: ops.keyPadding?.dtype ?? 'u32' };
}

function tilesBlock(headDim: number, names: readonly [string, number][]): string {
  return ['/*@tiles*/', `const D: u32 = ${headDim}u;`, ...names.map(([n, v]) => `const ${n}: u32 = ${v}u;`), '/*@end*/'].join('\n');
}

function keyOf(entry: string, headDim: number, types: Record<string, string>, tiles: readonly [string, number][]): string {
  return `attention/${entry}/d${headDim}/${Object.values(types).join(',')}/${tiles.map(([n, v]) => `${n}${v}`).join(',')}`;
}

/**
 * attention_common.wgsl's Params; the forward passes have no dOut, dQ, dK or dV operands (zeros). `split`
 * divides the rows a pass walks (attention.wgsl's forward and attention_backward.wgsl's dkdv and dq read
 * it; the other passes get the default, unread).
 */
function attentionParams(
  shape: AttentionShape, ops: AttentionForwardOperands & Partial<Omit<AttentionBackwardOperands, 'out'>>, split: Split = unsplit(shape.tk),
): ArrayBuffer {
  const w = new ParamWriter()
    .u32(shape.tq)
    .u32(shape.tk)
    .u32(shape.heads)
    .u32(flags(shape, ops))
    .f32(shape.scale)
    .u32(shape.batch)
    .u32(split.segments)
    .u32(split.perSegment);
  const operands = [ops.q, ops.k, ops.v, ops.mask, ops.keyPadding, ops.out, ops.dOut, ops.lse, ops.dq, ops.dk, ops.dv];
  for (const o of operands) w.u32(o?.offset ?? 0);
  for (const o of operands) w.u32x4Array(o?.strides ?? [], 1, 0);
  return w.finish();
}

/** The forward's operands: the inputs, and where the output goes (rows of unit column stride). */
export interface AttentionForwardOperands extends AttentionOperands {
  readonly out: Operand;
}

/** Staged key tiles per segment at least: each segment's workgroup loads its own rows of Q. */
const MIN_TILES_PER_SEGMENT = 2;
/** Segments at most: the merge reads every segment's partial row. */
const MAX_SEGMENTS = 16;

/**
 * The tiled forward's key split on an adapter class: on GPUs, where (query blocks x heads x batch) is
 * under half of SPLIT_TARGET_WORKGROUPS (one image at ViT-B: 2 x 12 x 1 = 24 workgroups of 128 rows),
 * the keys split into as many segments as bring the grid to the target, at least MIN_TILES_PER_SEGMENT
 * tiles each and at most MAX_SEGMENTS; never on CPU adapters, whose few cores any grid fills.
 * `splitOf(shape.tk, tile.tile, n)` forces n segments of whole tiles.
 */
export function attentionKeySplit(adapterClass: AdapterClass, shape: AttentionShape, tile: AttentionTile): Split {
  if (adapterClass === 'cpu') return unsplit(shape.tk);
  const grid = Math.ceil(shape.tq / tile.rows) * shape.heads * shape.batch;
  return gridFillingSplit(grid, shape.tk, tile.tile, MIN_TILES_PER_SEGMENT, MAX_SEGMENTS);
}

/**
 * Forward, attention.wgsl: grid (ceil(tq / rows) * split.segments, heads, batch), each <= MAX_GRID_DIM (the
 * caller checks); `split` divides each query block's keys (attentionKeySplit). Binds (q, k, v, mask,
 * keyPadding, out, lse); absent masks bind any buffer (never read). With more than one segment, `ops.out`
 * and the lse binding are the scratch of attentionCombineLaunch: [segments * batch, heads, tq, headDim]
 * and [segments * batch, heads, tq], contiguous.
 */
export function attentionForwardLaunch(shape: AttentionShape, ops: AttentionForwardOperands, tile: AttentionTile, split: Split = unsplit(shape.tk)): Launch {
  return stagedForwardLaunch('attention', 'attention_forward', shape, ops, [['BR', tile.rows], ['BC', tile.tile]], split);
}

/**
 * The merge of a key-split forward, attention_combine.wgsl: binds (partial out, partial lse, out, lse),
 * the first two the forward's scratch, `out` written through its operand's offset and strides, the lse
 * contiguous [batch, heads, tq].
 */
export function attentionCombineLaunch(shape: AttentionShape, dtype: ElementType, out: Operand, split: Split): Launch {
  const types = { T: dtype };
  const chunks = shape.batch * shape.heads * shape.tq * Math.ceil(shape.headDim / 4);
  return {
    key: `attention/combine/d${shape.headDim}/${dtype}`,
    code: () => specialize('attention_combine', types, { tiles: tilesBlock(shape.headDim, []) }),
    entryPoint: 'attention_combine',
    params: new ParamWriter().u32(split.segments).u32(shape.batch).u32(shape.heads).u32(shape.tq).u32(out.offset).u32x4Array(out.strides, 1, 0).finish(),
    workgroups: grid1d(Math.ceil(chunks / WG1D)),
  };
}

/**
 * A forward whose kernel file takes q, k, v, the masks, out and lse as array<T> bindings and BR query rows
 * per workgroup from its `tiles` block (attention.wgsl, attention_blocked.wgsl); only attention.wgsl
 * reads a key split.
 */
function stagedForwardLaunch(
  file: 'attention' | 'attention_blocked', entryPoint: string, shape: AttentionShape, ops: AttentionForwardOperands, tiles: [string, number][],
  split: Split = unsplit(shape.tk),
): Launch {
  const types = typesOf(ops);
  const rows = tiles.find(([name]) => name === 'BR')![1];
  const vec4 = vectorOperands(shape, ops);
  const bodies = { tiles: tilesBlock(shape.headDim, tiles), ...(vec4 ? vec4InputBodies(false) : {}) };
  return {
    key: keyOf(vec4 ? `${entryPoint}_v4` : entryPoint, shape.headDim, types, tiles),
    code: () => attentionCode(file, types, bodies),
    entryPoint,
    params: attentionParams(shape, ops, split),
    workgroups: [Math.ceil(shape.tq / rows) * split.segments, shape.heads, shape.batch],
  };
}

/**
 * Kernel families, forward and backward: 'tiled' (attention.wgsl and attention_backward.wgsl, one
 * invocation per row, the other side's tiles in workgroup memory; the GPU kernels and the portable
 * fallback), 'lanes' (attention_lanes.wgsl and attention_lanes_backward.wgsl, one subgroup = one SIMD
 * register; CPU adapters such as lavapipe) and 'blocked' (attention_blocked.wgsl and
 * attention_blocked_backward.wgsl: score and output tiles register-blocked across the workgroup,
 * FlashAttention-2's split). On an H200 'tiled' with 128-row workgroups beat 'blocked' forward and
 * backward (attention_blocked.wgsl's header), so no adapter picks 'blocked' by default.
 */
export type AttentionKernel = 'tiled' | 'lanes' | 'blocked';

/** Tile of attention_blocked.wgsl: query rows per workgroup, keys per staged tile, invocation rows. */
export interface AttentionBlockedTile {
  readonly rows: number;
  readonly keys: number;
  readonly rowGroups: number;
}

/** Workgroup memory of attention_blocked.wgsl at a tile: Q, padded K and V rows, P, row partials, key flags. */
export function attentionBlockedBytes(headDim: number, tile: AttentionBlockedTile): number {
  const d4 = Math.ceil(headDim / 4);
  return 16 * (tile.rows * d4 + 2 * tile.keys * (d4 + 1)) + 4 * (tile.rows * tile.keys + tile.rows * 8 + tile.keys);
}

/** The blocked kernels' tiles, largest first: 4 own rows per invocation, 8 invocations per row group. */
const BLOCKED_TILES: readonly AttentionBlockedTile[] = [
  { rows: 64, keys: 32, rowGroups: 16 }, { rows: 32, keys: 32, rowGroups: 8 }, { rows: 32, keys: 16, rowGroups: 8 },
  { rows: 16, keys: 16, rowGroups: 4 }, { rows: 16, keys: 8, rowGroups: 4 }, { rows: 8, keys: 8, rowGroups: 2 },
];

/** The first of `tiles` whose workgroup memory (`bytes`) and invocations fit the device, else the smallest. */
function largestBlockedTile(
  tiles: readonly AttentionBlockedTile[], bytes: (tile: AttentionBlockedTile) => number, workgroupStorageBytes: number, maxInvocations: number,
): AttentionBlockedTile {
  return tiles.find((t) => bytes(t) <= workgroupStorageBytes && 8 * t.rowGroups <= maxInvocations) ?? tiles[tiles.length - 1]!;
}

/**
 * The largest blocked tile whose workgroup memory fits `workgroupStorageBytes` (64 rows x 32 keys on 128
 * invocations at d <= 64 under Vulkan's usual 48 KiB; WebGPU's default 16 KiB gets 16 x 16), with at most
 * `maxInvocations` invocations.
 */
export function attentionBlockedTile(headDim: number, workgroupStorageBytes: number, maxInvocations: number): AttentionBlockedTile {
  return largestBlockedTile(BLOCKED_TILES, (t) => attentionBlockedBytes(headDim, t), workgroupStorageBytes, maxInvocations);
}

/**
 * Forward, attention_blocked.wgsl: grid (ceil(tq / rows), heads, batch), each <= MAX_GRID_DIM (the caller
 * checks). Same bindings as `attentionForwardLaunch`.
 */
export function attentionBlockedForwardLaunch(shape: AttentionShape, ops: AttentionForwardOperands, tile: AttentionBlockedTile): Launch {
  return stagedForwardLaunch('attention_blocked', 'attention_blocked_forward', shape, ops, [['BR', tile.rows], ['BC', tile.keys], ['TY', tile.rowGroups]]);
}

/** Query rows per workgroup, keys per lane per block, and the subgroup width of the lanes kernel. */
export interface AttentionLanesTile {
  readonly rows: number;
  readonly keysPerLane: number;
  readonly lanes: number;
}

/**
 * The kernel family for an adapter: 'lanes' on CPU adapters with subgroups of a known fixed width
 * (`subgroupSize` undefined when the adapter reports a range), else 'tiled'.
 */
export function chooseAttentionKernel(adapterClass: AdapterClass, hasSubgroups: boolean, subgroupSize: number | undefined): AttentionKernel {
  return adapterClass === 'cpu' && lanesSupported(hasSubgroups, subgroupSize) ? 'lanes' : 'tiled';
}

/**
 * Lanes-kernel tile for a head dim. Each lane keeps rows x ceil(d / (4 * lanes)) vec4 accumulators (and
 * as many query chunks). More rows re-read K and V less often until the row loops exceed NIR's unroll
 * budget, and then the per-row arrays go to memory and the kernel slows ~3.5x (attention_lanes.wgsl has
 * the numbers): 32 rows while a row fits one vec4 per lane (d <= 4 * lanes), 24 with two (d = 64 on
 * 8 lanes: 61 ms vs 63-67 with 16 at ViT-B B=8; 32 rows: 225 ms), else 16 (d = 128 measured 16 rows
 * faster than 8 or 12). 2 keys per lane.
 */
export function attentionLanesTile(headDim: number, lanes: number): AttentionLanesTile {
  const chunksPerLane = Math.ceil(Math.ceil(headDim / 4) / lanes);
  return { rows: chunksPerLane === 1 ? 32 : chunksPerLane === 2 ? 24 : 16, keysPerLane: 2, lanes };
}

/**
 * Whether q, k and v can all be bound as array<vec4<T>>: unit column stride, head dim a multiple of 4,
 * and offset plus every other stride 4-aligned, so each row chunk is one aligned vec4.
 */
export function vectorOperands(shape: AttentionShape, ops: AttentionOperands): boolean {
  return shape.headDim % 4 === 0 && [ops.q, ops.k, ops.v].every(aligned4);
}

/** Unit column stride, and offset and every other stride 4-aligned: each row chunk is one aligned vec4. */
function aligned4(o: Operand): boolean {
  return o.strides[3] === 1 && o.offset % 4 === 0 && o.strides.slice(0, 3).every((s) => s % 4 === 0);
}

/**
 * The `inputs` block and row loaders that read q, k and v (and dO, for the backward passes) as
 * array<vec4<T>>: one 16-byte load per row chunk instead of four element loads, each with its own bounds
 * check. Every family's kernel files have these markers; use only where vectorOperands holds (and, with
 * dO, aligned4(dOut)).
 */
function vec4InputBodies(withDOut: boolean): Record<string, string> {
  const binding = (name: string, at: number) => `@group(0) @binding(${at}) var<storage, read> ${name}: array<vec4<T>>;`;
  const loader = (name: string) => `return vec4<f32>(${name}[(base + c) / 4u]);`;
  return {
    inputs: [binding('q', 1), binding('k', 2), binding('v', 3)].join('\n'),
    load_q4: loader('q'), load_k4: loader('k'), load_v4: loader('v'),
    ...(withDOut ? { d_out_input: binding('d_out', 6), load_do4: loader('d_out') } : {}),
  };
}

/**
 * Forward, attention_lanes.wgsl: grid (ceil(tq / rows), heads, batch), each <= MAX_GRID_DIM (the caller
 * checks). Same bindings as `attentionForwardLaunch`.
 */
export function attentionLanesForwardLaunch(shape: AttentionShape, ops: AttentionForwardOperands, tile: AttentionLanesTile): Launch {
  const types = typesOf(ops);
  const tiles: [string, number][] = [['ROWS', tile.rows], ['KPL', tile.keysPerLane], ['LANES', tile.lanes]];
  const vec4 = vectorOperands(shape, ops) && aligned4(ops.out);
  const bodies: Record<string, string> = { tiles: tilesBlock(shape.headDim, tiles) };
  if (vec4) {
    Object.assign(bodies, vec4InputBodies(false));
    bodies.output = '@group(0) @binding(6) var<storage, read_write> out: array<vec4<T>>;';
    bodies.store4 = 'if (c < D) { out[(base + c) / 4u] = vec4<T>(x); }';
  }
  return {
    key: keyOf(vec4 ? 'lanes_forward_v4' : 'lanes_forward', shape.headDim, types, tiles),
    code: () => attentionCode('attention_lanes', types, bodies),
    entryPoint: 'attention_lanes_forward',
    params: attentionParams(shape, ops),
    workgroups: [Math.ceil(shape.tq / tile.rows), shape.heads, shape.batch],
  };
}

/** The backward pass's operands: what it reads besides q, k, v and the masks, and where dQ, dK, dV go. */
export interface AttentionBackwardOperands extends AttentionForwardOperands {
  readonly dOut: Operand;
  /** Forward log-sum-exp, strides [batch, head, row]. */
  readonly lse: Operand;
  /** The gradients' destinations (rows of unit column stride); dK and dV lie in one buffer (binding `dkv`). */
  readonly dq: Operand;
  readonly dk: Operand;
  readonly dv: Operand;
}

type BackwardEntry = 'attention_delta' | 'attention_dkdv' | 'attention_dq' | 'attention_blocked_dkdv' | 'attention_blocked_dq';

/**
 * A backward launch. `split` divides the rows the pass walks (attention_backward.wgsl's dkdv and dq only):
 * with more than one segment the gradients go to an f32 scratch (the G alias), else in q's type.
 */
function backwardLaunch(
  entry: BackwardEntry,
  shape: AttentionShape,
  ops: AttentionBackwardOperands,
  tiles: [string, number][],
  workgroups: readonly [number, number, number],
  split?: Split,
): Launch {
  const file = entry.startsWith('attention_blocked') ? 'attention_blocked_backward' : 'attention_backward';
  const types: Record<string, ElementType> = typesOf(ops);
  if (file === 'attention_backward') types.G = split && split.segments > 1 ? 'f32' : types.T!;
  // The delta pre-pass reads out and dO through bindings of its own, never q, k or v.
  const vec4 = entry !== 'attention_delta' && vectorOperands(shape, ops) && aligned4(ops.dOut);
  const bodies = { tiles: tilesBlock(shape.headDim, tiles), ...(vec4 ? vec4InputBodies(true) : {}) };
  return {
    key: keyOf(vec4 ? `${entry}_v4` : entry, shape.headDim, types, tiles),
    code: () => attentionCode(file, types, bodies),
    entryPoint: entry,
    params: attentionParams(shape, ops, split),
    workgroups,
  };
}

/**
 * Pre-pass: packs (lse_i, rowsum(dO_i * O_i)) per query row into a contiguous vec2<f32> array of
 * batch * heads * tq entries. Binds (out, dOut, lse, stats).
 */
export function attentionDeltaLaunch(shape: AttentionShape, ops: AttentionBackwardOperands): Launch {
  // The row tiles do not matter to this entry point; fixed values keep one pipeline per head dim.
  const tiles: [string, number][] = [['BQ', 16], ['BK', 16]];
  return backwardLaunch('attention_delta', shape, ops, tiles, grid1d(Math.ceil((shape.batch * shape.heads * shape.tq) / WG1D)));
}

/**
 * The tiled backward's splits of the rows each pass walks, by the forward's rule (attentionKeySplit): the
 * dQ pass walks keys from blocks of query rows, as the forward does, and the dK/dV pass is the same with
 * queries and keys swapped.
 */
export function attentionBackwardSplits(adapterClass: AdapterClass, shape: AttentionShape, tile: AttentionTile): { dkdv: Split; dq: Split } {
  return {
    dkdv: attentionKeySplit(adapterClass, { ...shape, tq: shape.tk, tk: shape.tq }, tile),
    dq: attentionKeySplit(adapterClass, shape, tile),
  };
}

/**
 * dK and dV into one buffer (at ops.dk and ops.dv): binds (q, k, v, mask, keyPadding, dOut, stats, dkv);
 * grid (ceil(tk / rows) * split.segments, heads, batch). With more than one segment ops.dk and ops.dv are
 * f32 scratch [segments * batch, heads, tk, headDim] whose segments the caller adds up.
 */
export function attentionDkDvLaunch(shape: AttentionShape, ops: AttentionBackwardOperands, tile: AttentionTile, split: Split = unsplit(shape.tq)): Launch {
  const blocks = Math.ceil(shape.tk / tile.rows) * split.segments;
  const tiles: [string, number][] = [['BQ', tile.tile], ['BK', tile.rows]];
  return backwardLaunch('attention_dkdv', shape, ops, tiles, [blocks, shape.heads, shape.batch], split);
}

/**
 * dQ: binds (q, k, v, mask, keyPadding, dOut, stats, dq); grid (ceil(tq / rows) * split.segments, heads,
 * batch), with an f32 scratch [segments * batch, heads, tq, headDim] at ops.dq when split.
 */
export function attentionDqLaunch(shape: AttentionShape, ops: AttentionBackwardOperands, tile: AttentionTile, split: Split = unsplit(shape.tk)): Launch {
  const blocks = Math.ceil(shape.tq / tile.rows) * split.segments;
  const tiles: [string, number][] = [['BQ', tile.rows], ['BK', tile.tile]];
  return backwardLaunch('attention_dq', shape, ops, tiles, [blocks, shape.heads, shape.batch], split);
}

/** Workgroup memory of attention_blocked_backward.wgsl: own and padded walked rows, P and dS, (L, delta) and flags. */
export function attentionBlockedBackwardBytes(headDim: number, tile: AttentionBlockedTile): number {
  const d4 = Math.ceil(headDim / 4);
  return 16 * (2 * tile.rows * d4 + 2 * tile.keys * (d4 + 1)) + 8 * tile.rows * tile.keys + 12 * tile.keys;
}

/**
 * The largest blocked backward tile (own rows, walked rows per tile, invocation rows) that fits the
 * device's workgroup memory and invocation limits: 32 x 32 on 64 invocations at d = 64 needs 41.4 KiB
 * (Vulkan's usual 48 KiB), lavapipe's 32 KiB gets 32 x 16 and WebGPU's default 16 KiB 16 x 8.
 */
export function attentionBlockedBackwardTile(headDim: number, workgroupStorageBytes: number, maxInvocations: number): AttentionBlockedTile {
  // From 32 own rows down: the backward keeps two accumulators per own row and column chunk.
  return largestBlockedTile(BLOCKED_TILES.slice(1), (t) => attentionBlockedBackwardBytes(headDim, t), workgroupStorageBytes, maxInvocations);
}

/** dK and dV, attention_blocked_backward.wgsl: the same bindings as `attentionDkDvLaunch`. */
export function attentionBlockedDkDvLaunch(shape: AttentionShape, ops: AttentionBackwardOperands, tile: AttentionBlockedTile): Launch {
  const tiles: [string, number][] = [['OWN', tile.rows], ['WALK', tile.keys], ['TY', tile.rowGroups]];
  return backwardLaunch('attention_blocked_dkdv', shape, ops, tiles, [Math.ceil(shape.tk / tile.rows), shape.heads, shape.batch]);
}

/** dQ, attention_blocked_backward.wgsl: the same bindings as `attentionDqLaunch`. */
export function attentionBlockedDqLaunch(shape: AttentionShape, ops: AttentionBackwardOperands, tile: AttentionBlockedTile): Launch {
  const tiles: [string, number][] = [['OWN', tile.rows], ['WALK', tile.keys], ['TY', tile.rowGroups]];
  return backwardLaunch('attention_blocked_dq', shape, ops, tiles, [Math.ceil(shape.tq / tile.rows), shape.heads, shape.batch]);
}

/** Own rows per workgroup, walked rows per lane per block, and the subgroup width of the lanes backward. */
export interface AttentionLanesBackwardTile {
  readonly rows: number;
  readonly perLane: number;
  readonly lanes: number;
}

/**
 * Lanes-backward tile for a head dim: each lane keeps 4 (dK/dV pass) or 3 (dQ pass) arrays of rows x
 * ceil(d / (4 * lanes)) vec4s. Measured on lavapipe (8 lanes; attention_lanes_backward.wgsl has the
 * figures): 16 rows while a row takes at most 2 chunks per lane (d <= 64), 8 beyond (d = 80..128, where
 * 16 rows overflow NIR's unroll budget and run 1.5-2x slower); 2 walked rows per lane.
 */
export function attentionLanesBackwardTile(headDim: number, lanes: number): AttentionLanesBackwardTile {
  const chunksPerLane = Math.ceil(Math.ceil(headDim / 4) / lanes);
  return { rows: chunksPerLane <= 2 ? 16 : 8, perLane: 2, lanes };
}

/**
 * dK/dV (binds q, k, v, mask, keyPadding, dOut, stats, dkv) or dQ (..., dq) with
 * attention_lanes_backward.wgsl: grid (ceil(rows owned / tile.rows), heads, batch).
 */
export function attentionLanesBackwardLaunch(
  entry: 'attention_lanes_dkdv' | 'attention_lanes_dq',
  shape: AttentionShape,
  ops: AttentionBackwardOperands,
  tile: AttentionLanesBackwardTile,
): Launch {
  const types = typesOf(ops);
  const tiles: [string, number][] = [['ROWS', tile.rows], ['PER_LANE', tile.perLane], ['LANES', tile.lanes]];
  const vec4 = vectorOperands(shape, ops) && aligned4(ops.dOut);
  const bodies: Record<string, string> = { tiles: tilesBlock(shape.headDim, tiles), ...(vec4 ? vec4InputBodies(true) : {}) };
  const owned = entry === 'attention_lanes_dkdv' ? shape.tk : shape.tq;
  return {
    key: keyOf(vec4 ? `${entry}_v4` : entry, shape.headDim, types, tiles),
    code: () => attentionCode('attention_lanes_backward', types, bodies),
    entryPoint: entry,
    params: attentionParams(shape, ops),
    workgroups: [Math.ceil(owned / tile.rows), shape.heads, shape.batch],
  };
}
