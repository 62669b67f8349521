// `npm run bench:web`: bundles bench/web/main.ts with esbuild and serves the benchmark page on
// http://127.0.0.1:PORT (default 8123, loopback only). Open it in a WebGPU browser and press Run.
// Importable: `startBenchServer(port)` resolves to { url, close } (the Chromium test uses port 0).
import { build } from 'esbuild';
import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

export async function startBenchServer(port = 8123) {
  execFileSync(process.execPath, ['scripts/embed-wgsl.mjs'], { stdio: 'ignore' });
  const result = await build({
    entryPoints: ['bench/web/main.ts'],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    logLevel: 'warning',
    define: { 'process.env.NODE_ENV': '"production"' },
  });
  const bundle = result.outputFiles[0].contents;
  const page = readFileSync('bench/web/index.html');
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (path === '/') return res.writeHead(200, { 'content-type': 'text/html' }).end(page);
    if (path === '/bench.js') return res.writeHead(200, { 'content-type': 'text/javascript' }).end(bundle);
    res.writeHead(404).end();
  });
  await new Promise((ok) => server.listen(port, '127.0.0.1', ok));
  const url = `http://127.0.0.1:${server.address().port}/`;
  return { url, close: () => new Promise((ok) => server.close(ok)) };
}

if (import.meta.url === pathToFileURL(resolve(process.argv[1] ?? '')).href) {
  const { url } = await startBenchServer(Number(process.env.PORT ?? 8123));
  console.log(`benchmark page: ${url}  (add ?autorun&quick to start at once)`);
}
