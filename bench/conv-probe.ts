/**
 * Convolution throughput probe (not a test): times the cases quoted in kernels/wgsl/conv.wgsl's header.
 *   XDG_RUNTIME_DIR=/tmp node scripts/run-test.mjs bench/conv-probe.ts
 *   PROBE_KERNELS=tiled,lanes,gemm ...   also times the forward and both gradients with each named kernel
 *                                        forced (ConvOptions.kernel; 'gemm' on patchify cases only), after
 *                                        checking all three against the default kernel's results
 *   PROBE=substring ...                  only the cases whose name contains it
 * Each case runs once to compile, then repeats until ~1 s has passed; flops count 2 * outputs * (Cin/groups *
 * kernel volume), including padded taps. On a shared machine the CPU-time column is the meaningful one: an idle
 * 2-core machine gives at most twice it as wall-clock GFLOP/s.
 */
import { ArgumentError, deviceInfo, init, ops, type Tensor } from '../engine/index.js';
import type { ConvGradRequest, ConvKernel, ConvOptions } from '../engine/ops/conv.js';
import { maxDiff } from './harness.js';
import { probeTime } from './probe-timing.js';

interface Case {
  name: string;
  x: number[];
  w: number[];
  opts: ConvOptions;
}

const CASES: Case[] = [
  { name: 'patch embed B=1 224x224 k=s=16 3->768', x: [1, 3, 224, 224], w: [768, 3, 16, 16], opts: { stride: 16 } },
  { name: 'patch embed B=8 224x224 k=s=16 3->768', x: [8, 3, 224, 224], w: [768, 3, 16, 16], opts: { stride: 16 } },
  { name: 'image patches B=32 28x28 k=s=7 1->64', x: [32, 1, 28, 28], w: [64, 1, 7, 7], opts: { stride: 7 } },
  { name: 'video tubelets B=32 8x32x32 k=s=2x8x8 1->64', x: [32, 1, 8, 32, 32], w: [64, 1, 2, 8, 8], opts: { stride: [2, 8, 8] } },
  { name: 'patch embed B=1 224x224 k=s=14 3->768', x: [1, 3, 224, 224], w: [768, 3, 14, 14], opts: { stride: 14 } },
  { name: '3x3 pad 1, 64->64, 56x56, B=1', x: [1, 64, 56, 56], w: [64, 64, 3, 3], opts: { padding: 1 } },
  { name: '3x3 stride 2 pad 1, 64->128, 56x56, B=4 (ResNet downsampling)', x: [4, 64, 56, 56], w: [128, 64, 3, 3], opts: { stride: 2, padding: 1 } },
  { name: 'audio patches 1024x128 k=16 s=10 1->768 (AST)', x: [1, 1, 1024, 128], w: [768, 1, 16, 16], opts: { stride: 10 } },
  { name: 'conv1d circular k=3 p=1, 7->512, L=96, B=32', x: [32, 7, 96], w: [512, 7, 3], opts: { padding: 1, paddingMode: 'circular' } },
];

const prod = (v: readonly number[]): number => v.reduce((a, b) => a * b, 1);

/** Wall and CPU milliseconds per call (bench/probe-timing.ts), over one second of calls. */
const time = (fn: () => Tensor[]) => probeTime(fn, { windowMs: 1000, rounds: 1 });

/** The first result of `fn` read back, every result disposed. */
async function firstData(fn: () => Tensor[]): Promise<Float32Array> {
  const out = fn();
  try {
    return (await out[0]!.data()) as Float32Array;
  } finally {
    for (const t of out) t.dispose();
  }
}

const env = process.env;
const FORCED = (env.PROBE_KERNELS ?? '').split(',').filter((k) => k !== '') as ConvKernel[];

await init();
console.log(`adapter: ${deviceInfo().description || deviceInfo().device} (${deviceInfo().adapterClass})`);
const convs = [ops.conv1d, ops.conv2d, ops.conv3d];
const backs = [ops.conv1dBackward, ops.conv2dBackward, ops.conv3dBackward];
for (const c of CASES.filter((k) => k.name.includes(env.PROBE ?? ''))) {
  const rank = c.x.length - 2;
  const x = ops.randn(c.x);
  const w = ops.randn(c.w);
  const y = convs[rank - 1]!(x, w, null, c.opts);
  const flops = 2 * prod(y.shape) * prod(c.w.slice(1));
  const dy = ops.randn(y.shape);
  const fwd = await time(() => [convs[rank - 1]!(x, w, null, c.opts)]);
  const grads = (need: ConvGradRequest, opts: ConvOptions = c.opts) => () => {
    const g = backs[rank - 1]!(dy, x, w, opts, need);
    return [g.dx, g.dw, g.db].filter((t): t is Tensor => t !== null);
  };
  const dx = await time(grads({ needInput: true }));
  const dw = await time(grads({ needWeight: true }));
  const gf = (t: { wall: number; cpu: number }): string =>
    `${(flops / t.wall / 1e6).toFixed(2)} GFLOP/s wall (${t.wall.toFixed(1)} ms), ${(flops / t.cpu / 1e6).toFixed(2)} GFLOP per CPU-second`;
  console.log(`${c.name}\n  forward ${gf(fwd)}\n  dx      ${gf(dx)}\n  dw      ${gf(dw)}`);
  const expected = { y: await y.data(), dx: await firstData(grads({ needInput: true })), dw: await firstData(grads({ needWeight: true })) };
  for (const kernel of FORCED) {
    const opts = { ...c.opts, kernel };
    let dwDiff: number;
    try {
      dwDiff = maxDiff(await firstData(grads({ needWeight: true }, opts)), expected.dw);
    } catch (e) {
      if (!(e instanceof ArgumentError)) throw e;
      console.log(`  ${kernel} kernel: ${e.message}`);
      continue;
    }
    const yk = convs[rank - 1]!(x, w, null, opts);
    const yDiff = maxDiff(await yk.data(), expected.y);
    yk.dispose();
    const dxDiff = maxDiff(await firstData(grads({ needInput: true }, opts)), expected.dx);
    const t = await time(() => [convs[rank - 1]!(x, w, null, opts)]);
    const tx = await time(grads({ needInput: true }, opts));
    const tw = await time(grads({ needWeight: true }, opts));
    console.log(
      `  ${kernel} kernel: forward ${gf(t)}\n  ${kernel} kernel: dx      ${gf(tx)}\n  ${kernel} kernel: dw      ${gf(tw)}; ` +
        `max |difference| from the default: y ${yDiff.toExponential(1)}, dx ${dxDiff.toExponential(1)}, dw ${dwDiff.toExponential(1)}`,
    );
  }
  for (const t of [x, w, y, dy]) t.dispose();
}
