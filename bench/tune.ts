/**
 * Tuning run (Node, or a browser page through bench/web/probe.ts): `tuneMatmul` and `tuneAttention` on
 * this adapter, then per workload the built-in choice's time against the fastest candidate's, the tuned
 * tables as JSON for `setMatmulTuning` / `setAttentionTuning`, and the GEMM rows in the syntax of
 * kernels/matmul.ts TUNING, which is how the built-in GEMM tables are regenerated.
 *
 *   node dist/bench/tune.js                                  (XDG_RUNTIME_DIR=/tmp on headless Linux)
 *   TUNE_SHAPES=197x768x768,1024x1024x1024 TUNE_REPEATS=5 node dist/bench/tune.js
 *   TUNE_ONLY=attention TUNE_ATTENTION_SHAPES=8x12x197x64 node dist/bench/tune.js
 *   node scripts/probe-chromium.mjs tune                     (the same in headless Chromium)
 *
 * TUNE_ONLY picks one tuner (matmul or attention; default both). TUNE_SHAPES lists GEMMs MxNxK and
 * TUNE_ATTENTION_SHAPES self-attention shapes BxHxTxd (defaults: engine/tuning/matmul.ts defaultShapes and
 * engine/tuning/attention.ts defaultAttentionShapes for the adapter class); TUNE_REPEATS and TUNE_ROUNDS
 * set the runs per timing and the timings per candidate of both.
 */
import { deviceInfo, init } from '../engine/runtime.js';
import { tuneAttention } from '../engine/tuning/attention.js';
import { tuneMatmul } from '../engine/tuning/matmul.js';
import { attentionTimed, kernelLabel, matmulTimed, summaryLines, tuningEntryText, type Timed } from './report/tuning.js';

const env = (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env ?? {};

function print(title: string, timings: readonly Timed[], seconds: number): void {
  console.log(`${title}: tuned in ${seconds.toFixed(1)} s (compiles included)`);
  for (const line of summaryLines(timings)) console.log(line);
  console.log('every timing (* the built-in choice):');
  for (const t of timings)
    console.log(`  ${t.workload} ${(kernelLabel(t.kernel) + (t.builtIn ? '*' : '')).padEnd(17)} ${t.ms === null ? 'n/a' : `${t.ms.toFixed(3)} ms`}${t.note ? `  (${t.note})` : ''}`);
}

const list = (name: string) => env[name]?.split(',').map((s) => s.split('x').map(Number));
const counts = {
  ...(env.TUNE_REPEATS ? { repeats: Number(env.TUNE_REPEATS) } : {}),
  ...(env.TUNE_ROUNDS ? { rounds: Number(env.TUNE_ROUNDS) } : {}),
};

await init();
console.log(`adapter: ${deviceInfo().description} (${deviceInfo().adapterClass})`);
if (env.TUNE_ONLY !== 'attention') {
  const start = performance.now();
  const shapes = list('TUNE_SHAPES') as [number, number, number][] | undefined;
  const report = await tuneMatmul({ ...(shapes ? { shapes } : {}), ...counts });
  print('GEMM', matmulTimed(report.timings), (performance.now() - start) / 1000);
  console.log(`setMatmulTuning(${JSON.stringify(report.tuning)})`);
  console.log(`TUNING.${deviceInfo().adapterClass} rows (kernels/matmul.ts):`);
  for (const row of report.tuning.rows) console.log(`  ${tuningEntryText(row)}`);
}
if (env.TUNE_ONLY !== 'matmul') {
  const start = performance.now();
  const shapes = list('TUNE_ATTENTION_SHAPES') as [number, number, number, number][] | undefined;
  const report = await tuneAttention({ ...(shapes ? { shapes } : {}), ...counts });
  print('attention (forward + backward)', attentionTimed(report.timings), (performance.now() - start) / 1000);
  console.log(`setAttentionTuning(${JSON.stringify(report.tuning)})`);
}
