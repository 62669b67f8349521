/**
 * End to end, one test per modality: the main job's recipe trains that modality's tokenizer and head on its
 * embedded dataset on top of the shipped pre-trained encoder, frozen, and must reach a stated metric on the
 * held-out split. These are the figures the README's main-job table reports for the pre-trained encoder
 * (same recipe, seed and encoder file), each threshold set about 10 points below the measured value and far
 * above chance, so a regression in any tokenizer, kernel, or the training loop fails here.
 *
 * Node only: the browser suite runs the same recipes through the demo's Playwright test (image modality).
 * About two minutes on the 2-core lavapipe machine.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { SHIPPED_ENCODER, loadEncoder, trainRecipe } from '../../app/job.js';
import { RECIPES } from '../../app/modalities.js';
import { MODALITIES, type Modality } from '../../metatransformer/data/types.js';
import type { MetaTransformerEncoder } from '../../metatransformer/encoder.js';
import { testDevice } from '../helpers.js';

const t = suite('app: every modality trains to its stated metric on the frozen pre-trained encoder');

interface Stated {
  /** Held-out accuracy at least this (classification) or MSE at most this (forecasting). */
  bound: number;
  /** Chance level: majority-class accuracy, or the MSE of predicting the mean (standardised target: ~1). */
  chance: number;
  /** What the main job measured (README), for the failure message. */
  measured: number;
}

const STATED: Record<Modality, Stated> = {
  text: { bound: 0.8, chance: 1 / 3, measured: 0.905 },
  image: { bound: 0.5, chance: 0.1, measured: 0.6 },
  pointcloud: { bound: 0.58, chance: 1 / 6, measured: 0.688 },
  audio: { bound: 0.7, chance: 1 / 6, measured: 0.833 },
  video: { bound: 0.4, chance: 0.25, measured: 0.5 },
  infrared: { bound: 0.6, chance: 0.25, measured: 0.731 },
  hyperspectral: { bound: 0.55, chance: 0.2, measured: 0.66 },
  xray: { bound: 0.45, chance: 1 / 3, measured: 0.578 },
  imu: { bound: 0.85, chance: 0.2, measured: 0.94 },
  tabular: { bound: 0.9, chance: 0.44, measured: 0.988 },
  graph: { bound: 0.25, chance: 1 / 6, measured: 0.35 },
  timeseries: { bound: 0.45, chance: 1, measured: 0.346 },
};

let encoder: MetaTransformerEncoder;
let probe: Float32Array;

t.before(async () => {
  await testDevice();
  // Tests run from the repository root, where the shipped encoder lives.
  encoder = (await loadEncoder(SHIPPED_ENCODER)).freeze();
  probe = (await encoder.blocks[0]!.attn.qkv.weight.data()) as Float32Array;
});

t.after(() => encoder.dispose());

for (const modality of MODALITIES)
  t(`${modality}: held-out metric within its stated bound, encoder untouched`, async () => {
    const stated = STATED[modality];
    await RECIPES[modality].use(async (recipe) => {
      const data = await recipe.load(1);
      const run = await trainRecipe(recipe, data, recipe.configure(data), encoder, { seed: 1 });
      const what = `${modality}: ${data.task === 'classification' ? 'accuracy' : 'MSE'} ${run.metric.toFixed(3)} (README ${stated.measured}, chance ${stated.chance.toFixed(2)})`;
      if (data.task === 'classification') assert.ok(run.metric >= stated.bound, `${what} must be >= ${stated.bound}`);
      else assert.ok(run.metric <= stated.bound, `${what} must be <= ${stated.bound}`);
    });
    assert.equal(await encoder.blocks[0]!.attn.qkv.weight.data(), probe, `${modality}: the frozen encoder's weights changed`);
  });

t.run();
