/**
 * GEMM tuning run (Node, or a browser page through bench/web/probe.ts): `tuneMatmul` on this adapter,
 * then per product the built-in table's time against the tuned choice, the tuned table as JSON for
 * `setMatmulTuning`, and its rows in the syntax of kernels/matmul.ts TUNING, which is how the built-in
 * tables are regenerated for an adapter class.
 *
 *   node dist/bench/tune.js                                  (XDG_RUNTIME_DIR=/tmp on headless Linux)
 *   TUNE_SHAPES=197x768x768,1024x1024x1024 TUNE_REPEATS=5 node dist/bench/tune.js
 *   node scripts/probe-chromium.mjs tune                     (the same in headless Chromium)
 *
 * TUNE_SHAPES lists products MxNxK (default: engine/tuning.ts defaultShapes for the adapter class);
 * TUNE_REPEATS and TUNE_ROUNDS set the products per timing and the timings per candidate.
 */
import { deviceInfo, init } from '../engine/runtime.js';
import { tuneMatmul, type MatmulKernelSpec, type MatmulTiming, type MatmulTuningRow, type TuneMatmulOptions } from '../engine/tuning.js';

const env = (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env ?? {};

/** The kernel as gemm-probe's PROBE_KERNELS spells it. */
export function kernelLabel(kernel: MatmulKernelSpec): string {
  if (kernel.kernel === 'lanes') return `lanes:${kernel.rows}`;
  const t = kernel.tile;
  return `tiled:${t.blocks.join('x')}:${t.tk}${t.vec4 ? ':v4' : ''}${t.unrolled ? ':u' : ''}${t.stages === 2 ? ':s2' : ''}`;
}

/** A row in the syntax of kernels/matmul.ts TUNING. */
export function tuningEntryText(row: MatmulTuningRow): string {
  const bounds = `maxM: ${row.maxM ?? 'Infinity'}${row.epilogue === undefined ? '' : `, epilogue: ${row.epilogue}`}`;
  if (row.kernel === 'lanes') return `{ ${bounds}, variant: 'lanes', rows: ${row.rows} },`;
  const t = row.tile;
  const flags = `${t.vec4 ? ', vec4: true' : ''}${t.unrolled ? ', unrolled: true' : ''}${t.stages === 2 ? ', stages: 2' : ''}`;
  return `{ ${bounds}, variant: 'tiled', blocks: [${t.blocks.join(', ')}], tk: ${t.tk}${flags} },`;
}

/** Per product: the built-in table's time, the fastest candidate's, and their ratio. */
export function summaryLines(timings: readonly MatmulTiming[]): string[] {
  const keys = [...new Set(timings.map((t) => `${t.shape.join('x')} ${t.epilogue ? '+bias' : 'plain'}`))];
  return keys.map((key) => {
    const mine = timings.filter((t) => `${t.shape.join('x')} ${t.epilogue ? '+bias' : 'plain'}` === key);
    const builtIn = mine.find((t) => t.builtIn);
    const best = mine.filter((t) => t.ms !== null).sort((x, y) => x.ms! - y.ms!)[0];
    const failed = mine.filter((t) => t.ms === null).map((t) => kernelLabel(t.kernel));
    const ms = (t: MatmulTiming | undefined) => (t?.ms == null ? 'n/a' : `${t.ms.toFixed(2)} ms (${t.gflops!.toFixed(1)} GFLOP/s)`);
    const ratio = builtIn?.ms != null && best?.ms != null ? ` ${(builtIn.ms / best.ms).toFixed(2)}x` : '';
    return `${key.padEnd(24)} built-in ${builtIn ? kernelLabel(builtIn.kernel) : 'none'} ${ms(builtIn).padEnd(28)} best ${best ? kernelLabel(best.kernel) : 'none'} ${ms(best)}${ratio}${failed.length ? `  failed: ${failed.join(', ')}` : ''}`;
  });
}

function optionsFromEnv(): TuneMatmulOptions {
  const shapes = env.TUNE_SHAPES?.split(',').map((s) => s.split('x').map(Number) as [number, number, number]);
  return {
    ...(shapes ? { shapes } : {}),
    ...(env.TUNE_REPEATS ? { repeats: Number(env.TUNE_REPEATS) } : {}),
    ...(env.TUNE_ROUNDS ? { rounds: Number(env.TUNE_ROUNDS) } : {}),
  };
}

await init();
console.log(`adapter: ${deviceInfo().description} (${deviceInfo().adapterClass})`);
const start = performance.now();
const report = await tuneMatmul(optionsFromEnv());
console.log(`tuned in ${((performance.now() - start) / 1000).toFixed(1)} s (compiles included)`);
for (const line of summaryLines(report.timings)) console.log(line);
console.log('every timing (* the built-in choice):');
for (const t of report.timings)
  console.log(`  ${t.shape.join('x')} ${t.epilogue ? '+bias' : 'plain'} ${(kernelLabel(t.kernel) + (t.builtIn ? '*' : '')).padEnd(17)} ${t.ms === null ? 'n/a' : `${t.ms.toFixed(3)} ms`}${t.note ? `  (${t.note})` : ''}`);
console.log(`setMatmulTuning(${JSON.stringify(report.tuning)})`);
console.log(`TUNING.${deviceInfo().adapterClass} rows (kernels/matmul.ts):`);
for (const row of report.tuning.rows) console.log(`  ${tuningEntryText(row)}`);
