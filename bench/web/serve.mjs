// `npm run bench:web`: bundles bench/web/main.ts with esbuild and serves the benchmark page on
// http://127.0.0.1:PORT (default 8123, loopback only). Open it in a WebGPU browser and press Run.
import { build } from 'esbuild';
import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

execFileSync(process.execPath, ['scripts/embed-wgsl.mjs'], { stdio: 'inherit' });
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
const port = Number(process.env.PORT ?? 8123);
server.listen(port, '127.0.0.1', () => console.log(`benchmark page: http://127.0.0.1:${port}/  (add ?autorun&quick to start at once)`));
