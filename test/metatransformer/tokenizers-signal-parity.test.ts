/**
 * Signal tokenizers against plain-PyTorch references of the official code (test/fixtures/gen_tokenizers_signal.py):
 * the same state dict loads by name, tokens match, and the gradients of sum(tokens * w) match for every
 * parameter (which also shows that gradients reach all of them).
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as ag from '../../autograd/index.js';
import { tidy } from '../../engine/tensor.js';
import { hostTensor } from '../../nn/checkpoint/index.js';
import type { Module } from '../../nn/index.js';
import { AudioTokenizer } from '../../metatransformer/tokenizers/audio.js';
import { GraphTokenizer, type GraphInput } from '../../metatransformer/tokenizers/graph.js';
import { PointCloudTokenizer } from '../../metatransformer/tokenizers/pointcloud.js';
import { fitTabularSchema, TabularTokenizer } from '../../metatransformer/tokenizers/tabular.js';
import { TimeSeriesTokenizer, type SeriesInput } from '../../metatransformer/tokenizers/timeseries.js';
import type { TokenBatch } from '../../metatransformer/types.js';
import { assertClose, fixtureJSON, testDevice } from '../helpers.js';

interface Named {
  shape: number[];
  data: number[];
}
interface Case {
  state: Record<string, Named>;
  tokens: Named;
  w: number[];
  grads: Record<string, number[]>;
}
type Cases = Record<string, Case & Record<string, unknown>>;

let cases: Cases;
const t = suite('metatransformer: signal tokenizers vs PyTorch');
t.before(async () => {
  await testDevice();
  cases = (await fixtureJSON<{ cases: Cases }>('tokenizers_signal.json')).cases;
});

function load(m: Module, c: Case): void {
  // PyTorch keeps BatchNorm's num_batches_tracked as int64; everything else here is float.
  const host = (k: string, v: Named) =>
    k.endsWith('num_batches_tracked') ? hostTensor('i64', v.shape, BigInt64Array.from(v.data, (x) => BigInt(x))) : hostTensor('f32', v.shape, Float32Array.from(v.data));
  const sd = new Map(Object.entries(c.state).map(([k, v]) => [k, host(k, v)]));
  assert.equal(m.loadStateDict(sd), { missing: [], unexpected: [], mismatched: [] });
}

/** Runs forward + backward of sum(tokens * w) and compares tokens and every parameter's gradient. */
async function check(m: Module, c: Case, run: () => TokenBatch, tol: { atol: number; rtol: number }, gradTol = tol): Promise<TokenBatch> {
  const [tokens, paddingMask] = tidy(() => {
    const batch = run();
    const w = ag.tensor(c.w, c.tokens.shape);
    ag.backward(ag.sum(ag.mul(batch.tokens, w)));
    return [batch.tokens, batch.paddingMask];
  });
  const out: TokenBatch = { tokens: tokens!, ...(paddingMask ? { paddingMask } : {}) };
  assert.equal([...out.tokens.shape], c.tokens.shape, 'token shape');
  assertClose(await out.tokens.data(), c.tokens.data, { ...tol, what: 'tokens' });
  const names = m.namedParameters().map(([n]) => n).sort();
  assert.equal(names, Object.keys(c.grads).sort(), 'parameter names');
  for (const [name, p] of m.namedParameters()) {
    assert.ok(p.grad, `${name} has a gradient`);
    assertClose(await p.grad!.data(), c.grads[name]!, { ...gradTol, what: `d/d${name}` });
  }
  return out;
}

function release(m: Module, out: TokenBatch): void {
  out.tokens.dispose();
  out.paddingMask?.dispose();
  for (const p of m.parameters()) p.grad?.dispose();
  m.dispose();
}

t('audio: AST fbank + patch embedding + CLS + positions', async () => {
  const c = cases.audio!;
  const m = new AudioTokenizer(c.config as { dim: number; numMelBins: number; targetFrames: number });
  load(m, c);
  const waves = (c.waves as number[][]).map((w) => Float32Array.from(w));
  // The fbank differs from torchaudio's by ~1e-5 in log-mel (f32 FFTs on both sides; the waveform mean is
  // summed in f64 here); 16x16 patches sum 256 such values, so tokens agree to ~1e-4. 1e-3 leaves margin.
  const out = await check(m, c, () => m.forward(waves), { atol: 1e-3, rtol: 1e-3 });
  assert.is(m.numTokens, c.tokens.shape[1]);
  release(m, out);
});

t('pointcloud: Point-BERT grouping + mini-PointNet (BatchNorm1d) + reduce_dim + CLS and position MLP', async () => {
  const c = cases.pointcloud!;
  const cfg = c.config as { dim: number; numGroups: number; groupSize: number; encoderChannels: number; encoderWidths: [number, number, number] };
  const m = new PointCloudTokenizer(cfg);
  load(m, c);
  const clouds = (c.clouds as number[][]).map((p) => Float32Array.from(p));
  // Training mode (batch statistics). f32 chains of ~6 small GEMMs, 2 batch norms and the normalisation:
  // ~1e-6 relative per op; max-pool gradients route to the same winners on both sides (random points, no ties).
  const out = await check(m, c, () => m.forward(clouds), { atol: 1e-5, rtol: 1e-5 }, { atol: 1e-4, rtol: 1e-4 });
  // The training-mode forward moved the running statistics as PyTorch's did (unbiased variance, momentum 0.1).
  const state = m.stateDict();
  for (const [name, expected] of Object.entries(c.running as Record<string, Named>))
    assertClose(await state.get(name)!.data(), expected.data, { atol: 1e-5, rtol: 1e-5, what: name });
  // Eval mode: the running statistics normalise.
  m.eval();
  const evalTokens = ag.noGrad(() => m.forward(clouds));
  assertClose(await evalTokens.tokens.data(), (c.tokensEval as Named).data, { atol: 1e-5, rtol: 1e-5, what: 'eval-mode tokens' });
  evalTokens.tokens.dispose();
  release(m, out);
});

t('timeseries token mode: Informer DataEmbedding with hourly time features from timestamps', async () => {
  const c = cases.seriesToken!;
  const cfg = c.config as { dim: number; channels: number; timeFeatures: number; maxLen: number };
  const m = new TimeSeriesTokenizer(cfg);
  load(m, c);
  const steps = c.steps as number;
  const stamps = c.timestamps as number[][];
  const batch: SeriesInput[] = (c.series as number[][]).map((s, i) => ({ shape: [steps, cfg.channels], data: Float32Array.from(s), timestamps: stamps[i]! }));
  // A 3-tap convolution and one small GEMM: f32 rounding only.
  const out = await check(m, c, () => m.forward(batch), { atol: 1e-5, rtol: 1e-5 }, { atol: 1e-4, rtol: 1e-5 });
  release(m, out);
});

t('timeseries patch mode: PatchTST patches with end replication, shared W_P, W_pos and channel embeddings', async () => {
  const c = cases.seriesPatch!;
  const cfg = c.config as { dim: number; channels: number; mode: 'patch'; patchLen: number; stride: number; seqLen: number };
  const m = new TimeSeriesTokenizer(cfg);
  load(m, c);
  const batch: SeriesInput[] = (c.series as number[][]).map((s) => ({ shape: [cfg.seqLen, cfg.channels], data: Float32Array.from(s) }));
  const out = await check(m, c, () => m.forward(batch), { atol: 1e-5, rtol: 1e-5 }, { atol: 1e-4, rtol: 1e-5 });
  assert.is(m.numPatches, 5);
  release(m, out);
});

t('tabular: fitted schema, numeric/missing/categorical/unknown cells, column embeddings, CLS', async () => {
  const c = cases.tabular!;
  const schema = fitTabularSchema(c.train as string[][], c.columns as string[], { island: 'categorical', sex: 'categorical' });
  const expected = c.schema as { name: string; kind: string; mean?: number; std?: number; categories?: string[] }[];
  schema.columns.forEach((col, i) => {
    const e = expected[i]!;
    assert.is(col.kind, e.kind, col.name);
    if (col.kind === 'numeric') assertClose([col.mean, col.std], [e.mean!, e.std!], { atol: 0, rtol: 1e-12, what: `${col.name} stats` });
    else assert.equal(col.categories, e.categories, `${col.name} vocabulary`);
  });
  const m = new TabularTokenizer({ dim: 8, schema });
  load(m, c);
  const out = await check(m, c, () => m.forward(c.rows as string[][]), { atol: 1e-5, rtol: 1e-5 });
  release(m, out);
});

function graphsOf(c: Case & Record<string, unknown>): GraphInput[] {
  return (c.graphs as { numNodes: number; edges: [number, number][]; featureDim: number; nodeFeatures: number[]; laplacian: number[]; edgeFeatures?: number[]; edgeFeatureDim?: number }[]).map((g) => ({
    numNodes: g.numNodes,
    edges: g.edges,
    featureDim: g.featureDim,
    nodeFeatures: Float32Array.from(g.nodeFeatures),
    laplacian: Float32Array.from(g.laplacian),
    ...(g.edgeFeatures ? { edgeFeatures: Float32Array.from(g.edgeFeatures), edgeFeatureDim: g.edgeFeatureDim! } : {}),
  }));
}

for (const name of ['graph', 'graphEdgeFeatures']) {
  t(`graph (${name}): TokenGT node/edge tokens, Laplacian identifiers, type embeddings, graph token, padding`, async () => {
    const c = cases[name]!;
    const m = new GraphTokenizer(c.config as { dim: number; nodeFeatureDim: number; edgeFeatureDim: number; k: number }).eval();
    load(m, c);
    const graphs = graphsOf(c);
    const out = await check(m, c, () => m.forward(graphs), { atol: 1e-5, rtol: 1e-5 });
    assert.equal([...(await out.paddingMask!.data())], c.paddingMask as number[]);
    assert.is(out.paddingMask!.dtype, 'u32');
    release(m, out);
  });
}

t('graph: training mode flips eigenvector signs reproducibly from the seed; eval mode does not', async () => {
  const c = cases.graph!;
  const graphs = graphsOf(c);
  const make = (): GraphTokenizer => {
    const m = new GraphTokenizer({ ...(c.config as { dim: number; nodeFeatureDim: number; k: number }), seed: 7 });
    load(m, c);
    return m;
  };
  const [a, b] = [make(), make()];
  const values = async (m: GraphTokenizer): Promise<Float32Array> => {
    const out = ag.noGrad(() => m.forward(graphs));
    const v = (await out.tokens.data()) as Float32Array;
    out.tokens.dispose();
    out.paddingMask!.dispose();
    return v;
  };
  const first = await values(a);
  assert.equal(first, await values(b), 'same seed, same flips');
  a.eval();
  assertClose(await values(a), c.tokens.data, { atol: 1e-5, rtol: 1e-5, what: 'eval mode' });
  // Five draws of 4 signs per graph make an all-positive draw for every graph vanishingly unlikely.
  let differs = false;
  for (let i = 0; i < 5 && !differs; i++) differs = (await values(b)).some((v, j) => Math.abs(v - c.tokens.data[j]!) > 1e-4);
  assert.ok(differs, 'training mode changes the identifiers');
  a.dispose();
  b.dispose();
});

t.run();
