// `npm run demo:web`: bundles app/web/main.ts with esbuild and serves the demo on http://127.0.0.1:PORT
// (default 8124, loopback only). The server also serves the repository's files read-only (node_modules
// included), which is how the page reaches the embedded datasets and the shipped encoder weights.
// Importable: `startDemoServer(port)` resolves to { url, close } (the Playwright test uses port 0).
import { build } from 'esbuild';
import { createServer } from 'node:http';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { extname, join, normalize, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.json': 'application/json', '.svg': 'image/svg+xml', '.csv': 'text/csv' };

export async function startDemoServer(port = 8124) {
  const root = process.cwd();
  execFileSync(process.execPath, ['scripts/embed-wgsl.mjs'], { stdio: 'ignore' });
  const result = await build({
    entryPoints: ['app/web/main.ts'], bundle: true, format: 'esm', platform: 'browser', target: 'es2022', write: false,
    sourcemap: 'inline', logLevel: 'warning', define: { 'process.env.NODE_ENV': '"production"' },
  });
  const bundle = result.outputFiles[0].contents;
  const page = readFileSync('app/web/index.html');
  const server = createServer((req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return res.writeHead(405).end();
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname);
    if (path === '/') return res.writeHead(200, { 'content-type': 'text/html' }).end(page);
    if (path === '/demo.js') return res.writeHead(200, { 'content-type': 'text/javascript' }).end(bundle);
    const file = normalize(join(root, path));
    // Only files inside the repository, never a dot-file or dot-folder (.git, .env).
    if (!file.startsWith(root + '/') || file.slice(root.length).split('/').some((p) => p.startsWith('.') && p !== '.cache') || !existsSync(file) || !statSync(file).isFile())
      return res.writeHead(404).end();
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' }).end(req.method === 'HEAD' ? undefined : readFileSync(file));
  });
  await new Promise((ok) => server.listen(port, '127.0.0.1', ok));
  const url = `http://127.0.0.1:${server.address().port}/`;
  return { url, close: () => new Promise((ok) => server.close(ok)) };
}

if (import.meta.url === pathToFileURL(resolve(process.argv[1] ?? '')).href) {
  const { url } = await startDemoServer(Number(process.env.PORT ?? 8124));
  console.log(`demo page: ${url}  (add ?autorun to train the selected modality at once)`);
}
