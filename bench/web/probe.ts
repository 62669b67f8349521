/**
 * Runs a kernel probe (bench/gemm-probe.ts, bench/attention-probe.ts) or the GEMM tuning run (bench/tune.ts)
 * in a browser page, for adapters Node cannot reach (Chromium's SwiftShader, a browser's own GPU). The query
 * string holds the probe's name and its PROBE_* (TUNE_*) settings, which the probes read from `process.env`;
 * the page gives them a minimal `process`
 * (wall clock only: a page has no process CPU time). Output goes to the console, where
 * scripts/probe-chromium.mjs prints it; `globalThis.__probe` says when the probe has ended.
 */
const query = new URLSearchParams(location.search);
const state = globalThis as { process?: unknown; __probe?: 'running' | 'done' | 'failed' };
state.process = { env: Object.fromEntries(query), cpuUsage: () => ({ user: 0, system: 0 }), exit: () => {} };
state.__probe = 'running';

const PROBES: Record<string, () => Promise<unknown>> = {
  gemm: () => import('../gemm-probe.js'),
  attention: () => import('../attention-probe.js'),
  tune: () => import('../tune.js'),
};

try {
  const load = PROBES[query.get('probe') ?? ''];
  if (!load) throw new Error(`probe: ?probe= must be one of ${Object.keys(PROBES).join(', ')}`);
  await load();
  state.__probe = 'done';
} catch (err) {
  console.log(`probe failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  state.__probe = 'failed';
}
