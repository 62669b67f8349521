import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';

// Static architecture checks over the source tree (run from the repository root, as the test runners do).
const t = suite('engine: layering');

const ROOT = process.cwd();
const SKIP_DIRS = new Set(['node_modules', 'dist', '.git']);
/** Places allowed to touch Node or Dawn directly. */
const PLATFORM_EXEMPT = (path: string) =>
  path === 'engine/platform.ts' || /^(scripts|bench|test|cli)\//.test(path) || (path.startsWith('app/') && !path.startsWith('app/web/'));
/** Lower layers never import higher ones: metatransformer -> nn -> autograd -> engine -> kernels. */
const LAYERS = ['kernels', 'engine', 'autograd', 'nn', 'metatransformer', 'app'];

function walk(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(join(ROOT, dir))) {
    if (SKIP_DIRS.has(name) || name.startsWith('.')) continue;
    const path = dir ? `${dir}/${name}` : name;
    if (statSync(join(ROOT, path)).isDirectory()) walk(path, out);
    else out.push(path);
  }
  return out;
}

/** Module specifiers of static imports, re-exports, dynamic imports with a literal, and require(). */
function importsOf(source: string): string[] {
  const specs: string[] = [];
  const patterns = [
    /\b(?:import|export)\s[^'"`;]*?\bfrom\s*['"]([^'"]+)['"]/g,
    /\bimport\s*['"]([^'"]+)['"]/g,
    /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
    /\brequire\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
  ];
  const code = source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  for (const re of patterns) for (const m of code.matchAll(re)) specs.push(m[1]!);
  return specs;
}

const files = walk('');
const sources = files.filter((f) => /\.(ts|mts|js|mjs)$/.test(f) && !f.endsWith('.d.ts'));

t('the scan sees the source tree', () => {
  assert.ok(sources.includes('engine/runtime.ts') && sources.includes('kernels/launch.ts'), 'run from the repository root');
  assert.equal(importsOf(`import { a } from './x.js';\nexport * from "node:fs";\nconst m = await import('webgpu');`), ['./x.js', 'node:fs', 'webgpu']);
});

t('only engine/platform.ts (and the Node programs in scripts/bench/test/cli/app, not app/web) import node: modules or webgpu', () => {
  const bad: string[] = [];
  for (const f of sources.filter((f) => !PLATFORM_EXEMPT(f)))
    for (const spec of importsOf(readFileSync(join(ROOT, f), 'utf8')))
      if (spec.startsWith('node:') || spec === 'webgpu' || spec.startsWith('webgpu/')) bad.push(`${f} imports '${spec}'`);
  assert.equal(bad, [], bad.join('\n'));
});

t('no layer imports a layer above it', () => {
  const bad: string[] = [];
  for (const f of sources) {
    const from = LAYERS.indexOf(f.split('/')[0]!);
    if (from < 0 || !f.includes('/')) continue;
    for (const spec of importsOf(readFileSync(join(ROOT, f), 'utf8'))) {
      if (!spec.startsWith('.')) continue;
      const target = relative(ROOT, normalize(join(ROOT, dirname(f), spec)));
      const to = LAYERS.indexOf(target.split('/')[0]!);
      // A root-level file (index.ts) re-exports every layer, so importing it is upward too.
      if (to > from || (to < 0 && !target.includes('/')))
        bad.push(`${f} (${LAYERS[from]}) imports ${spec} (${to >= 0 ? LAYERS[to] : target})`);
    }
  }
  assert.equal(bad, [], bad.join('\n'));
});

t('every kernels/wgsl/*.wgsl file opens with a header comment', () => {
  const wgsl = files.filter((f) => /^kernels\/wgsl\/[^/]+\.wgsl$/.test(f));
  assert.ok(wgsl.length > 0);
  const bad = wgsl.filter((f) => {
    const first = readFileSync(join(ROOT, f), 'utf8').split('\n').find((l) => l.trim() !== '') ?? '';
    return !/^\s*(\/\/|\/\*)/.test(first);
  });
  assert.equal(bad, [], `missing header comment: ${bad.join(', ')}`);
});

t.run();
