import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ArgumentError, DTypeError, FormatError, ShapeError } from '../../engine/errors.js';
import * as raw from '../../engine/ops/index.js';
import { Generator } from '../../engine/random.js';
import { hasF16 } from '../../engine/runtime.js';
import { hostTensor, writeSafetensors, type HostTensor } from '../../nn/checkpoint/index.js';
import { loadCheckpoint, saveSafetensors } from '../../nn/io.js';
import { StateDictError } from '../../nn/module.js';
import { MetaTransformerEncoder } from '../../metatransformer/encoder.js';
import { assertClose, fixture, fixtureJSON, testDevice } from '../helpers.js';

const t = suite('metatransformer: encoder');

interface EncoderIO {
  shape: number[];
  input: number[];
  output: number[];
  maskedOutput: number[];
  paddingMask: number[];
}
let io: EncoderIO;
let official: Map<string, HostTensor>;

t.before(async () => {
  await testDevice();
  io = await fixtureJSON<EncoderIO>('encoder_io.json');
  official = await loadCheckpoint(await fixture('encoder_zip.pth'));
});

function maxAbs(v: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < v.length; i++) m = Math.max(m, Math.abs(v[i]!));
  return m;
}

/** Runs the fixture input (optionally masked) through `enc` and returns the output values. */
async function run(enc: MetaTransformerEncoder, masked = false): Promise<Float32Array> {
  const x = raw.fromFlat(io.input, io.shape, 'f32');
  const mask = masked ? raw.fromFlat(io.paddingMask, io.shape.slice(0, 2), 'u32') : undefined;
  const y = enc.forward(x, mask);
  const out = (await y.data()) as Float32Array;
  for (const tt of [x, mask, y]) tt?.dispose();
  return out;
}

/** f32 parity: 1e-4 of the output's largest magnitude (measured 3e-7; GEMM/attention reorder sums). */
function assertParity(actual: Float32Array, expected: number[], what: string, relative = 1e-4): void {
  assertClose(actual, expected, { atol: relative * maxAbs(expected), rtol: 0, what });
}

/** Asserts that `fn` rejects with an error of class `type` whose message matches `pattern`. */
async function rejects(fn: () => Promise<unknown>, type: new (...args: never[]) => Error, pattern: RegExp = /./): Promise<void> {
  try {
    await fn();
  } catch (err) {
    assert.instance(err, type);
    assert.match((err as Error).message, pattern);
    return;
  }
  assert.unreachable(`expected a ${type.name}`);
}

const isError = (type: new (...args: never[]) => Error, pattern: RegExp = /./) => (e: unknown): boolean => e instanceof type && pattern.test((e as Error).message);

function safetensorsOf(entries: Iterable<[string, HostTensor]>): Uint8Array {
  return writeSafetensors(new Map(entries));
}

t('state-dict names are exactly the official checkpoint keys, in order', () => {
  const enc = new MetaTransformerEncoder({ dim: 64, depth: 2, heads: 4, mlpRatio: 2 });
  assert.equal([...enc.stateDict().keys()], [...official.keys()]);
  assert.equal(enc.namedParameters().length, 24);
  enc.dispose();
});

t('B16 and L14 configs', () => {
  assert.equal({ ...MetaTransformerEncoder.B16 }, { dim: 768, depth: 12, heads: 12 });
  assert.equal({ ...MetaTransformerEncoder.L14 }, { dim: 1024, depth: 24, heads: 16 });
});

t('zip checkpoint: forward matches PyTorch, with and without a key-padding mask', async () => {
  const enc = await MetaTransformerEncoder.fromCheckpoint(await fixture('encoder_zip.pth'), { heads: 4 });
  assert.is(enc.depth, 2);
  assert.is(enc.dim, 64);
  assertParity(await run(enc), io.output, 'zip output');
  assertParity(await run(enc, true), io.maskedOutput, 'masked output');
  enc.dispose();
});

t('legacy checkpoint nested under model/encoder.: unwrapped and prefix detected', async () => {
  const enc = await MetaTransformerEncoder.fromCheckpoint(await fixture('encoder_legacy.pth'), { heads: 4 });
  assertParity(await run(enc), io.output, 'legacy output');
  enc.dispose();
  const explicit = await MetaTransformerEncoder.fromCheckpoint(await fixture('encoder_legacy.pth'), { heads: 4, prefix: 'encoder.' });
  assertParity(await run(explicit), io.output, 'legacy output, explicit prefix');
  explicit.dispose();
});

t('f16 checkpoint loads into f32 weights (error = the weights\' f16 rounding)', async () => {
  const enc = await MetaTransformerEncoder.fromCheckpoint(await fixture('encoder_f16.pth'), { heads: 4 });
  assert.is(enc.dtype, 'f32');
  // Weights rounded to f16 (2^-11 relative) perturb the output by ~1e-4 of its max (measured 1.6e-4).
  assertParity(await run(enc), io.output, 'f16-file output', 1e-3);
  enc.dispose();
});

t('f16 inference (dtype f16 and encoder.to): within the documented 5e-3 of max magnitude', async () => {
  if (!hasF16()) {
    await rejects(() => MetaTransformerEncoder.fromCheckpoint(new Uint8Array(0), { dtype: 'f16' }), DTypeError, /shader-f16/);
    return;
  }
  const enc = await MetaTransformerEncoder.fromCheckpoint(await fixture('encoder_zip.pth'), { heads: 4, dtype: 'f16' });
  assert.is(enc.dtype, 'f16');
  const out = await run(enc);
  const err = maxAbs(out.map((v, i) => v - io.output[i]!)) / maxAbs(io.output);
  // f16 activations and weights: measured 8.4e-4 of the max magnitude on this 2-block fixture (lavapipe).
  assert.ok(err < 5e-3, `f16 relative error ${err}`);
  enc.dispose();
  const cast = (await MetaTransformerEncoder.fromCheckpoint(await fixture('encoder_zip.pth'), { heads: 4 })).to('f16');
  assert.is(cast.dtype, 'f16');
  assertParity(await run(cast), io.output, 'to(f16) output', 5e-3);
  cast.dispose();
});

t('safetensors under a blocks. prefix (timm layout) loads; several prefixes need an explicit one', async () => {
  const prefixed = safetensorsOf([...official].map(([k, v]) => [`blocks.${k}`, v]));
  const enc = await MetaTransformerEncoder.fromCheckpoint(prefixed, { heads: 4 });
  assertParity(await run(enc), io.output, 'safetensors output');
  enc.dispose();
  const two = safetensorsOf([...[...official].map(([k, v]): [string, HostTensor] => [`a.${k}`, v]), ...[...official].map(([k, v]): [string, HostTensor] => [`b.${k}`, v])]);
  try {
    await MetaTransformerEncoder.fromCheckpoint(two, { heads: 4 });
    assert.unreachable('should throw');
  } catch (err) {
    assert.instance(err, ArgumentError);
    assert.match((err as Error).message, /'a\.', 'b\.'/);
  }
  const chosen = await MetaTransformerEncoder.fromCheckpoint(two, { heads: 4, prefix: 'b.' });
  assertParity(await run(chosen), io.output, 'chosen prefix output');
  chosen.dispose();
});

t('missing, extra and mis-shaped entries throw a StateDictError naming them', async () => {
  const cases: [string, [string, HostTensor][], keyof StateDictError['report'], RegExp][] = [
    ['missing', [...official].filter(([k]) => k !== '1.mlp.fc2.bias'), 'missing', /missing keys: 1\.mlp\.fc2\.bias/],
    ['extra', [...official, ['0.attn.extra', hostTensor('f32', [2], new Float32Array(2))]], 'unexpected', /unexpected keys: 0\.attn\.extra/],
    [
      'mis-shaped',
      [...official].map(([k, v]): [string, HostTensor] => [k, k === '0.norm2.weight' ? hostTensor('f32', [32], new Float32Array(32)) : v]),
      'mismatched',
      /0\.norm2\.weight: given \[32\] vs module \[64\]/,
    ],
  ];
  for (const [what, entries, field, pattern] of cases) {
    try {
      await MetaTransformerEncoder.fromCheckpoint(safetensorsOf(entries), { heads: 4 });
      assert.unreachable(`${what} should throw`);
    } catch (err) {
      assert.instance(err, StateDictError, what);
      assert.match((err as Error).message, pattern);
      assert.is((err as StateDictError).report[field].length, 1, what);
    }
  }
  // Non-strict: what matches is loaded.
  const lenient = await MetaTransformerEncoder.fromCheckpoint(safetensorsOf(cases[0]![1]), { heads: 4, strict: false });
  assert.is(lenient.depth, 2);
  lenient.dispose();
});

t('malformed encoders: no blocks, a gap in block indices, bad qkv shape', async () => {
  const bad: [string, [string, HostTensor][], RegExp][] = [
    ['no blocks', [['head.weight', hostTensor('f32', [2], new Float32Array(2))]], /no encoder block entries/],
    ['gap', [...official].map(([k, v]): [string, HostTensor] => [k.replace(/^1\./, '5.'), v]), /block 1 has no entries, but block 5 does/],
    ['qkv', [...official].map(([k, v]): [string, HostTensor] => [k, k === '0.attn.qkv.weight' ? hostTensor('f32', [64, 64], new Float32Array(64 * 64)) : v]), /'0\.attn\.qkv\.weight' must be \[3D, D\]/],
  ];
  for (const [what, entries, pattern] of bad) {
    try {
      await MetaTransformerEncoder.fromCheckpoint(safetensorsOf(entries), { heads: 4 });
      assert.unreachable(`${what} should throw`);
    } catch (err) {
      assert.instance(err, FormatError, what);
      assert.match((err as Error).message, pattern);
    }
  }
});

t('round trip through saveSafetensors; heads default to width/64 and must divide the width', async () => {
  const g = new Generator(3);
  const enc = new MetaTransformerEncoder({ dim: 8, depth: 3, heads: 2, generator: g });
  const bytes = await saveSafetensors(enc);
  await rejects(() => MetaTransformerEncoder.fromCheckpoint(bytes), ArgumentError, /width 8 is not a multiple of 64, so pass heads/);
  const back = await MetaTransformerEncoder.fromCheckpoint(bytes, { heads: 2 });
  assert.is(back.depth, 3);
  const x = raw.randn([2, 5, 8], { generator: g });
  const [a, b] = [enc.forward(x), back.forward(x)];
  assertClose((await b.data()) as Float32Array, (await a.data()) as Float32Array, { atol: 0, rtol: 0, what: 'round trip' });
  for (const tt of [x, a, b]) tt.dispose();
  enc.dispose();
  back.dispose();
  await rejects(() => MetaTransformerEncoder.fromCheckpoint(bytes, { heads: 2, dtype: 'f64' as 'f32' }), DTypeError, /'f32' or 'f16'/);
});

t('argument and shape errors', () => {
  assert.throws(() => new MetaTransformerEncoder({ dim: 64, depth: 0 }), isError(ArgumentError, /depth/));
  assert.throws(() => new MetaTransformerEncoder({ dim: 64, depth: 1, heads: 3 }), isError(ArgumentError, /heads/));
  const enc = new MetaTransformerEncoder({ dim: 16, depth: 1, heads: 2 });
  const x = raw.zeros([2, 4, 8]);
  assert.throws(() => enc.forward(x), isError(ShapeError, /\[B, T, 16\]/));
  const y = raw.zeros([2, 4, 16]);
  const mask = raw.zeros([2, 5], { dtype: 'u32' });
  assert.throws(() => enc.forward(y, mask), isError(ShapeError, /paddingMask/));
  for (const tt of [x, y, mask]) tt.dispose();
  enc.dispose();
});

t('freeze: no parameter takes gradients, eval mode', () => {
  const enc = new MetaTransformerEncoder({ dim: 16, depth: 2, heads: 2 }).freeze();
  assert.ok(enc.frozen);
  assert.ok(enc.parameters().every((p) => !p.requiresGrad));
  assert.ok(enc.namedModules().every(([, m]) => !m.training));
  enc.dispose();
});

t.run();
