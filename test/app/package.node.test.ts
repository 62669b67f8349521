import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

// What a user gets from `npm install omnitensor`: the packed tarball, unpacked as npm would into a fresh
// project that has only Dawn (`webgpu`, with the @webgpu/types it brings) beside it, run from that
// project. This checks the package's `files` and `exports` (both entry points import, the shipped encoder
// file is inside), that a strict TypeScript project typechecks against its declarations without
// skipLibCheck, and that the optional dataset packages are optional: their loaders say what to install.
const t = suite('app: the npm package in a fresh project');
const project = mkdtempSync(join(tmpdir(), 'omni-package-'));
t.after(() => rmSync(project, { recursive: true, force: true }));

const CONSUMER = `
import * as ot from 'omnitensor';
import * as mt from 'omnitensor/metatransformer';
await ot.init();
const product = ot.matmul(ot.tensor([[1, 2], [3, 4]]), ot.tensor([[1], [1]]));
console.log('matmul', JSON.stringify(await product.toArray()));
const { encoder, info } = await mt.loadPretrainedEncoder(mt.SHIPPED_ENCODER_URL);
console.log('encoder', encoder.dim, info.config.depth);
try {
  await mt.penguins();
  console.log('penguins loaded');
} catch (err) {
  console.log('penguins', err.name, err.message);
}
`;

t('installs and runs from its tarball with nothing but webgpu beside it', () => {
  const packed = JSON.parse(execFileSync('npm', ['pack', '--json', '--pack-destination', project], { encoding: 'utf8' })) as {
    filename: string;
    files: { path: string }[];
  }[];
  const files = packed[0]!.files.map((f) => f.path);
  for (const needed of ['dist/index.js', 'dist/index.d.ts', 'dist/metatransformer/index.js', 'dist/cli/omnitensor.js', 'metatransformer/weights/encoder-tiny.safetensors'])
    assert.ok(files.includes(needed), `the package holds ${needed}`);
  assert.not.ok(files.some((f) => f.startsWith('dist/test/')), 'no compiled tests in the package');

  const modules = join(project, 'node_modules');
  mkdirSync(join(modules, 'omnitensor'), { recursive: true });
  execFileSync('tar', ['-xzf', join(project, packed[0]!.filename), '-C', join(modules, 'omnitensor'), '--strip-components=1']);
  symlinkSync(resolve('node_modules/webgpu'), join(modules, 'webgpu'), 'dir');
  mkdirSync(join(modules, '@webgpu'));
  symlinkSync(resolve('node_modules/@webgpu/types'), join(modules, '@webgpu', 'types'), 'dir');
  assert.equal(readdirSync(modules).sort(), ['@webgpu', 'omnitensor', 'webgpu']);
  writeFileSync(join(project, 'package.json'), '{ "type": "module" }\n');
  writeFileSync(join(project, 'consumer.js'), CONSUMER);

  // The same program as TypeScript, typed: the declarations must compile in a strict project.
  writeFileSync(join(project, 'consumer.ts'), CONSUMER.replace('} catch (err) {', '} catch (err) {\n  if (!(err instanceof ot.OmniError)) throw err;'));
  writeFileSync(join(project, 'tsconfig.json'), JSON.stringify({
    compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', lib: ['ES2022', 'DOM'], strict: true, skipLibCheck: false, noEmit: true, types: [] },
    files: ['consumer.ts'],
  }));
  execFileSync(process.execPath, [resolve('node_modules/typescript/bin/tsc'), '-p', project], { encoding: 'utf8' });

  const out = execFileSync(process.execPath, ['consumer.js'], { cwd: project, encoding: 'utf8', env: process.env });
  assert.match(out, /^matmul \[\[3\],\[7\]\]$/m);
  assert.match(out, /^encoder 64 3$/m);
  assert.match(out, /^penguins MissingPackageError penguins: reads data\/penguins\.json from the npm package 'vega-datasets', which is not installed .*npm install vega-datasets@3\.2\.1$/m);
});

t.run();
