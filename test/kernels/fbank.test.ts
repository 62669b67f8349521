import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { fromFlat } from '../../engine/ops/creation.js';
import { kaldiFbank, type FbankOptions } from '../../engine/ops/spectral.js';
import { slice } from '../../engine/ops/views.js';
import { ArgumentError, ShapeError } from '../../engine/errors.js';
import { assertClose, fixtureJSON, testDevice } from '../helpers.js';

interface Case {
  name: string;
  sampleRate: number;
  options: { num_mel_bins: number; window_type?: 'hanning' | 'hamming'; low_freq?: number; high_freq?: number };
  signal: number[];
  shape: [number, number];
  fbank: number[];
}

const t = suite('kernels: Kaldi fbank vs torchaudio');
t.before(async () => {
  await testDevice();
});

function options(c: Case): FbankOptions {
  return {
    sampleRate: c.sampleRate,
    numMelBins: c.options.num_mel_bins,
    ...(c.options.window_type ? { windowType: c.options.window_type } : {}),
    ...(c.options.low_freq !== undefined ? { lowFreq: c.options.low_freq } : {}),
    ...(c.options.high_freq !== undefined ? { highFreq: c.options.high_freq } : {}),
  };
}

t('matches torchaudio.compliance.kaldi.fbank', async () => {
  const { cases } = await fixtureJSON<{ cases: Case[] }>('fbank.json');
  for (const c of cases) {
    const x = fromFlat(c.signal, [c.signal.length], 'f32');
    const y = kaldiFbank(x, options(c));
    assert.equal([...y.shape], c.shape, c.name);
    // Both sides use an f32 FFT; log-mel values agree to ~1e-5. 2e-3 absolute leaves room for bins whose
    // energy is tiny (log amplifies relative error there).
    assertClose(await y.data(), c.fbank, { atol: 2e-3, rtol: 1e-4, what: c.name });
    x.dispose();
    y.dispose();
  }
});

t('reads a strided view of a longer signal without copying semantics changing', async () => {
  const { cases } = await fixtureJSON<{ cases: Case[] }>('fbank.json');
  const c = cases[0]!;
  const padded = fromFlat([0, 0, 0, ...c.signal], [c.signal.length + 3], 'f32');
  const view = slice(padded, [{ start: 3 }]);
  const y = kaldiFbank(view, options(c));
  assertClose(await y.data(), c.fbank, { atol: 2e-3, rtol: 1e-4, what: 'offset view' });
  padded.dispose();
  view.dispose();
  y.dispose();
});

t('rejects bad input before GPU work', () => {
  const x = fromFlat(new Float32Array(100), [100], 'f32');
  assert.throws(() => kaldiFbank(x), (e: Error) => e instanceof ShapeError && /shorter than one frame/.test(e.message));
  const x2 = fromFlat(new Float32Array(800), [2, 400], 'f32');
  assert.throws(() => kaldiFbank(x2), (e: Error) => e instanceof ShapeError && /mono signal/.test(e.message));
  assert.throws(() => kaldiFbank(x, { frameLengthMs: 100, sampleRate: 16000 }), (e: Error) => e instanceof ArgumentError);
  assert.throws(() => kaldiFbank(x, { numMelBins: 0 }), (e: Error) => e instanceof ArgumentError);
  x.dispose();
  x2.dispose();
});

t.run();
