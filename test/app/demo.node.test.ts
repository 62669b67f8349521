import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodePng, encodePng } from '../../metatransformer/io/png.js';
import { encodeWav } from '../../metatransformer/io/wav.js';
import { launchChromium, type Chromium } from '../chromium.js';
import { testDevice } from '../helpers.js';
import { IMAGE_CHECK, testEncoderFile } from './image-accuracy.js';

// The browser demo end to end: Debian's Chromium (never a downloaded browser), launched exactly as
// scripts/uvu-browser.mjs does, loads the page from the demo server, trains the image modality and must
// reach the accuracy Node reaches (image-accuracy.ts), then the page must actually show something.
const t = suite('app: browser demo (Chromium)');

interface DemoServer {
  url: string;
  close(): Promise<void>;
}

type DemoState = { state: 'running' } | { state: 'done'; report: { runs: Record<'pretrained' | 'random', { metric: number }> } } | { state: 'error'; message: string };

let server: DemoServer;
let browser: Chromium;
// Served by the demo server: it serves the repository, including node_modules/.cache.
const encoderDir = join('node_modules', '.cache', 'demo-test');

t.before(async () => {
  await testDevice(); // the test encoder file is written from Node's device
  mkdirSync(encoderDir, { recursive: true });
  writeFileSync(join(encoderDir, 'encoder.safetensors'), await testEncoderFile());
  const serveModule = (await import(join(process.cwd(), 'scripts/serve-demo.mjs'))) as { startDemoServer(port: number): Promise<DemoServer> };
  server = await serveModule.startDemoServer(0);
  browser = await launchChromium();
});

t.after(async () => {
  await browser?.close();
  await server?.close();
  rmSync(encoderDir, { recursive: true, force: true });
});

t('trains the image modality in the page to the Node accuracy and draws it', async () => {
  const page = browser.context.pages()[0] ?? (await browser.context.newPage());
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));
  const query = `?modality=image&epochs=${IMAGE_CHECK.epochs}&seed=1&checkpoint=/${encoderDir}/encoder.safetensors&autorun`;
  await page.setViewportSize({ width: 1000, height: 900 });
  await page.goto(`${server.url}${query}`);
  await page.waitForFunction(() => {
    const s = (globalThis as { __demo?: { state: string } }).__demo;
    return s !== undefined && s.state !== 'running';
  }, undefined, { timeout: 10 * 60_000, polling: 500 });
  const state = (await page.evaluate(() => (globalThis as { __demo?: unknown }).__demo)) as DemoState;
  assert.equal(errors, [], 'no page errors');
  if (state.state !== 'done') throw new Error(`the demo did not finish: ${state.state === 'error' ? state.message : state.state}`);
  for (const k of ['pretrained', 'random'] as const)
    assert.ok(state.report.runs[k].metric >= IMAGE_CHECK.threshold, `${k}: browser accuracy ${state.report.runs[k].metric} < ${IMAGE_CHECK.threshold}`);
  assert.ok((await page.locator('#charts svg').count()) >= 3, 'curves, comparison and confusion charts shown');
  assert.ok((await page.locator('#live svg polyline').count()) >= 1, 'live loss curves drawn');
  const shot = await decodePng(await page.screenshot({ fullPage: true }));
  // Not blank: the luma of a drawn page varies (text, bars, curves); a blank or failed page is flat.
  const n = shot.width * shot.height;
  let sum = 0;
  let sq = 0;
  for (let i = 0; i < n; i++) {
    const o = i * shot.channels;
    const y = 0.299 * shot.data[o]! + 0.587 * shot.data[o + 1]! + 0.114 * shot.data[o + 2]!;
    sum += y;
    sq += y * y;
  }
  const variance = sq / n - (sum / n) ** 2;
  assert.ok(variance > 100, `screenshot pixel variance ${variance.toFixed(1)} (a blank page is ~0)`);
});

t('encodes the user\'s own files in the page: an image, a WAV clip and a CSV table', async () => {
  const page = browser.context.pages()[0] ?? (await browser.context.newPage());
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));
  await page.goto(`${server.url}?checkpoint=/${encoderDir}/encoder.safetensors`);
  await page.waitForFunction(() => !document.getElementById('adapter')!.textContent!.includes('starting'), undefined, { timeout: 60_000 });
  const digit = await encodePng({ width: 28, height: 28, channels: 1, bitDepth: 8, data: Uint8Array.from({ length: 784 }, (_, i) => ((i % 28) * 9) & 255) });
  // 0.5 s of a 440 Hz tone at 22.05 kHz, stereo: the page resamples to 16 kHz and mixes down.
  const tone = Float32Array.from({ length: 11025 }, (_, i) => 0.5 * Math.sin((2 * Math.PI * 440 * i) / 22050));
  const wav = encodeWav({ sampleRate: 22050, channels: [tone, tone] });
  const csv = 'Island,Beak Length (mm),Beak Depth (mm),Flipper Length (mm),Body Mass (g),Sex\nBiscoe,45.1,14.5,215,5000,FEMALE\nDream,39.5,17.8,188,3300,\n';
  const files: [string, string, string, Uint8Array][] = [
    ['image', 'digit.png', 'image/png', digit],
    ['audio', 'tone.wav', 'audio/wav', wav],
    ['tabular', 'rows.csv', 'text/csv', new TextEncoder().encode(csv)],
  ];
  for (const [modality, name, mimeType, bytes] of files) {
    await page.selectOption('#modality', modality);
    await page.setInputFiles('#file', { name, mimeType, buffer: Buffer.from(bytes) });
    await page.evaluate(() => void (document.getElementById('encoded')!.textContent = ''));
    await page.click('#encode');
    await page.waitForFunction(() => document.getElementById('encoded')!.textContent !== '', undefined, { timeout: 120_000 });
    const text = (await page.textContent('#encoded')) ?? '';
    const inputs = modality === 'tabular' ? 2 : 1;
    assert.match(text, new RegExp(`^${name.replace('.', '\\.')} as ${modality}: ${inputs} input\\(s\\); encoder output of the first, mean-pooled over tokens \\(32 values\\): \\[-?\\d`), `${modality}: ${text}`);
  }
  assert.equal(errors, [], 'no page errors');
});

t('installs the kernel tables saved for this adapter on load, drops foreign ones, and forgets them on request', async () => {
  const page = browser.context.pages()[0] ?? (await browser.context.newPage());
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));
  const load = async () => {
    await page.goto(server.url);
    await page.waitForFunction(() => (document.getElementById('tuningStatus')!.textContent ?? '') !== '', undefined, { timeout: 60_000 });
    return (await page.textContent('#tuningStatus')) ?? '';
  };
  assert.is(await load(), 'built-in kernel choices');
  const adapter = await page.evaluate(() => document.getElementById('tuningStatus')!.dataset.adapter ?? '');
  assert.ok(adapter.length > 0, 'the page names its adapter');
  const saved = (name: string) => JSON.stringify({
    adapter: name,
    savedAt: '2026-11-28T00:00:00.000Z',
    matmul: { adapter: name, rows: [{ kernel: 'tiled', tile: { blocks: [1, 1], tk: 16 }, maxM: null }] },
    attention: { adapter: name, rows: [{ kernel: 'blocked', maxT: null }] },
  });
  const store = (text: string) => page.evaluate((t) => localStorage.setItem('omnitensor-tuning', t), text);
  await store(saved(adapter));
  assert.is(await load(), 'tuned tables in use (measured 2026-11-28T00:00:00.000Z)');
  await page.click('#forgetTuning');
  assert.is(await page.textContent('#tuningStatus'), 'built-in kernel choices');
  assert.is(await page.evaluate(() => localStorage.getItem('omnitensor-tuning')), null);
  // Tables measured on another adapter are not installed, and not kept.
  await store(saved('another adapter'));
  assert.is(await load(), 'built-in kernel choices');
  assert.match((await page.textContent('#log')) ?? '', /tuning: dropped the saved tables \(they were measured on 'another adapter'\)/);
  assert.is(await page.evaluate(() => localStorage.getItem('omnitensor-tuning')), null);
  assert.equal(errors, [], 'no page errors');
});

t.run();
