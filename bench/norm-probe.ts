/**
 * LayerNorm / softmax throughput probe (not a test): times the cases quoted in the headers of
 * kernels/wgsl/layernorm.wgsl and kernels/wgsl/softmax.wgsl.
 *   XDG_RUNTIME_DIR=/tmp node scripts/run-test.mjs bench/norm-probe.ts
 * Each case runs once to compile, then in batches for ~0.4 s, three times; the best batch counts (the
 * machine is shared; PROBE_CPU_TIME=1 reports CPU time, see bench/probe-timing.ts). GB/s counts the bytes a kernel must move: each input read once, each output written
 * once. Baselines: the engine's contiguous-copy kernel and a copyBufferToBuffer of the same bytes.
 */
import { deviceInfo, empty, init, ops, runtime, type Tensor } from '../engine/index.js';
import { probeMs, probeTime } from './probe-timing.js';

async function report(name: string, bytes: number, fn: () => Tensor[]): Promise<number> {
  const ms = probeMs(await probeTime(fn, { windowMs: 400 }));
  console.log(`${name.padEnd(58)} ${(bytes / ms / 1e6).toFixed(2).padStart(7)} GB/s  ${ms.toFixed(2).padStart(8)} ms`);
  return ms;
}

await init();
console.log(`adapter: ${deviceInfo().description || deviceInfo().device} (${deviceInfo().adapterClass})`);

const [rows, d] = [4096, 768];
const bytes = rows * d * 4;
const x = ops.randn([rows, d]);
const r = ops.randn([rows, d]);
const dy = ops.randn([rows, d]);
const w = ops.randn([d]);
const b = ops.randn([d]);
/** copyBufferToBuffer of the same bytes: the memcpy ceiling of the adapter. */
const bufferCopy = (src: Tensor) => (): Tensor[] => {
  const out = empty(src.shape, src.dtype);
  runtime().copy(src.storage().buffer, 0, out.storage().buffer, 0, src.size * 4);
  return [out];
};
await report(`copyBufferToBuffer ${rows}x${d} f32`, 2 * bytes, bufferCopy(x));
// contiguousCopy of a contiguous tensor is itself a copyBufferToBuffer; a shader's copy of the same bytes
// is the map kernel's x * 1 (one read, one write per element), the "plain copy" for a kernel.
const memcpyMs = await report(`copy ${rows}x${d} f32 (contiguousCopy: copyBufferToBuffer)`, 2 * bytes, () => [ops.contiguousCopy(x)]);
const copyMs = await report(`copy ${rows}x${d} f32 (map kernel: x * 1)`, 2 * bytes, () => [ops.mul(x, 1)]);
const lnMs = await report(`layerNorm ${rows}x${d} f32, w+b`, 2 * bytes, () => [ops.layerNorm(x, [d], w, b)]);
console.log(`  layerNorm / shader copy time: ${(lnMs / copyMs).toFixed(2)}x; / copyBufferToBuffer: ${(lnMs / memcpyMs).toFixed(2)}x`);
await report(`layerNorm + residual ${rows}x${d} f32 (reads 2, writes 2)`, 4 * bytes, () => {
  const o = ops.layerNorm(x, [d], w, b, 1e-5, { residual: r });
  return [o.y, o.sum!];
});
const fwd = ops.layerNorm(x, [d], w, b, 1e-5, { returnStats: true });
await report(`layerNormBackward ${rows}x${d} f32 dx+dw+db (reads 2x2, writes 1)`, 5 * bytes, () => {
  const g = ops.layerNormBackward(dy, x, fwd.mean!, fwd.rstd!, w);
  return [g.dx, g.dweight!, g.dbias!];
});
const xh = ops.cast(x, 'f16');
const wh = ops.cast(w, 'f16');
const bh = ops.cast(b, 'f16');
await report(`layerNorm ${rows}x${d} f16, w+b`, bytes, () => [ops.layerNorm(xh, [d], wh, bh)]);

const s = ops.randn([8 * 12 * 197, 197]);
const sBytes = s.size * 4;
await report(`copyBufferToBuffer ${s.shape.join('x')} f32`, 2 * sBytes, bufferCopy(s));
await report(`copy ${s.shape.join('x')} f32 (contiguousCopy kernel)`, 2 * sBytes, () => [ops.contiguousCopy(s)]);
await report(`softmax ${s.shape.join('x')} f32, last axis`, 2 * sBytes, () => [ops.softmax(s)]);
await report(`logSoftmax ${s.shape.join('x')} f32, last axis`, 2 * sBytes, () => [ops.logSoftmax(s)]);
const sy = ops.softmax(s);
await report(`softmaxBackward ${s.shape.join('x')} f32 (reads 2, writes 1)`, 3 * sBytes, () => [ops.softmaxBackward(sy, s)]);
const s3 = ops.reshape(s, [96, 197, 197]);
await report(`softmax axis 1 of [96,197,197] f32 (strided axis)`, 2 * sBytes, () => [ops.softmax(s3, 1)]);
process.exit(0);
