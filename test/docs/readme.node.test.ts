import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { testDevice } from '../helpers.js';

const t = suite('docs: the README usage examples run as written');

/** The README's js blocks that start with the omnitensor import, in order. */
async function readmeBlocks(): Promise<string[]> {
  const readme = await readFile('README.md', 'utf8');
  return [...readme.matchAll(/```js\n(import \* as ot from 'omnitensor';[\s\S]*?)```/g)].map((m) => m[1]!);
}

/**
 * Runs a README block against this build (the imports pointed at dist/, init() reusing the test device)
 * and returns the lines it printed.
 */
async function runBlock(block: string, name: string): Promise<string[]> {
  await testDevice();
  const dist = (file: string): string => JSON.stringify(pathToFileURL(resolve(file)).href);
  const lines: string[] = [];
  const code = block
    .replace("from 'omnitensor/metatransformer'", `from ${dist('dist/metatransformer/index.js')}`)
    .replace("from 'omnitensor'", `from ${dist('dist/index.js')}`)
    .replace('await ot.init();', '')
    .replaceAll('console.log(', 'globalThis.__readmeLog(');
  (globalThis as { __readmeLog?: (...a: unknown[]) => void }).__readmeLog = (...a) => lines.push(a.map(String).join(' '));
  await mkdir('node_modules/.cache', { recursive: true });
  const file = resolve(`node_modules/.cache/readme-${name}.mjs`);
  await writeFile(file, code);
  await import(pathToFileURL(file).href);
  return lines;
}

t('README example trains a linear model and recovers its weights', async () => {
  const block = (await readmeBlocks())[0];
  assert.ok(block, 'README has a js block starting with the omnitensor import');
  const lines = await runBlock(block!, 'linear');
  const losses = lines.filter((l) => l.startsWith('step')).map((l) => Number(l.split('loss ')[1]));
  assert.is(losses.length, 4);
  assert.ok(losses[3]! < 1e-3, `final loss ${losses[3]}`);
  assert.ok(losses[3]! < losses[0]!, 'loss decreases');
});

t('README Meta-Transformer example trains a tabular tokenizer and head on the frozen shipped encoder', async () => {
  const block = (await readmeBlocks()).find((b) => b.includes("from 'omnitensor/metatransformer'"));
  assert.ok(block, 'README has a Meta-Transformer js block');
  const lines = await runBlock(block!, 'metatransformer');
  const result = /^(\d+) parameters trained, held-out accuracy ([\d.]+)%$/.exec(lines.at(-1) ?? '');
  assert.ok(result, `printed: ${lines.join(' | ')}`);
  // The encoder's 150k weights stay frozen: only the tokenizer and the head count.
  assert.ok(Number(result![1]) < 10_000, `${result![1]} trained parameters`);
  assert.ok(Number(result![2]) >= 90, `held-out accuracy ${result![2]}%`);
});

t.run();
