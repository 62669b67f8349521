/**
 * WGSL forms probe (Node, not a test): which spellings of the subgroup-matrix builtins this Dawn accepts,
 * and what it says about each. On the H200 (2026-11-27) Dawn warned that subgroupMatrixLoad /
 * subgroupMatrixStore with a col_major bool are deprecated; the WebGPU proposal has since moved the
 * majorness into a template parameter (row_major / col_major, gpuweb PR 6275) and allowed vector element
 * types for the memory array (PR 6345), which would let matmul_subgroup_matrix.wgsl stage 16-byte chunks
 * with 2 vec4<f16> stores instead of 8 half stores (its measured bound). None of the new forms can be
 * compiled on an adapter without matrix units, so this runs on the GPU machine (`scripts/device-session.sh
 * wgsl-forms`): each candidate shader is compiled and built into a pipeline, and the compiler's messages
 * are printed.
 *
 *   node dist/bench/wgsl-forms-probe.js
 */
import { deviceInfo, gpuDevice, init } from '../engine/runtime.js';

const HEADER = `enable f16;
enable subgroups;
enable chromium_experimental_subgroup_matrix;
@group(0) @binding(0) var<storage, read_write> result: array<f32>;
`;

/** A compute shader around `body`, with `decls` at module scope; one subgroup of 32 per workgroup. */
const shader = (decls: string, body: string): string => `${HEADER}${decls}
@compute @workgroup_size(32)
fn main() {
${body}
}
`;

const STORE_RESULT_OLD = '  subgroupMatrixStore(&result, 0u, acc, false, 16u);';
const STORE_RESULT_NEW = '  subgroupMatrixStore<row_major>(&result, 0u, acc, 16u);';
const MATRICES = `  var acc: subgroup_matrix_result<f32, 16, 16>;`;

/**
 * A left and a right fragment loaded in the template form from a workgroup slab of `element`s, `perRow`
 * of which hold one 16-half row: offset and stride counted in elements, as the proposal counts them.
 */
const templateSlab = (element: string, perRow: number): string =>
  shader(`var<workgroup> slab: array<${element}, ${32 * perRow}>;`, `${MATRICES}
  let l = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&slab, 0u, ${perRow}u);
  let r = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&slab, ${16 * perRow}u, ${perRow}u);
  acc = subgroupMatrixMultiplyAccumulate(l, r, acc);
${STORE_RESULT_NEW}`);

/** [what it tries, the shader] */
const CANDIDATES: [string, string][] = [
  [
    'bool majorness (the kernel today)',
    shader('var<workgroup> slab: array<f16, 512>;', `${MATRICES}
  let l = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>>(&slab, 0u, false, 16u);
  let r = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>>(&slab, 256u, true, 16u);
  acc = subgroupMatrixMultiplyAccumulate(l, r, acc);
${STORE_RESULT_OLD}`),
  ],
  ['template majorness row_major / col_major', templateSlab('f16', 16)],
  ['template majorness, workgroup array<vec4<f16>> (stride and offset in vec4s)', templateSlab('vec4<f16>', 4)],
  [
    'bool majorness, workgroup array<vec4<f16>>',
    shader('var<workgroup> slab: array<vec4<f16>, 128>;', `${MATRICES}
  let l = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>>(&slab, 0u, false, 4u);
  acc = subgroupMatrixMultiplyAccumulate(l, subgroup_matrix_right<f16, 16, 16>(), acc);
${STORE_RESULT_OLD}`),
  ],
  [
    'template majorness, workgroup array<vec2<u32>> holding halves',
    shader('var<workgroup> slab: array<vec2<u32>, 128>;', `${MATRICES}
  let l = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&slab, 0u, 4u);
  acc = subgroupMatrixMultiplyAccumulate(l, subgroup_matrix_right<f16, 16, 16>(), acc);
${STORE_RESULT_NEW}`),
  ],
  // The form packed staging (kernels/matmul.ts SubgroupMatrixChoice.staging) needs.
  ['template majorness, workgroup array<vec4<u32>> of 8 halves each (stride and offset in vec4s)', templateSlab('vec4<u32>', 2)],
  [
    'template majorness, storage array<vec4<f16>> read directly',
    shader('@group(0) @binding(1) var<storage, read> src: array<vec4<f16>>;', `${MATRICES}
  let l = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&src, 0u, 4u);
  acc = subgroupMatrixMultiplyAccumulate(l, subgroup_matrix_right<f16, 16, 16>(), acc);
${STORE_RESULT_NEW}`),
  ],
];

await init();
const info = deviceInfo();
console.log(`adapter: ${info.description || info.device} (${info.adapterClass}); subgroup matrices f16: ${info.subgroupMatrixF16}`);
if (!info.subgroupMatrixF16) {
  console.log('wgsl-forms: this adapter has no f16 subgroup-matrix configuration, so none of the forms can compile here');
  process.exit(0);
}
const device = gpuDevice();
for (const [what, code] of CANDIDATES) {
  device.pushErrorScope('validation');
  const module = device.createShaderModule({ code, label: what });
  const messages = (await module.getCompilationInfo()).messages;
  let pipelineError: string | null = null;
  try {
    await device.createComputePipelineAsync({ layout: 'auto', compute: { module, entryPoint: 'main' } });
  } catch (err) {
    pipelineError = (err as Error).message;
  }
  const scopeError = await device.popErrorScope();
  const errors = messages.filter((m) => m.type === 'error');
  const verdict = errors.length || pipelineError || scopeError ? 'REJECTED' : 'accepted';
  console.log(`\n[${verdict}] ${what}`);
  for (const m of messages) console.log(`  ${m.type} ${m.lineNum}:${m.linePos} ${m.message.split('\n')[0]}`);
  if (pipelineError) console.log(`  pipeline: ${pipelineError.split('\n')[0]}`);
  else if (scopeError && !errors.length) console.log(`  validation: ${scopeError.message.split('\n')[0]}`);
}
// Dawn keeps the event loop alive while devices exist.
process.exit(0);
