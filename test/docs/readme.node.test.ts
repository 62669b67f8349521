import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { testDevice } from '../helpers.js';

const t = suite('docs: the README usage example runs as written');

t('README example trains a linear model and recovers its weights', async () => {
  await testDevice();
  const readme = await readFile('README.md', 'utf8');
  const block = /```js\n(import \* as ot from 'omnitensor';[\s\S]*?)```/.exec(readme)?.[1];
  assert.ok(block, 'README has a js block starting with the omnitensor import');
  // Point the import at this build and make init() reuse the test device, then capture the printed lines.
  const entry = pathToFileURL(resolve('dist/index.js')).href;
  const lines: string[] = [];
  const code = block!
    .replace("from 'omnitensor'", `from ${JSON.stringify(entry)}`)
    .replace('await ot.init();', '')
    .replaceAll('console.log(', 'globalThis.__readmeLog(');
  (globalThis as { __readmeLog?: (...a: unknown[]) => void }).__readmeLog = (...a) => lines.push(a.map(String).join(' '));
  await mkdir('node_modules/.cache', { recursive: true });
  const file = resolve('node_modules/.cache/readme-example.mjs');
  await writeFile(file, code);
  await import(pathToFileURL(file).href);
  const losses = lines.filter((l) => l.startsWith('step')).map((l) => Number(l.split('loss ')[1]));
  assert.is(losses.length, 4);
  assert.ok(losses[3]! < 1e-3, `final loss ${losses[3]}`);
  assert.ok(losses[3]! < losses[0]!, 'loss decreases');
});

t.run();
