import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { loadEncoders, runModality } from '../../app/job.js';
import { RECIPES, buildModel, smallEgo, type Recipe } from '../../app/modalities.js';
import { loadModelFile, modelFileBytes, parseModelInfo, MODEL_FILE_FORMAT } from '../../app/model-file.js';
import { FormatError } from '../../engine/errors.js';
import { Generator } from '../../engine/random.js';
import { MODALITIES, type Modality } from '../../metatransformer/data/types.js';
import { MetaTransformerEncoder } from '../../metatransformer/encoder.js';
import { parseCsv } from '../../metatransformer/io/csv.js';
import { encoderCheckpoint } from '../../metatransformer/pretrain/checkpoint.js';
import { predict } from '../../metatransformer/train.js';
import { readSafetensors } from '../../nn/checkpoint/index.js';
import { assertClose, fixture, testDevice } from '../helpers.js';
import { IMAGE_CHECK, testEncoderFile } from './image-accuracy.js';

const t = suite('app: modality recipes');

t.before(async () => {
  await testDevice();
});

// A tiny encoder keeps this file fast: the recipes' wiring, not their accuracy, is under test here.
const tinyEncoder = () => new MetaTransformerEncoder({ dim: 16, depth: 1, heads: 2, generator: new Generator(3) }).freeze();

t('every modality has a recipe whose model maps its embedded data to the task outputs', async () => {
  assert.equal(Object.keys(RECIPES).sort(), [...MODALITIES].sort());
  const encoder = tinyEncoder();
  try {
    for (const m of MODALITIES)
      await RECIPES[m].use(async <X,>(recipe: Recipe<X>) => {
        assert.is(recipe.modality, m);
        const data = await recipe.load(1);
        assert.is(data.modality, m, `${m}: dataset modality`);
        assert.ok(data.train.inputs.length >= 40 && data.test.inputs.length >= 10, `${m}: ${data.train.inputs.length} train / ${data.test.inputs.length} test`);
        const config = recipe.configure(data);
        assert.equal(JSON.parse(JSON.stringify(config)), config, `${m}: configuration survives JSON`);
        const model = buildModel(recipe, encoder, config, 5);
        try {
          const [out] = [await predict(model, data.test.inputs.slice(0, 3))];
          assert.is(out!.length, 3);
          const width = data.task === 'classification' ? data.classNames.length : (data.test.targets[0] as Float32Array).length;
          assert.is(out![0]!.length, width, `${m}: output width`);
          assert.ok(out!.every((row) => row.every(Number.isFinite)), `${m}: finite outputs`);
          const { tokens } = model.tokenizer.forward(data.test.inputs.slice(0, 2));
          // The time budget rests on short sequences (see app/modalities.ts).
          assert.ok(tokens.shape[1]! <= 41, `${m}: ${tokens.shape[1]} tokens per input`);
          tokens.dispose();
        } finally {
          model.disposeParts();
        }
      });
  } finally {
    encoder.dispose();
  }
});

t('the same seed builds identical tokenizers and heads (a fair pre-trained vs random comparison)', async () => {
  const encoder = tinyEncoder();
  try {
    await RECIPES.tabular.use(async (recipe) => {
      const data = await recipe.load(1);
      const config = recipe.configure(data);
      const [a, b] = [buildModel(recipe, encoder, config, 9), buildModel(recipe, encoder, config, 9)];
      const [pa, pb] = [await a.head.parameters()[1]!.data(), await b.head.parameters()[1]!.data()];
      assert.equal(Array.from(pa), Array.from(pb));
      for (const model of [a, b]) {
        model.disposeParts();
      }
    });
  } finally {
    encoder.dispose();
  }
});

t('runModality trains on both encoders and reports metrics, curves and throughput', async () => {
  const encoder = tinyEncoder();
  const file = await encoderCheckpoint(encoder, { data: 'test', training: {}, epochs: 0, seconds: 0, zeroShotAccuracy: 0, date: 'today' });
  encoder.dispose();
  const encoders = await loadEncoders(file, 'tiny.safetensors', 1);
  try {
    assert.equal(encoders.summary, { source: 'tiny.safetensors', dim: 16, depth: 1, heads: 2, parameters: encoders.pretrained.parameters().reduce((n, p) => n + p.size, 0) });
    assert.ok(encoders.pretrained.frozen && encoders.random.frozen);
    const progress: string[] = [];
    const r = await runModality('tabular', encoders, { seed: 1, epochs: 1 }, { onProgress: (_m, k) => progress.push(k) });
    assert.is(r.modality, 'tabular');
    assert.ok(r.provenance.startsWith('real:'));
    assert.is(r.epochs, 1);
    for (const k of ['pretrained', 'random'] as const) {
      const run = r.runs[k];
      assert.ok(run.metric >= 0 && run.metric <= 1, `${k}: accuracy ${run.metric}`);
      assert.is(run.history.length, 1);
      assert.ok(Number.isFinite(run.history[0]!.trainLoss) && run.history[0]!.validation !== undefined);
      assert.is(run.confusion!.length, r.classNames.length);
      assert.is(run.confusion!.flat().reduce((a, b) => a + b, 0), r.testExamples);
      assert.ok(run.examplesPerSecond > 0 && run.trainableParameters > 0);
    }
    assert.ok(progress.includes('pretrained') && progress.includes('random'));
    // The encoders are shared across modalities: a run must leave them usable.
    assert.not.ok(encoders.pretrained.parameters()[0]!.disposed);
  } finally {
    encoders.pretrained.dispose();
    encoders.random.dispose();
  }
});

t('an official-layout PyTorch .pth encoder serves the job (npm start -- --checkpoint FILE)', async () => {
  // encoder_zip.pth: the official Meta-Transformer key layout, 2 blocks of width 64 with MLP ratio 2
  // (test/fixtures/gen_encoder.py). Not an omnitensor file, so heads come from width / 64, the official rule.
  const encoders = await loadEncoders(await fixture('encoder_zip.pth'), 'encoder_zip.pth', 1);
  try {
    assert.equal({ ...encoders.summary, parameters: 0 }, { source: 'encoder_zip.pth', dim: 64, depth: 2, heads: 1, parameters: 0 });
    assert.is(encoders.random.blocks[0]!.mlp.fc1.outFeatures, 128, 'the random twin copies the MLP ratio');
    const r = await runModality('tabular', encoders, { seed: 1, epochs: 1 });
    for (const k of ['pretrained', 'random'] as const) assert.ok(Number.isFinite(r.runs[k].history[0]!.trainLoss), `${k}: finite loss`);
  } finally {
    encoders.pretrained.dispose();
    encoders.random.dispose();
  }
});

t('image: both encoders reach the accuracy the browser demo is held to', async () => {
  const encoders = await loadEncoders(await testEncoderFile(), 'test encoder', 1);
  try {
    const r = await runModality('image', encoders, { seed: 1, epochs: IMAGE_CHECK.epochs });
    for (const k of ['pretrained', 'random'] as const)
      assert.ok(r.runs[k].metric >= IMAGE_CHECK.threshold, `${k}: accuracy ${r.runs[k].metric} < ${IMAGE_CHECK.threshold}`);
  } finally {
    encoders.pretrained.dispose();
    encoders.random.dispose();
  }
});

t('runModality rejects a bad epoch count', async () => {
  const encoder = tinyEncoder();
  try {
    const encoders = { pretrained: encoder, random: encoder, summary: { source: '', dim: 16, depth: 1, heads: 2, parameters: 0 } };
    try {
      await runModality('tabular', encoders, { seed: 1, epochs: 0 });
      assert.unreachable('epochs 0 accepted');
    } catch (err) {
      assert.match((err as Error).message, /epochs must be a positive integer/);
    }
  } finally {
    encoder.dispose();
  }
});

t('table inputs: text, tabular and timeseries CSVs become inputs and targets', () => {
  RECIPES.text.use((r) => {
    const d = r.fromTable!(parseCsv('title,label\nAlien,horror\nHeat,action\nSaw,horror\n', 'titles.csv'), undefined);
    assert.equal(d.inputs, ['Alien', 'Heat', 'Saw']);
    assert.equal(d.targets, [1, 0, 1]);
    assert.equal(d.classNames, ['action', 'horror']);
    assert.throws(() => r.fromTable!(parseCsv('a,b,label\nx,y,z\n', 'two.csv'), undefined), /two.csv: expected one text column/);
  });
  RECIPES.tabular.use((r) => {
    const d = r.fromTable!(parseCsv('x,kind\n1,a\n2,b\n', 'rows.csv'), 'kind');
    assert.equal(d.inputs, [['1'], ['2']]);
    assert.equal(d.columns, ['x']);
    assert.equal(d.targets, [0, 1]);
    assert.throws(() => r.fromTable!(parseCsv('x,kind\n1,a\n', 'rows.csv'), 'species'), /rows.csv: no column 'species'/);
    assert.throws(() => r.fromTable!(parseCsv('x,kind\n1,a\n2,\n', 'rows.csv'), 'kind'), /rows.csv: line 3 has no value in the label column 'kind'/);
  });
  RECIPES.timeseries.use((r) => {
    const rows = Array.from({ length: 40 }, (_, i) => `${i},${Math.sin(i)}`).join('\n');
    const d = r.fromTable!(parseCsv(`a,b\n${rows}\n`, 'series.csv'), 'b');
    assert.is(d.task, 'forecasting');
    assert.is(d.inputs.length, 40 - 28 - 7 + 1);
    assert.equal((d.inputs[0] as { shape: number[] }).shape, [28, 2]);
    assert.is((d.targets![0] as Float32Array).length, 7);
    assert.throws(() => r.fromTable!(parseCsv(`a,b\n${rows}\n`, 'series.csv'), 'c'), /series.csv: no value column 'c'/);
    assert.throws(() => r.fromTable!(parseCsv('a\n1\n2\n', 'short.csv'), undefined), /short.csv: 2 rows; forecasting needs at least 35/);
  });
});

t('smallEgo keeps the centre, some neighbours and edges among them within a token budget', () => {
  // Centre 2 (feature 0 = 1): neighbours 0, 3; 3-1 and 1-4 go with nodes 1 and 4.
  const g = { numNodes: 5, edges: [[0, 3], [2, 0], [2, 3], [3, 1], [1, 4]] as [number, number][], featureDim: 2,
    nodeFeatures: Float32Array.from([0, 0.1, 0, 0.2, 1, 0.3, 0, 0.4, 0, 0.5]) };
  const ego = smallEgo(g);
  assert.is(ego.numNodes, 3);
  assert.equal(Array.from(ego.nodeFeatures).map((v) => Math.round(v * 10) / 10), [0, 0.1, 1, 0.3, 0, 0.4]);
  assert.equal(ego.edges, [[1, 0], [1, 2], [0, 2]], 'edges from the centre first');
  const tight = smallEgo(g, 1, 3);
  assert.is(tight.numNodes, 2);
  assert.equal(tight.edges, [[1, 0]]);
  assert.equal(smallEgo(g, 12, 4).edges.length, 1, 'nodes + edges within the budget');
  assert.throws(() => smallEgo({ ...g, nodeFeatures: new Float32Array(10) }), /no node is flagged as the centre/);
});

t('model files: tokenizer and head round-trip with their recipe configuration', async () => {
  const encoder = tinyEncoder();
  try {
    await RECIPES.text.use(async (recipe) => {
      const data = await recipe.load(1);
      const config = recipe.configure(data);
      const model = buildModel(recipe, encoder, config, 4);
      const info = { modality: 'text' as Modality, config, task: 'classification' as const, classNames: data.classNames, encoder: 'tiny', encoderDim: 16, validation: { accuracy: 0.5 } };
      const bytes = await modelFileBytes(model, info);
      const { tensors, metadata } = await readSafetensors(bytes);
      assert.ok([...tensors.keys()].every((k) => k.startsWith('tokenizer.') || k.startsWith('head.')), 'no encoder weights in the file');
      assert.is(metadata.get('format'), MODEL_FILE_FORMAT);
      const loaded = await loadModelFile(bytes, 'model.safetensors', encoder);
      assert.equal(loaded.info.classNames, data.classNames);
      assert.equal({ ...loaded.info.validation }, { accuracy: 0.5 });
      const inputs = data.test.inputs.slice(0, 4);
      const [a, b] = [await predict(model, inputs), await predict(loaded.model, inputs)];
      assertClose(b.flatMap((r) => [...r]), a.flatMap((r) => [...r]), { atol: 0, rtol: 0, what: 'reloaded logits' }); // same weights, same kernels: bit-identical
      for (const m of [model, loaded.model]) {
        m.disposeParts();
      }
      const wide = new MetaTransformerEncoder({ dim: 32, depth: 1, heads: 2 });
      try {
        await loadModelFile(bytes, 'model.safetensors', wide);
        assert.unreachable('a 32-wide encoder was accepted');
      } catch (err) {
        assert.match((err as Error).message, /model.safetensors: trained on a 16-wide encoder \(tiny\), but the encoder given is 32 wide/);
      } finally {
        wide.dispose();
      }
    });
  } finally {
    encoder.dispose();
  }
});

t('model files: malformed metadata is a FormatError naming the file and field', () => {
  const good = new Map([
    ['format', MODEL_FILE_FORMAT], ['modality', 'image'], ['config', '{"classes":2}'], ['task', 'classification'],
    ['classes', '["a","b"]'], ['encoder', 'e'], ['encoder_dim', '16'], ['validation', '{"accuracy":1,"__proto__":2}'],
  ]);
  const info = parseModelInfo(good, 'm.st');
  assert.is(info.modality, 'image');
  assert.is(info.target, undefined);
  assert.is(parseModelInfo(new Map([...good, ['target', 'kind']]), 'm.st').target, 'kind');
  assert.is(Object.getPrototypeOf(info.validation), null, 'metrics map cannot be prototype-polluted');
  const cases: [string, string | undefined, RegExp][] = [
    ['format', 'other/1', /m.st: not an omnitensor model file \(format 'other\/1'/],
    ['modality', 'smell', /m.st: unknown modality 'smell'/],
    ['task', 'ranking', /m.st: task must be/],
    ['classes', '{"a":1}', /m.st: metadata 'classes' must be an array of strings/],
    ['config', '{oops', /m.st: metadata 'config' is not JSON/],
    ['encoder_dim', '-3', /m.st: metadata 'encoder_dim' must be a positive integer/],
    ['encoder', undefined, /m.st: the model file has no 'encoder' metadata/],
    ['format', undefined, /m.st: not an omnitensor model file \(format missing/],
  ];
  for (const [key, value, re] of cases) {
    const m = new Map(good);
    if (value === undefined) m.delete(key);
    else m.set(key, value);
    assert.throws(() => parseModelInfo(m, 'm.st'), (e: unknown) => e instanceof FormatError && re.test((e as Error).message), key);
  }
});

t.run();
