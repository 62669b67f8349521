import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as ag from '../../autograd/index.js';
import { Generator } from '../../engine/random.js';
import { memoryStats, tidy, type Tensor } from '../../engine/tensor.js';
import { AdamW, Block, Embedding, LayerNorm, Linear, Module, ModuleList, cosineWarmup, crossEntropy, init } from '../../nn/index.js';
import { testDevice } from '../helpers.js';

const t = suite('nn: training a small transformer');
t.before(async () => {
  await testDevice();
});

const VOCAB = 8;
const LEN = 6;
const DIM = 32;

/** Token + position embeddings, 2 pre-norm Blocks, final norm, mean pooling, linear head. */
class Classifier extends Module {
  tokens: Embedding;
  pos: Tensor;
  blocks: ModuleList<Block>;
  norm: LayerNorm;
  head: Linear;
  constructor(g: Generator) {
    super();
    this.tokens = new Embedding(VOCAB, DIM, { generator: g });
    this.pos = init.truncNormal([LEN, DIM], { std: 0.02, generator: g });
    this.pos.requiresGrad = true;
    this.blocks = new ModuleList([new Block(DIM, 4, { generator: g }), new Block(DIM, 4, { generator: g })]);
    this.norm = new LayerNorm(DIM);
    this.head = new Linear(DIM, VOCAB, { generator: g });
  }
  forward(ids: Tensor): Tensor {
    let h = ag.add(this.tokens.forward(ids), this.pos);
    for (const b of this.blocks) h = b.forward(h);
    return this.head.forward(ag.mean(this.norm.forward(h), 1));
  }
}

/** Copy-first-token task: the label of a random sequence is its first token, which mean pooling can only
 * recover through attention to position 0. */
function batch(g: Generator, n: number): { ids: number[]; labels: number[] } {
  const ids = Array.from({ length: n * LEN }, () => g.int(VOCAB));
  return { ids, labels: Array.from({ length: n }, (_, i) => ids[i * LEN]!) };
}

t('learns copy-first-token to >= 95% accuracy with flat memory over 300 steps', async () => {
  const g = new Generator(11);
  const model = new Classifier(g);
  const params = model.parameters();
  const opt = new AdamW(params, { lr: 3e-3, weightDecay: 0.01 });
  const sched = cosineWarmup(opt, { warmupSteps: 20, totalSteps: 300, minFactor: 0.1 });
  const data = new Generator(12);
  let warm: { liveTensors: number; bytesLive: number } | null = null;
  let lastLoss = Infinity;
  for (let step = 0; step < 300; step++) {
    const { ids, labels } = batch(data, 16);
    const loss = tidy(() => {
      const x = ag.tensor(ids, [16, LEN], { dtype: 'i32' });
      const y = ag.tensor(labels, undefined, { dtype: 'i32' });
      const l = crossEntropy(model.forward(x), y);
      ag.backward(l);
      opt.step();
      return ag.detach(l);
    });
    sched.step();
    opt.zeroGrad();
    // Reading the loss every few steps also keeps the CPU from queueing unbounded GPU work ahead of the
    // device (Dawn only reclaims finished command buffers while the event loop runs).
    if (step % 10 === 9 || step >= 290) {
      const value = await loss.item();
      if (step >= 290) lastLoss = Math.min(lastLoss, value);
    }
    loss.dispose();
    const m = memoryStats();
    if (step === 10) warm = { liveTensors: m.liveTensors, bytesLive: m.bytesLive };
    if (step > 10) assert.equal({ liveTensors: m.liveTensors, bytesLive: m.bytesLive }, warm, `memory at step ${step}`);
  }
  const test = batch(new Generator(99), 128);
  const predicted = tidy(() => ag.noGrad(() => ag.argmax(model.eval().forward(ag.tensor(test.ids, [128, LEN], { dtype: 'i32' })), -1)));
  const p = await predicted.data();
  predicted.dispose();
  const accuracy = test.labels.filter((l, i) => p[i] === l).length / 128;
  assert.ok(lastLoss < 0.2, `final training loss ${lastLoss}`);
  assert.ok(accuracy >= 0.95, `held-out accuracy ${accuracy}`);
  opt.dispose();
  model.dispose();
});

t.run();
