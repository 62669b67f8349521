/**
 * Runs the suite on the active platform (Node or browser): creates our device, exposes WebGPU to the
 * peers, registers the cases and measures them one by one, reporting a progress line per case.
 */
import { init, profile } from '../engine/runtime.js';
import { allCases } from './cases/index.js';
import { GpuTimer } from './gpu-timer.js';
import { DEFAULT_TIMING, QUICK_TIMING, runCase, type CaseResult, type EngineId, type Group, type VariantResult } from './harness.js';
import { ensureNavigatorGpu } from './peers/gpu.js';
import { JAX_INSTALL } from './peers/jax.js';
import { WEBGPU_TORCH_INSTALL } from './peers/webgpu-torch.js';
import { num } from './report/markdown.js';
import { METHODS, type BenchReport } from './report/report.js';

export interface SuiteOptions {
  quick: boolean;
  large: boolean;
  groups: Group[];
  engines: EngineId[];
  dawnFlags: string[];
  /** Also break our variants' GPU time down per kernel (needs timestamp queries). */
  profile?: boolean;
}

function variantSummary(v: VariantResult): string {
  const who = v.engine === 'omnitensor' ? (v.primary ? 'ours' : 'ours-baseline') : v.engine;
  if (v.status !== 'ok') return `${who} ${v.status}${v.reason ? ` (${v.reason})` : ''}`;
  const wall = v.figures.find((f) => f.method === 'wall')!;
  return `${who} ${num(wall.ms.median)} ms${wall.throughput ? ` ${num(wall.throughput.median)} ${wall.unit}` : ''}`;
}

/** One line per case: status, each variant's median, and the ratios. */
export function progressLine(index: number, total: number, r: CaseResult): string {
  const head = `[${index}/${total}] ${r.name}:`;
  if (r.variants.length === 0) return `${head} ${r.status}: ${r.reason ?? ''}`;
  const ratios = r.ratios.map((x) => `${x.peer.split(' ')[0]} ${num(x.speedup)}x`).join(', ');
  return `${head} ${r.variants.map(variantSummary).join(' | ')}${ratios ? ` || speed ours/peer: ${ratios}` : ''}`;
}

function environment(): Record<string, string> {
  const env: Record<string, string> = {};
  const proc = (globalThis as { process?: { versions?: { node?: string } } }).process;
  if (proc?.versions?.node) env.node = proc.versions.node;
  const nav = (globalThis as { navigator?: { userAgent?: string } }).navigator;
  if (nav?.userAgent && nav.userAgent !== 'node') env.userAgent = nav.userAgent;
  return env;
}

export async function runSuite(options: SuiteOptions, log: (line: string) => void): Promise<BenchReport> {
  const info = await init({ dawnFlags: options.dawnFlags });
  const peers = options.engines.some((e) => e !== 'omnitensor');
  if (peers) await ensureNavigatorGpu(options.dawnFlags);
  const timer = GpuTimer.create();
  const cases = allCases({ ...options, adapterClass: info.adapterClass, f16: info.features.includes('shader-f16') });
  const notes: string[] = [];
  if (!timer) notes.push(`this adapter has no timestamp-query: wall-clock figures only${options.profile ? ' (no --profile breakdown)' : ''}`);
  for (const n of notes) log(`note: ${n}`);
  log(`adapter: ${info.description || info.device || info.vendor} (${info.adapterClass}), ${cases.length} cases`);
  const results: CaseResult[] = [];
  const ctx = {
    timing: options.quick ? QUICK_TIMING : DEFAULT_TIMING,
    engines: new Set<EngineId>(['omnitensor', ...options.engines]),
    ...(timer ? { gpuTime: (record: () => void) => timer.measure(record) } : {}),
    ...(timer && options.profile ? { profile: async (work: () => Promise<void>) => (await profile(work)).kernels } : {}),
  };
  for (const [i, c] of cases.entries()) {
    const r = await runCase(c, ctx);
    results.push(r);
    log(progressLine(i + 1, cases.length, r));
  }
  timer?.dispose();
  const env = environment();
  if (peers) {
    const tf = await import('@tensorflow/tfjs-core').catch(() => null);
    if (tf) env['tfjs-core'] = tf.version_core;
    if (options.engines.includes('onnxruntime-web')) {
      const ort = await import('onnxruntime-web/webgpu').catch(() => null);
      if (ort) env['onnxruntime-web'] = ort.env.versions.web ?? '?';
    }
    // These two export no version: the report names the one the bench pins (a test checks it is the installed one).
    for (const [engine, install] of [['jax-js', JAX_INSTALL], ['webgpu-torch', WEBGPU_TORCH_INSTALL]] as const) {
      const at = install.lastIndexOf('@');
      if (options.engines.includes(engine)) env[install.slice(0, at)] = install.slice(at + 1);
    }
  }
  return {
    tool: 'omnitensor-bench',
    date: new Date().toISOString(),
    adapter: {
      vendor: info.vendor,
      architecture: info.architecture,
      device: info.device,
      description: info.description,
      adapterClass: info.adapterClass,
      platform: info.platform,
      features: info.features,
    },
    environment: env,
    options: { quick: options.quick, large: options.large, groups: options.groups, dawnFlags: options.dawnFlags, profile: options.profile === true },
    methods: METHODS,
    notes,
    cases: results,
  };
}
