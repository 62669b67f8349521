// Bundles what a bare GPU machine needs beyond ../shared/device's kit (node + dawn.node): the benchmark
// CLI with its peers (tfjs-webgpu, jax-js, webgpu-torch, ONNX Runtime Web with its .wasm gzipped beside it), the GEMM, attention, convolution, indexing, reduction, model-step and WGSL-forms probes, and the kernel, engine,
// autograd and nn test suites with uvu and fast-check, each one self-contained .mjs under .devbench/
// (git-ignored) that imports only 'webgpu'.
// Run after `npm run build`; scripts/device-session.sh is the command to run there.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { resolve } from 'node:path';

const out = '.devbench';
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
// Bundled CommonJS dependencies call require(); give the ESM bundle one.
const banner = { js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" };
const common = { bundle: true, platform: 'node', format: 'esm', external: ['webgpu'], banner, logLevel: 'warning' };
await build({ ...common, entryPoints: ['dist/bench/run.js'], outfile: `${out}/bench.mjs` });
// The bundled ORT imports its WebAssembly glue and loads its WebAssembly from beside bench.mjs. Gzipped the
// .wasm is 7 MB instead of 27 (the device call carries 64 MiB in all); scripts/device-session.sh unzips it.
const ortFiles = 'node_modules/onnxruntime-web/dist/ort-wasm-simd-threaded.asyncify';
copyFileSync(`${ortFiles}.mjs`, `${out}/ort-wasm-simd-threaded.asyncify.mjs`);
writeFileSync(`${out}/ort-wasm-simd-threaded.asyncify.wasm.gz`, gzipSync(readFileSync(`${ortFiles}.wasm`)));
await build({ ...common, entryPoints: ['dist/bench/gemm-probe.js'], outfile: `${out}/gemm-probe.mjs` });
await build({ ...common, entryPoints: ['dist/bench/attention-probe.js'], outfile: `${out}/attention-probe.mjs` });
await build({ ...common, entryPoints: ['dist/bench/conv-probe.js'], outfile: `${out}/conv-probe.mjs` });
await build({ ...common, entryPoints: ['dist/bench/indexing-probe.js'], outfile: `${out}/indexing-probe.mjs` });
await build({ ...common, entryPoints: ['dist/bench/reduce-probe.js'], outfile: `${out}/reduce-probe.mjs` });
await build({ ...common, entryPoints: ['dist/bench/step-probe.js'], outfile: `${out}/step-probe.mjs` });
await build({ ...common, entryPoints: ['dist/bench/wgsl-forms-probe.js'], outfile: `${out}/wgsl-forms-probe.mjs` });
await build({ ...common, entryPoints: ['dist/bench/tune.js'], outfile: `${out}/tune.mjs` });
// The GEMM kernels' own suite alone (its subgroup-matrix test runs only where the adapter has matrix units).
await build({ ...common, entryPoints: ['dist/test/kernels/matmul.test.js'], outfile: `${out}/matmul-test.mjs` });

// One deferred uvu run per GPU-facing suite (tests-engine.mjs, ...), as scripts/uvu-node.mjs runs them
// here: a suite that runs out of time on the device then costs only its own summary.
const dirs = ['engine', 'kernels', 'autograd', 'nn'];
let count = 0;
for (const dir of dirs) {
  const files = readdirSync(`dist/test/${dir}`).filter((f) => f.endsWith('.test.js') && !f.endsWith('.node.test.js')).map((f) => resolve(`dist/test/${dir}/${f}`));
  const entry = `${out}/tests-${dir}-entry.mjs`;
  writeFileSync(entry, [
    'globalThis.UVU_DEFER = 1;',
    "const uvu = await import('uvu');",
    `const files = ${JSON.stringify(files)};`,
    'files.forEach((f) => globalThis.UVU_QUEUE.push([f]));',
    ...files.map((f, i) => `globalThis.UVU_INDEX = ${i}; await import(${JSON.stringify(f)});`),
    'await uvu.exec(false);',
    'process.exit(process.exitCode ?? 0);',
  ].join('\n'));
  await build({ ...common, entryPoints: [entry], outfile: `${out}/tests-${dir}.mjs` });
  count += files.length;
}
console.log(`bundled ${count} test files (one bundle per suite), the bench and the GEMM, attention, convolution, indexing, reduction, model-step and WGSL-forms probes into ${out}/`);
