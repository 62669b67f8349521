/** Signal tokenizers: input validation, loaders and their error paths, preprocessing properties. */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as fc from 'fast-check';
import * as ag from '../../autograd/index.js';
import { ArgumentError, FormatError, ShapeError } from '../../engine/errors.js';
import { parseCsv } from '../../metatransformer/io/csv.js';
import { encodeWav } from '../../metatransformer/io/wav.js';
import { AudioTokenizer, readAudioClip } from '../../metatransformer/tokenizers/audio.js';
import { GraphTokenizer, MAX_GRAPH_NODES, parseEdgeList, parseNodeLinkGraph, readGraphFile, type GraphInput } from '../../metatransformer/tokenizers/graph.js';
import { laplacianEigenvectors } from '../../metatransformer/tokenizers/laplacian.js';
import { PointCloudTokenizer, PointPatchEncoder, PointwiseConv1d, normalizeToUnitSphere } from '../../metatransformer/tokenizers/pointcloud.js';
import { fitTabularSchema, TabularTokenizer } from '../../metatransformer/tokenizers/tabular.js';
import { seriesFromCsv, TimeSeriesTokenizer } from '../../metatransformer/tokenizers/timeseries.js';
import type { TokenBatch } from '../../metatransformer/types.js';
import { assertClose, assertThrows, testDevice } from '../helpers.js';

const t = suite('metatransformer: signal tokenizer inputs and loaders');
t.before(async () => {
  await testDevice();
});

async function tokens(run: () => TokenBatch): Promise<{ shape: number[]; data: Float32Array; mask?: number[] }> {
  const out = ag.noGrad(run);
  const data = (await out.tokens.data()) as Float32Array;
  const mask = out.paddingMask ? [...(await out.paddingMask.data())] : undefined;
  out.tokens.dispose();
  out.paddingMask?.dispose();
  return { shape: [...out.tokens.shape], data, ...(mask ? { mask } : {}) };
}

function wave(n: number, f0: number): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => 0.3 * Math.sin((2 * Math.PI * f0 * i) / 16000));
}

t('audio: AST defaults give 12 frequency rows of patches; bad clips and options are refused', async () => {
  const m = new AudioTokenizer({ dim: 4, targetFrames: 36 });
  assert.equal(m.grid, [12, 3]);
  const out = await tokens(() => m.forward([wave(4000, 300), wave(16000, 900)]));
  assert.equal(out.shape, [2, 37, 4]);
  assert.ok(out.data.every(Number.isFinite));
  assert.throws(() => m.forward([wave(399, 300)]), (e: unknown) => e instanceof ShapeError && /clip 0 has 399 samples/.test((e as Error).message));
  assert.throws(() => m.forward([wave(4000, 300), Float32Array.of(0, NaN, ...wave(500, 1))]), (e: unknown) => e instanceof ArgumentError && /clip 1/.test((e as Error).message));
  assertThrows(() => m.forward([]), ArgumentError, /./);
  assert.throws(() => new AudioTokenizer({ dim: 4, targetFrames: 10 }), /targetFrames \(10\)/);
  assertThrows(() => new AudioTokenizer({ dim: 4, targetFrames: 32, std: 0 }), ArgumentError, /./);
  m.dispose();
});

t('audio: readAudioClip mixes to mono and resamples to 16 kHz', async () => {
  const left = Float32Array.from({ length: 800 }, (_, i) => Math.sin(i / 10) * 0.5);
  const bytes = encodeWav({ sampleRate: 8000, channels: [left, left.map((v) => -v + 0.2)] }, { format: 'float32' });
  const clip = await readAudioClip(bytes);
  assert.is(clip.length, 1600);
  // The mono mix is the constant 0.1; resampling keeps a constant in the pass band (edges aside).
  assertClose(clip.subarray(400, 1200), new Float32Array(800).fill(0.1), { atol: 2e-3, rtol: 0, what: 'resampled mix' });
  const same = await readAudioClip(encodeWav({ sampleRate: 16000, channels: [left] }, { format: 'float32' }));
  assertClose(same, left, { atol: 0, rtol: 0, what: '16 kHz passes through' });
});

t('pointcloud: unit-sphere normalisation makes tokens invariant to shifting and scaling a cloud', async () => {
  fc.assert(fc.property(fc.array(fc.float({ min: -5, max: 5, noNaN: true }), { minLength: 12, maxLength: 60 }), (values) => {
    const pts = Float32Array.from(values.slice(0, values.length - (values.length % 3)));
    const out = normalizeToUnitSphere(pts);
    const n = out.length / 3;
    let radius = 0;
    const c = [0, 0, 0];
    for (let i = 0; i < n; i++) {
      radius = Math.max(radius, Math.hypot(out[i * 3]!, out[i * 3 + 1]!, out[i * 3 + 2]!));
      for (let a = 0; a < 3; a++) c[a]! += out[i * 3 + a]! / n;
    }
    assert.ok(radius === 0 || Math.abs(radius - 1) < 1e-5, `radius ${radius}`);
    assert.ok(c.every((v) => Math.abs(v) < 1e-4 * Math.max(1, ...values.map(Math.abs))), `centroid ${c}`);
  }), { numRuns: 40 });
  const m = new PointCloudTokenizer({ dim: 8, numGroups: 4, groupSize: 5, encoderWidths: [8, 8, 8] }).eval();
  const cloud = Float32Array.from({ length: 32 * 3 }, (_, i) => Math.sin(i * 1.7) + (i % 3) * 0.3);
  const moved = cloud.map((v, i) => v * 3.5 + [1, -2, 0.5][i % 3]!);
  const a = await tokens(() => m.forward([cloud]));
  const b = await tokens(() => m.forward([moved]));
  assert.equal(a.shape, [1, 5, 8]);
  // Same normalised points up to f32 rounding of the shift/scale.
  assertClose(b.data, a.data, { atol: 1e-4, rtol: 1e-4, what: 'moved cloud' });
  m.dispose();
});

t('pointcloud: mismatched, too small and non-finite clouds are refused', () => {
  const m = new PointCloudTokenizer({ dim: 8, numGroups: 4, groupSize: 5, encoderChannels: 6, encoderWidths: [4, 4, 4] });
  assert.ok(m.reduce_dim, 'reduce_dim when widths differ');
  const cloud = (n: number): Float32Array => Float32Array.from({ length: n * 3 }, (_, i) => Math.cos(i));
  assert.throws(() => m.forward([cloud(16), cloud(20)]), (e: unknown) => e instanceof ShapeError && /cloud 1 has 20/.test((e as Error).message));
  assert.throws(() => m.forward([cloud(4)]), (e: unknown) => e instanceof ShapeError && /4 groups of 5 points/.test((e as Error).message));
  assertThrows(() => m.forward([new Float32Array(10)]), ShapeError, /./);
  const bad = cloud(16);
  bad[7] = Infinity;
  assert.throws(() => m.forward([bad]), (e: unknown) => e instanceof ArgumentError && /point 2/.test((e as Error).message));
  assertThrows(() => new PointCloudTokenizer({ dim: 8, numGroups: 0, groupSize: 4 }), ArgumentError, /./);
  // Its building blocks are public too, and check their own arguments.
  assertThrows(() => new PointwiseConv1d(0, 4), ArgumentError, /^PointwiseConv1d: inChannels must be an integer >= 1, got 0/);
  assertThrows(() => new PointwiseConv1d(3, 4, { generatr: undefined } as never), ArgumentError, /^PointwiseConv1d: unknown key 'generatr'/);
  assertThrows(() => new PointPatchEncoder(8, [16, 32] as never), ArgumentError, /^PointPatchEncoder: widths must be three layer widths, got 2/);
  assertThrows(() => new PointPatchEncoder(8, 16 as never), ArgumentError, /^PointPatchEncoder: widths must be an array, got the number 16/);
  m.dispose();
});

t('timeseries: IMU traces in token mode; shape, time-feature and patch-length errors', async () => {
  const imu = new TimeSeriesTokenizer({ dim: 8, channels: 6, modality: 'imu' });
  assert.is(imu.modality, 'imu');
  assert.is(imu.hasClsToken, false);
  const trace = { shape: [10, 6], data: Float32Array.from({ length: 60 }, (_, i) => Math.sin(i)) };
  assert.equal((await tokens(() => imu.forward([trace, trace]))).shape, [2, 10, 8]);
  assert.throws(() => imu.forward([trace, { shape: [10, 5], data: new Float32Array(50) }]), (e: unknown) => e instanceof ShapeError && /series 1 has shape \[10,5\]/.test((e as Error).message));
  const timed = new TimeSeriesTokenizer({ dim: 8, channels: 6, timeFeatures: 3, maxLen: 8 });
  assert.throws(() => timed.forward([trace]), /exceed maxLen 8/);
  const short = { shape: [4, 6], data: new Float32Array(24) };
  assert.throws(() => timed.forward([short]), /neither timestamps nor marks/);
  assert.throws(() => timed.forward([{ ...short, timestamps: [0, 1] }]), /2 timestamps for 4 steps/);
  assert.throws(() => timed.forward([{ ...short, marks: new Float32Array(5) }]), /5 time features/);
  assert.equal((await tokens(() => timed.forward([{ ...short, marks: new Float32Array(12) }]))).shape, [1, 4, 8]);
  assert.throws(() => new TimeSeriesTokenizer({ dim: 8, channels: 2, timeFeatures: 7 }), /timeFeatures/);
  assert.throws(() => new TimeSeriesTokenizer({ dim: 8, channels: 2, mode: 'patch' }), /seqLen/);
  const patch = new TimeSeriesTokenizer({ dim: 8, channels: 6, mode: 'patch', patchLen: 4, stride: 2, seqLen: 10 });
  assert.throws(() => patch.forward([{ shape: [12, 6], data: new Float32Array(72) }]), /give 6 patches; the tokenizer was made for 5/);
  for (const m of [imu, timed, patch]) m.dispose();
});

t('timeseries: seriesFromCsv reads values and timestamps and names bad cells', () => {
  const table = parseCsv('date,load,temp\n2020-01-01 00:00,1.5,3\n2020-01-01 01:00,2,-1e1\n', 'load.csv');
  const s = seriesFromCsv(table);
  assert.equal(s.shape, [2, 2]);
  assert.equal([...s.data], [1.5, 3, 2, -10]);
  assert.equal(s.timestamps, [Date.UTC(2020, 0, 1, 0), Date.UTC(2020, 0, 1, 1)]);
  assert.equal(seriesFromCsv(table, { columns: ['temp'] }).data, Float32Array.of(3, -10));
  const badValue = parseCsv('date,load\n2020-01-01,1\n2020-01-02,oops\n', 'b.csv');
  assert.throws(() => seriesFromCsv(badValue), (e: unknown) => e instanceof FormatError && /b\.csv: line 3, column 2 \('load'\): 'oops'/.test((e as Error).message));
  const missing = parseCsv('x\n1\nNA\n', 'm.csv');
  assert.throws(() => seriesFromCsv(missing), /line 3, column 1/);
  const badStamp = parseCsv('when,x\n2020-13-01,1\n', 's.csv');
  assert.throws(() => seriesFromCsv(badStamp, { timestampColumn: 'when' }), /line 2, column 1 \('when'\).*ISO 8601/);
  assert.throws(() => seriesFromCsv(table, { columns: ['nope'] }), (e: unknown) => e instanceof ArgumentError && /no column 'nope'/.test((e as Error).message));
});

t('tabular: unknown categories share the missing id; schema mismatches name the row or column', async () => {
  const columns = ['colour', 'size', 'note'];
  const train = [['red', '1', 'a'], ['blue', '2', 'b'], ['red', '', 'c']];
  assert.throws(() => fitTabularSchema(train, columns, {}, { maxCategories: 2 }), (e: unknown) => e instanceof ArgumentError && /column 'note' is free text/.test((e as Error).message));
  assert.throws(() => fitTabularSchema(train, columns, { nope: 'numeric' }), /unknown column 'nope'/);
  assert.throws(() => fitTabularSchema([['red', '1']], columns), /row 0 has 2 cells for 3 columns/);
  const schema = fitTabularSchema(train, columns);
  assert.equal(schema.columns.map((c) => c.kind), ['categorical', 'numeric', 'categorical']);
  const m = new TabularTokenizer({ dim: 4, schema }).eval();
  const out = await tokens(() => m.forward([['green', '3', 'a'], ['', '?', ''], ['red', '1.5', 'zzz']]));
  assert.equal(out.shape, [3, 4, 4]);
  const tok = (r: number, c: number): number[] => [...out.data.subarray((r * 4 + c) * 4, (r * 4 + c + 1) * 4)];
  assert.equal(tok(0, 1), tok(1, 1), 'unseen category = missing category');
  assert.equal(tok(2, 3), tok(1, 3), "unseen 'zzz' = missing note");
  assert.not.equal(tok(0, 2), tok(1, 2), 'missing numeric uses its own token');
  assert.throws(() => m.forward([['red', '1']]), (e: unknown) => e instanceof ShapeError && /row 0 has 2 cells, the schema has 3 columns \(colour, size, note\)/.test((e as Error).message));
  assert.throws(() => m.forward([['red', 'big', 'a']]), (e: unknown) => e instanceof FormatError && /row 0, column 'size': 'big' is not a number/.test((e as Error).message));
  m.dispose();
});

t('graph: edge lists parse with comments and edge features; malformed lines are named', () => {
  const g = parseEdgeList('# ring\n0 1\n1,2\n\n% x\n2\t0\n', 'ring.txt');
  assert.is(g.numNodes, 3);
  assert.equal(g.edges, [[0, 1], [1, 2], [2, 0]]);
  assert.equal([...g.nodeFeatures], [1, 1, 1]);
  const w = parseEdgeList('0 1 0.5 1\n1 3 2 -1e-1\n');
  assert.is(w.numNodes, 4);
  assert.equal(w.edgeFeatureDim, 2);
  assert.equal([...w.edgeFeatures!], [0.5, 1, 2, -0.1].map(Math.fround));
  const err = (text: string, re: RegExp): void =>
    assert.throws(() => parseEdgeList(text, 'g.txt'), (e: unknown) => e instanceof FormatError && re.test((e as Error).message));
  err('0 1\n1 -2\n', /g\.txt: line 2: node id '-2'/);
  err('0 1\n1 2 3\n', /line 2: 3 fields where earlier lines have 2/);
  err('0 1 x\n', /line 1: edge feature 'x'/);
  err('0\n', /line 1: expected 'source target'/);
  err('0 99999999\n', /line 1: node id '99999999'/);
  err('# nothing\n', /no edges/);
});

t('graph: node-link JSON by id or index, with feature keys; bad documents are named', async () => {
  const doc = JSON.stringify({ nodes: [{ id: 'a', w: 1 }, { id: '__proto__', w: 2 }, { id: 'c', w: 3 }], links: [{ source: 'a', target: '__proto__' }, { source: 'c', target: 'a' }] });
  const g = parseNodeLinkGraph(doc, 'g.json', { featureKeys: ['w'] });
  assert.equal(g.edges, [[0, 1], [2, 0]]);
  assert.equal([...g.nodeFeatures], [1, 2, 3]);
  assert.equal(g.nodeIds, ['a', '__proto__', 'c']);
  assert.is(({} as Record<string, unknown>).w, undefined);
  const byIndex = parseNodeLinkGraph('{"nodes":[{"name":"x"},{"name":"y"}],"edges":[{"source":1,"target":0}]}');
  assert.equal(byIndex.edges, [[1, 0]]);
  assert.is(byIndex.featureDim, 1);
  const loaded = await readGraphFile(new TextEncoder().encode(doc));
  assert.is(loaded.numNodes, 3);
  assert.is((await readGraphFile(new TextEncoder().encode('0 1\n'))).numNodes, 2);
  const err = (text: string, re: RegExp, keys: string[] = []): void =>
    assert.throws(() => parseNodeLinkGraph(text, 'g.json', { featureKeys: keys }), (e: unknown) => e instanceof FormatError && re.test((e as Error).message));
  err('{nodes', /g\.json: not JSON/);
  err('[]', /'nodes' array/);
  err('{"nodes":[{}]}', /'links' \(or 'edges'\)/);
  err('{"nodes":[{"id":1},{"id":1}],"links":[]}', /nodes\[1\] repeats id 1/);
  err('{"nodes":[{"id":1}],"links":[{"source":1,"target":5}]}', /links\[0\]\.target 5 names no node/);
  err('{"nodes":[{"id":1,"w":"x"}],"links":[]}', /nodes\[0\]\.w is not a finite number/, ['w']);
  err('{"nodes":[7],"links":[]}', /nodes\[0\] is not an object/);
});

t('graph: identifiers computed internally equal explicit ones; bad graphs are refused', async () => {
  const m = new GraphTokenizer({ dim: 8, nodeFeatureDim: 1, k: 3 }).eval();
  const ring = parseEdgeList('0 1\n1 2\n2 3\n3 0\n');
  const own = await tokens(() => m.forward([ring, parseEdgeList('0 1\n')]));
  const explicit = await tokens(() => m.forward([{ ...ring, laplacian: laplacianEigenvectors(4, ring.edges, 3) }, parseEdgeList('0 1\n')]));
  assert.equal(own.shape, [2, 9, 8]);
  assert.equal(own.data, explicit.data);
  assert.equal(own.mask, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1]);
  assert.ok(own.data.subarray(9 * 8 + 4 * 8).every((v) => v === 0), 'padded tokens are zero');
  const base: GraphInput = { numNodes: 2, edges: [[0, 1]], nodeFeatures: Float32Array.of(1, 1), featureDim: 1 };
  const err = (g: GraphInput, re: RegExp, type: new (...a: never[]) => Error): void =>
    assert.throws(() => m.forward([base, g]), (e: unknown) => e instanceof type && re.test((e as Error).message));
  err({ ...base, edges: [[0, 2]] }, /graph 1, edge 0 \(0, 2\) refers to a node outside 0\.\.1/, ArgumentError);
  err({ ...base, nodeFeatures: Float32Array.of(1) }, /graph 1 has 1 node feature values/, ShapeError);
  err({ ...base, numNodes: MAX_GRAPH_NODES + 1 }, /graph 1 has 2049 nodes/, ArgumentError);
  err({ ...base, laplacian: new Float32Array(5) }, /graph 1 has 5 identifier values/, ShapeError);
  const withEdges = new GraphTokenizer({ dim: 8, nodeFeatureDim: 1, edgeFeatureDim: 2 });
  assert.throws(() => withEdges.forward([base]), /graph 0 needs edgeFeatures of 1 edges x 2/);
  m.dispose();
  withEdges.dispose();
});

t.run();
