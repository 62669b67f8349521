// Runs a kernel probe or the GEMM tuning run inside headless Chromium, on the page's WebGPU adapter, and
// prints its output:
//   npm run build && node scripts/probe-chromium.mjs gemm PROBE_SHAPES=512x512x512 PROBE_KERNELS=lanes:16,auto
//   node scripts/probe-chromium.mjs attention PROBE_QUICK=1 PROBE_FAMILIES=1
//   node scripts/probe-chromium.mjs tune TUNE_SHAPES=64x256x256
// On the CPU-only machine that adapter is Chromium's SwiftShader, not lavapipe (scripts/chromium.mjs).
// Times are wall clock; exits non-zero when the probe fails.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBundleServer } from './bundle-server.mjs';

const [probe, ...settings] = process.argv.slice(2);
if (!probe) {
  console.error('usage: node scripts/probe-chromium.mjs gemm|attention|tune [PROBE_SETTING=value ...]');
  process.exit(2);
}
const { launchChromium } = await import(new URL('../dist/test/chromium.js', import.meta.url).href);
const page = '<!doctype html><meta charset="utf-8"><script type="module" src="/probe.js"></script>';
const html = join(mkdtempSync(join(tmpdir(), 'probe-page-')), 'index.html');
writeFileSync(html, page);
const server = await startBundleServer({ entry: 'bench/web/probe.ts', page: html, script: 'probe.js', port: 0 });
const browser = await launchChromium();
let outcome = 'failed';
try {
  const tab = browser.context.pages()[0] ?? (await browser.context.newPage());
  // The page has no favicon; Chromium's 404 for it is not the probe's output.
  tab.on('console', (m) => m.text().includes('status of 404') || console.log(m.text()));
  tab.on('pageerror', (e) => console.log(`page error: ${e.message}`));
  const query = new URLSearchParams([['probe', probe], ...settings.map((s) => [s.slice(0, s.indexOf('=')), s.slice(s.indexOf('=') + 1)])]);
  await tab.goto(`${server.url}?${query}`);
  await tab.waitForFunction(() => globalThis.__probe !== 'running', undefined, { timeout: 0, polling: 1000 });
  outcome = await tab.evaluate(() => globalThis.__probe);
} finally {
  await browser.close();
  await server.close();
}
process.exit(outcome === 'done' ? 0 : 1);
