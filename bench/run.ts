/**
 * The benchmark CLI (Node, from the tsc build):
 *   node dist/bench/run.js [GROUP...] [--quick] [--large] [--profile] [--engines omnitensor,tfjs-webgpu,jax-js,onnxruntime-web,webgpu-torch]
 *                          [--json FILE] [--md FILE] [--svg DIR] [--dawn-flags FLAG]...
 * --profile adds, for each of our variants, the GPU time per kernel of one more batch (engine `profile`).
 * GROUP is one of gemm attention layernorm softmax gelu conv reduce backward optimizer overhead model (all by
 * default). --dawn-flags may repeat; the environment variable OMNI_DAWN_FLAGS (space-separated) adds more
 * for every Dawn instance (engine/platform.ts), e.g. enable-dawn-features=allow_unsafe_apis,vulkan_enable_f16_on_nvidia.
 * Dawn's polls while waiting are paced for every engine in the process alike (engine/platform.ts,
 * `paceDawnPolls`); OMNI_DAWN_SPIN_MS=Infinity measures with Dawn's own busy loop instead.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs, type CliOptions } from './cli.js';
import { toMarkdown } from './report/markdown.js';
import { toJSON } from './report/report.js';
import { charts } from './report/svg.js';
import { runSuite } from './suite.js';

async function write(path: string, text: string): Promise<void> {
  await writeFile(path, text);
  console.log(`wrote ${path}`);
}

async function main(): Promise<void> {
  let opts: CliOptions;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (err) {
    console.error((err as Error).message);
    process.exit(2);
  }
  process.env.XDG_RUNTIME_DIR ??= '/tmp';
  const report = await runSuite(opts, (line) => console.log(line));
  if (opts.json) await write(opts.json, toJSON(report));
  const md = toMarkdown(report);
  if (opts.md) await write(opts.md, md);
  else console.log(`\n${md}`);
  if (opts.svg) {
    await mkdir(opts.svg, { recursive: true });
    for (const [name, text] of charts(report)) await write(join(opts.svg, name), text);
  }
  // Dawn keeps the event loop alive while devices exist.
  process.exit(0);
}

await main();
