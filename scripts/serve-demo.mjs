// `npm run demo:web`: bundles app/web/main.ts and serves the demo on http://127.0.0.1:PORT (default 8124,
// loopback only), with the repository's files read-only beside it (the embedded datasets and the shipped
// encoder weights). Importable: `startDemoServer(port)` resolves to { url, close } (the Playwright test
// uses port 0).
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { startBundleServer } from './bundle-server.mjs';

export function startDemoServer(port = 8124) {
  return startBundleServer({ entry: 'app/web/main.ts', page: 'app/web/index.html', script: 'demo.js', port, repoFiles: true, sourcemap: true });
}

if (import.meta.url === pathToFileURL(resolve(process.argv[1] ?? '')).href) {
  const { url } = await startDemoServer(Number(process.env.PORT ?? 8124));
  console.log(`demo page: ${url}  (add ?autorun to train the selected modality at once)`);
}
