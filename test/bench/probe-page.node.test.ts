import { spawnSync } from 'node:child_process';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

// scripts/probe-chromium.mjs: a kernel probe (or the GEMM tuning run) bundled for the browser runs on
// headless Chromium's adapter, validates its kernels there and prints its figures; an unknown probe fails
// loudly.
const t = suite('bench: kernel probes in headless Chromium');

const run = (...args: string[]) =>
  spawnSync(process.execPath, ['scripts/probe-chromium.mjs', ...args], { encoding: 'utf8', timeout: 240_000, env: process.env });

t('the GEMM probe runs in the page and prints GFLOP/s for the forced and the automatic kernel', () => {
  const r = run('gemm', 'PROBE_SHAPES=48x40x36', 'PROBE_LAYOUTS=nn', 'PROBE_KERNELS=tiled:1x1:16,auto', 'PROBE_ROUNDS=1', 'PROBE_REPS=1');
  assert.is(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /^adapter: /m);
  assert.match(r.stdout, /f32 nn 48x40x36 +GFLOP\/s: tiled:1x1:16 [\d.]+ +auto [\d.]+/);
  assert.not.match(r.stdout, /FAILED|mismatch/);
});

t('the tuning run works in the page: every GEMM and attention candidate checked and timed, tables printed', () => {
  const r = run('tune', 'TUNE_SHAPES=6x20x12', 'TUNE_ATTENTION_SHAPES=1x2x9x16', 'TUNE_REPEATS=1', 'TUNE_ROUNDS=1');
  assert.is(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /^6x20x12 plain +built-in \S+ [\d.]+ ms/m);
  assert.match(r.stdout, /^attention 1x2x9x16 +built-in \S+ [\d.]+ ms/m);
  assert.match(r.stdout, /^setMatmulTuning\(\{"adapter":/m);
  assert.match(r.stdout, /^setAttentionTuning\(\{"adapter":/m);
  assert.not.match(r.stdout, /wrong result|failed:/);
});

t('an unknown probe exits non-zero and names the ones there are', () => {
  const r = run('nope');
  assert.is(r.status, 1);
  assert.match(r.stdout, /must be one of gemm, attention, tune/);
});

t.run();
