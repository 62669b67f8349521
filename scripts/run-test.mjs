// Runs test files straight from TypeScript (esbuild bundles each, no type check) under Node:
//   node scripts/run-test.mjs test/engine/elementwise.test.ts [more files...]
// Used while developing one module; `npm test` runs the whole suite from the tsc build instead.
import { build } from 'esbuild';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { execFileSync } from 'node:child_process';

execFileSync(process.execPath, ['scripts/embed-wgsl.mjs'], { stdio: 'inherit' });
const files = process.argv.slice(2);
if (!files.length) { console.error('usage: node scripts/run-test.mjs FILE.test.ts...'); process.exit(2); }
mkdirSync('node_modules/.cache', { recursive: true });
const dir = mkdtempSync(join('node_modules/.cache', 'omni-test-'));
const entry = join(dir, 'entry.ts');
writeFileSync(entry, files.map((f) => `import ${JSON.stringify(resolve(f))};`).join('\n'));
const out = join(dir, 'bundle.mjs');
await build({ entryPoints: [entry], bundle: true, platform: 'node', format: 'esm', outfile: out, packages: 'external', sourcemap: 'inline', logLevel: 'warning', absWorkingDir: process.cwd() });
await import(pathToFileURL(resolve(out)).href);
