// A loopback page server for a browser bundle: builds `entry` with esbuild (after embedding the WGSL) and
// serves `page` at / and the bundle at /<script>. With `repoFiles` it also serves the repository's files
// read-only (node_modules included, dot-files never), which is how the demo page reaches the embedded
// datasets and the shipped encoder weights. `assets` maps URL prefixes to folders served read-only (the
// benchmark page's copy of ONNX Runtime Web's .wasm files). Used by `npm run bench:web` (bench/web/serve.mjs) and
// `npm run demo:web` (scripts/serve-demo.mjs); resolves to { url, close } (tests pass port 0).
import { build } from 'esbuild';
import { createServer } from 'node:http';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { extname, join, normalize } from 'node:path';

const TYPES = {
  '.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript', '.wasm': 'application/wasm',
  '.json': 'application/json', '.svg': 'image/svg+xml', '.csv': 'text/csv',
};

/** The file under `folder` that `rest` names, or null when it escapes the folder, is a dot-file or is missing. */
function fileUnder(folder, rest) {
  const file = normalize(join(folder, rest));
  // Only files inside the folder, never a dot-file or dot-folder (.git, .env).
  if (!file.startsWith(folder + '/') || file.slice(folder.length).split('/').some((p) => p.startsWith('.') && p !== '.cache')) return null;
  return existsSync(file) && statSync(file).isFile() ? file : null;
}

export async function startBundleServer({ entry, page, script, port, repoFiles = false, assets = {}, sourcemap = false }) {
  const root = process.cwd();
  execFileSync(process.execPath, ['scripts/embed-wgsl.mjs'], { stdio: 'ignore' });
  const result = await build({
    entryPoints: [entry], bundle: true, format: 'esm', platform: 'browser', target: 'es2022', write: false,
    ...(sourcemap ? { sourcemap: 'inline' } : {}), logLevel: 'warning', define: { 'process.env.NODE_ENV': '"production"' },
  });
  const bundle = result.outputFiles[0].contents;
  const html = readFileSync(page);
  const server = createServer((req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return res.writeHead(405).end();
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname);
    if (path === '/') return res.writeHead(200, { 'content-type': 'text/html' }).end(html);
    if (path === `/${script}`) return res.writeHead(200, { 'content-type': 'text/javascript' }).end(bundle);
    const asset = Object.entries(assets).find(([prefix]) => path.startsWith(prefix));
    const file = asset ? fileUnder(join(root, asset[1]), path.slice(asset[0].length)) : repoFiles ? fileUnder(root, path) : null;
    if (!file) return res.writeHead(404).end();
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' }).end(req.method === 'HEAD' ? undefined : readFileSync(file));
  });
  await new Promise((ok) => server.listen(port, '127.0.0.1', ok));
  const url = `http://127.0.0.1:${server.address().port}/`;
  return { url, close: () => new Promise((ok) => server.close(ok)) };
}
