// `npm run bench:web`: bundles bench/web/main.ts and serves the benchmark page on http://127.0.0.1:PORT
// (default 8123, loopback only). Open it in a WebGPU browser and press Run.
// Importable: `startBenchServer(port)` resolves to { url, close } (the Chromium test uses port 0).
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { startBundleServer } from '../../scripts/bundle-server.mjs';

export function startBenchServer(port = 8123) {
  // ONNX Runtime Web fetches its .wasm at run time from the folder bench/peers/ort.ts names (ORT_WASM_URL).
  return startBundleServer({ entry: 'bench/web/main.ts', page: 'bench/web/index.html', script: 'bench.js', port, assets: { '/onnxruntime-web/': 'node_modules/onnxruntime-web/dist' } });
}

if (import.meta.url === pathToFileURL(resolve(process.argv[1] ?? '')).href) {
  const { url } = await startBenchServer(Number(process.env.PORT ?? 8123));
  console.log(`benchmark page: ${url}  (add ?autorun&quick to start at once)`);
}
