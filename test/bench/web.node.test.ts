import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import type { BenchReport } from '../../bench/report/report.js';
import { launchChromium, type Chromium } from '../chromium.js';

// The benchmark page (npm run bench:web) in headless Chromium: the suite, bundled for the browser, must run
// on the page's own WebGPU adapter next to the peers (tfjs, jax-js and webgpu-torch bundled, ONNX Runtime Web
// bundled with its .wasm served beside the page), validate, and show its table and charts.
// One small group keeps it to a minute on lavapipe; which group does not matter to the page.
const t = suite('bench: browser page (Chromium)');

interface Server {
  url: string;
  close(): Promise<void>;
}
type PageState = { state: 'idle' | 'running' } | { state: 'done'; report: BenchReport } | { state: 'error'; message: string };

let server: Server;
let browser: Chromium;

t.before(async () => {
  const serveModule = (await import(join(process.cwd(), 'bench/web/serve.mjs'))) as { startBenchServer(port: number): Promise<Server> };
  server = await serveModule.startBenchServer(0);
  browser = await launchChromium();
});

t.after(async () => {
  await browser?.close();
  await server?.close();
});

/** Opens the page with `query` (autorun), waits for the suite to end and returns its report; no page errors allowed. */
async function runPage(query: string): Promise<BenchReport> {
  const page = browser.context.pages()[0] ?? (await browser.context.newPage());
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));
  await page.goto(`${server.url}?autorun&quick&${query}`);
  await page.waitForFunction(() => {
    const s = (globalThis as { __bench?: { state: string } }).__bench;
    return s !== undefined && s.state !== 'running' && s.state !== 'idle';
  }, undefined, { timeout: 8 * 60_000, polling: 500 });
  const state = (await page.evaluate(() => (globalThis as { __bench?: unknown }).__bench)) as PageState;
  assert.equal(errors, [], 'no page errors');
  if (state.state !== 'done') throw new Error(`the benchmark page did not finish: ${state.state === 'error' ? state.message : state.state}`);
  return state.report;
}

t('runs the layernorm cases with every engine in the page and shows the table and charts', async () => {
  const report = await runPage('groups=layernorm');
  const page = browser.context.pages()[0]!;
  assert.ok(report.environment.userAgent?.includes('Chrome') ?? false, `ran in the browser: ${JSON.stringify(report.environment)}`);
  assert.ok(report.cases.length >= 1 && report.cases.every((c) => c.group === 'layernorm'), 'only the requested group');
  for (const c of report.cases) {
    const ours = c.variants.find((v) => v.primary);
    assert.is(ours?.status, 'ok', `${c.name}: our variant validated and timed (${ours?.reason ?? ''})`);
    // Cases with peer variants (the copy yardstick has none) must have run at least one in the page.
    if (!c.variants.some((v) => v.engine !== 'omnitensor')) continue;
    const peers = c.variants.filter((v) => v.engine !== 'omnitensor');
    const summary = peers.map((v) => `${v.engine} ${v.status} ${v.reason ?? ''}`).join('; ');
    assert.equal(new Set(peers.map((v) => v.engine)), new Set(['tfjs-webgpu', 'jax-js', 'onnxruntime-web']), `${c.name}: every peer has a variant`);
    assert.ok(peers.every((v) => v.status === 'ok'), `${c.name}: every peer ran in the page: ${summary}`);
    assert.ok(c.ratios.length >= 1 && c.ratios.every((r) => r.speedup > 0 && Number.isFinite(r.speedup)), `${c.name}: ratios`);
  }
  assert.ok(report.cases.some((c) => c.variants.some((v) => v.engine !== 'omnitensor' && v.status === 'ok')), 'peers ran in the page');
  assert.ok((await page.locator('#table tr').count()) >= 1 + report.cases.length, 'table rows shown');
  assert.ok((await page.locator('#charts img').count()) >= 1, 'charts shown');
});

t('runs webgpu-torch in the page (the overhead group: it has no layernorm)', async () => {
  const report = await runPage('groups=overhead&engines=webgpu-torch');
  const ran = report.cases.flatMap((c) => c.variants.filter((v) => v.engine === 'webgpu-torch').map((v) => ({ c, v })));
  assert.ok(ran.length >= 2, 'webgpu-torch has the dispatch and readback variants');
  for (const { c, v } of ran) {
    assert.is(v.status, 'ok', `${c.name}: ${v.reason ?? ''}`);
    assert.ok(c.ratios.some((r) => r.peer.startsWith('webgpu-torch') && r.speedup > 0), `${c.name}: a ratio against webgpu-torch`);
  }
});

t.run();
