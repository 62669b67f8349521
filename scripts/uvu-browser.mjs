// Runs the given TypeScript test files in headless Chromium (Debian's /usr/bin/chromium, WebGPU on
// Vulkan/lavapipe): esbuild bundles them with uvu, a loopback-only HTTP server serves the page, the
// bundle and test fixtures, and the page's console is relayed here. Never downloads a browser.
import { build } from 'esbuild';
import { createServer } from 'node:http';
import { mkdirSync, readFileSync, existsSync, writeFileSync } from 'node:fs';
import { join, resolve, normalize, extname } from 'node:path';
import { launchChromium } from './chromium.mjs';

const files = process.argv.slice(2);
const root = process.cwd();
mkdirSync('node_modules/.cache', { recursive: true });
const entry = join('node_modules/.cache', 'browser-tests-entry.mjs');
writeFileSync(
  entry,
  `globalThis.UVU_DEFER = 1;
const uvu = await import('uvu');
const files = ${JSON.stringify(files)};
const loaders = [${files.map((f) => `() => import(${JSON.stringify(resolve(f))})`).join(',\n')}];
for (const f of files) globalThis.UVU_QUEUE.push([f]);
for (let i = 0; i < loaders.length; i++) { globalThis.UVU_INDEX = i; await loaders[i](); }
await uvu.exec(false);
globalThis.__testsDone = true;
`,
);
const result = await build({
  entryPoints: [entry],
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  write: false,
  sourcemap: 'inline',
  logLevel: 'warning',
  define: { 'process.env.NODE_ENV': '"test"' },
});
const bundle = result.outputFiles[0].contents;

const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.json': 'application/json' };
const page = '<!doctype html><meta charset="utf-8"><title>omnitensor tests</title><script type="module" src="/__bundle.js"></script>';
const server = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://localhost');
  if (url.pathname === '/') return res.writeHead(200, { 'content-type': 'text/html' }).end(page);
  if (url.pathname === '/__bundle.js') return res.writeHead(200, { 'content-type': 'text/javascript' }).end(bundle);
  const path = normalize(join(root, decodeURIComponent(url.pathname)));
  if (!path.startsWith(root + '/') || !existsSync(path)) return res.writeHead(404).end();
  res.writeHead(200, { 'content-type': TYPES[extname(path)] ?? 'application/octet-stream' }).end(readFileSync(path));
});
await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
const port = server.address().port;

const browser = await launchChromium();
const { context } = browser;
let exitCode = 0;
try {
  const tab = context.pages()[0] ?? (await context.newPage());
  tab.on('console', (msg) => process.stdout.write(msg.text() + (msg.text().endsWith('\n') ? '' : '\n')));
  tab.on('pageerror', (err) => {
    console.error(`page error: ${err.message}`);
    exitCode = 1;
  });
  await tab.goto(`http://127.0.0.1:${port}/`);
  await tab.waitForFunction(() => globalThis.__testsDone === true, undefined, { timeout: 30 * 60_000, polling: 500 });
} catch (err) {
  console.error(`browser run failed: ${err.message}`);
  exitCode = 1;
} finally {
  await browser.close();
  server.close();
}
process.exit(exitCode);
