/**
 * Time-series (and IMU) tokenizer, in two modes.
 *
 * 'token' (default): Informer's DataEmbedding, one token per time step, as the official
 * Meta-Transformer time-series code uses: `value_embedding.tokenConv` (Conv1d channels -> D, kernel 3,
 * circular padding, no bias, Kaiming-normal init for leaky ReLU) + `position_embedding.pe` (the fixed
 * sinusoidal table, a buffer of `maxLen` rows as in Informer's state dict) + optionally
 * `temporal_embedding.embed` (Linear(timeFeatures -> D), no bias) of the calendar features of each step
 * ('timeF' embedding). Informer's dropout is left to the encoder.
 *
 * 'patch': PatchTST-style patching for long series: each channel is cut into windows of `patchLen` every
 * `stride` steps after replicating its last value `stride` times (PatchTST's padding_patch 'end'), each
 * window is embedded by a Linear(patchLen -> D) shared by all channels (`W_P`), plus learned positions
 * `W_pos` [patches, D]. Deviation: PatchTST keeps channels apart as separate samples; here the channels'
 * token sequences are concatenated (channel-major) into one sequence per series and a learned
 * `channel_embed` [channels, D] tells them apart, so the encoder sees [B, channels * patches, D] and can
 * mix channels. PatchTST's RevIN is not applied: standardise series beforehand.
 *
 * Neither mode has a CLS token. The same tokenizer serves IMU traces (modality 'imu').
 */
import * as ag from '../../autograd/index.js';
import { expectOptions, optionKeys } from '../../engine/arguments.js';
import { ArgumentError, FormatError, ShapeError, fmtShape } from '../../engine/errors.js';
import * as raw from '../../engine/ops/index.js';
import type { Generator } from '../../engine/random.js';
import type { Tensor } from '../../engine/tensor.js';
import { Conv1d, Linear, Module, init } from '../../nn/index.js';
import type { Grid } from '../data/types.js';
import { isMissing, parseNumber, parseTimestamp, timeFeatures, type CsvTable, type TimeFrequency } from '../io/csv.js';
import { Tokenizer, type TokenBatch } from '../types.js';
import { learnedTensor, requireBatch, requireInt } from './tokens.js';

/** A series [T, C], optionally with its time stamps (epoch ms per step) or precomputed calendar features [T * F]. */
export interface SeriesInput extends Grid {
  timestamps?: readonly number[];
  marks?: Float32Array;
}

/** Informer's feature count per frequency, inverted: the frequency whose `timeFeatures` has this many. */
const FREQ_BY_FEATURE_COUNT: ReadonlyMap<number, TimeFrequency> = new Map([[6, 's'], [5, 't'], [4, 'h'], [3, 'd'], [2, 'w'], [1, 'm']]);

export interface TimeSeriesTokenizerOptions {
  dim: number;
  channels: number;
  mode?: 'token' | 'patch';
  /** Patch mode: window length (default 16) and step (default 8). */
  patchLen?: number;
  stride?: number;
  /** Patch mode: the series length the positions are made for (required in patch mode). */
  seqLen?: number;
  /** Token mode: calendar features per step (Informer's timeF: 4 for hourly, 3 daily, ...); 0 for none. */
  timeFeatures?: number;
  /** Token mode: rows of the sinusoidal table (Informer's max_len, default 5000). */
  maxLen?: number;
  modality?: 'timeseries' | 'imu';
  generator?: Generator;
}

/** Informer's TokenEmbedding: the field name `tokenConv` matches its state dict. */
class TokenEmbedding extends Module {
  tokenConv: Conv1d;
  constructor(channels: number, dim: number, generator?: Generator) {
    super();
    this.tokenConv = new Conv1d(channels, dim, 3, { padding: 1, paddingMode: 'circular', bias: false, generator });
    // Informer: kaiming_normal_(mode='fan_in', nonlinearity='leaky_relu') with the default slope 0.01.
    this.tokenConv.weight.dispose();
    this.tokenConv.weight = init.kaimingNormal([dim, channels, 3], { a: 0.01, generator });
    this.tokenConv.weight.requiresGrad = true;
  }
}

/** Informer's PositionalEmbedding: pe[t, 2i] = sin(t / 10000^(2i/D)), pe[t, 2i+1] = cos(...). */
class PositionalEmbedding extends Module {
  pe: Tensor;
  constructor(dim: number, maxLen: number) {
    super();
    const table = new Float32Array(maxLen * dim);
    for (let t = 0; t < maxLen; t++)
      for (let i = 0; i < dim; i += 2) {
        const angle = t * Math.exp(-i * (Math.log(10000) / dim));
        table[t * dim + i] = Math.sin(angle);
        if (i + 1 < dim) table[t * dim + i + 1] = Math.cos(angle);
      }
    this.pe = this.buffer('pe', raw.fromFlat(table, [1, maxLen, dim], 'f32', 'PositionalEmbedding'));
  }
}

/** Informer's TimeFeatureEmbedding: the field name `embed` matches its state dict. */
class TimeFeatureEmbedding extends Module {
  embed: Linear;
  constructor(features: number, dim: number, generator?: Generator) {
    super();
    this.embed = new Linear(features, dim, { bias: false, generator });
  }
}

const TIME_SERIES_TOKENIZER_OPTIONS = optionKeys<TimeSeriesTokenizerOptions>({
  dim: true, channels: true, mode: true, patchLen: true, stride: true, seqLen: true, timeFeatures: true, maxLen: true, modality: true, generator: true,
});

export class TimeSeriesTokenizer extends Tokenizer<SeriesInput> {
  readonly modality: 'timeseries' | 'imu';
  readonly dim: number;
  readonly hasClsToken = false;
  readonly channels: number;
  readonly mode: 'token' | 'patch';
  readonly patchLen: number;
  readonly stride: number;
  readonly numPatches: number;
  readonly timeFeatures: number;
  value_embedding: TokenEmbedding | null = null;
  position_embedding: PositionalEmbedding | null = null;
  temporal_embedding: TimeFeatureEmbedding | null = null;
  W_P: Linear | null = null;
  W_pos: Tensor | null = null;
  channel_embed: Tensor | null = null;

  constructor(options: TimeSeriesTokenizerOptions) {
    super();
    const op = 'TimeSeriesTokenizer';
    expectOptions(op, options, TIME_SERIES_TOKENIZER_OPTIONS);
    const {
      dim, channels, mode = 'token', patchLen = 16, stride = 8, seqLen, timeFeatures: features = 0, maxLen = 5000,
      modality = 'timeseries', generator,
    } = options;
    requireInt(op, 'dim', dim);
    requireInt(op, 'channels', channels);
    if (mode !== 'token' && mode !== 'patch') throw new ArgumentError(`${op}: mode must be 'token' or 'patch', got '${String(mode)}'`);
    if (modality !== 'timeseries' && modality !== 'imu') throw new ArgumentError(`${op}: modality must be 'timeseries' or 'imu', got '${String(modality)}'`);
    this.dim = dim;
    this.channels = channels;
    this.mode = mode;
    this.modality = modality;
    this.patchLen = patchLen;
    this.stride = stride;
    this.timeFeatures = features;
    if (mode === 'token') {
      requireInt(op, 'maxLen', maxLen);
      if (features !== 0 && !FREQ_BY_FEATURE_COUNT.has(features))
        throw new ArgumentError(`${op}: timeFeatures must be 0 or 1-6 (Informer's counts per frequency), got ${features}`);
      this.numPatches = 0;
      this.value_embedding = new TokenEmbedding(channels, dim, generator);
      this.position_embedding = new PositionalEmbedding(dim, maxLen);
      if (features > 0) this.temporal_embedding = new TimeFeatureEmbedding(features, dim, generator);
    } else {
      requireInt(op, 'patchLen', patchLen);
      requireInt(op, 'stride', stride);
      if (seqLen === undefined) throw new ArgumentError(`${op}: patch mode needs seqLen (the series length) to size its positions`);
      requireInt(op, 'seqLen', seqLen, patchLen);
      if (features !== 0) throw new ArgumentError(`${op}: timeFeatures are used in token mode only`);
      this.numPatches = Math.floor((seqLen - patchLen) / stride) + 2;
      this.W_P = new Linear(patchLen, dim, { generator });
      // PatchTST's positional init for pe='zeros', learn_pe: U(-0.02, 0.02).
      this.W_pos = init.uniform([this.numPatches, dim], -0.02, 0.02, { generator });
      this.W_pos.requiresGrad = true;
      this.channel_embed = learnedTensor([channels, dim], generator);
    }
  }

  forward(batch: readonly SeriesInput[]): TokenBatch {
    const op = 'TimeSeriesTokenizer';
    requireBatch(op, batch);
    const steps = batch[0]!.shape[0]!;
    batch.forEach((s, i) => {
      if (s.shape.length !== 2 || s.shape[1] !== this.channels || s.shape[0] !== steps || s.data.length !== steps * this.channels)
        throw new ShapeError(`${op}: series ${i} has shape ${fmtShape(s.shape)} (${s.data.length} values), expected ${fmtShape([steps, this.channels])} like series 0`);
    });
    return { tokens: this.mode === 'token' ? this.embedSteps(batch, steps) : this.embedPatches(batch, steps) };
  }

  private embedSteps(batch: readonly SeriesInput[], steps: number): Tensor {
    const op = 'TimeSeriesTokenizer';
    const b = batch.length;
    const pe = this.position_embedding!.pe;
    if (steps > pe.shape[1]!) throw new ShapeError(`${op}: series of ${steps} steps exceed maxLen ${pe.shape[1]}`);
    const flat = new Float32Array(b * steps * this.channels);
    batch.forEach((s, i) => flat.set(s.data, i * steps * this.channels));
    const x = raw.fromFlat(flat, [b, steps, this.channels], 'f32', op);
    const xt = raw.transpose(x, 1, 2); // Conv1d wants [B, C, T]
    const conv = this.value_embedding!.tokenConv.forward(xt); // [B, D, T]
    const values = ag.transpose(conv, 1, 2);
    const positions = raw.slice(pe, [null, { end: steps }]);
    let tokens = ag.add(values, positions);
    if (this.temporal_embedding) {
      const marks = raw.fromFlat(this.marks(batch, steps), [b, steps, this.timeFeatures], 'f32', op);
      const temporal = this.temporal_embedding.embed.forward(marks);
      const sum = ag.add(tokens, temporal);
      for (const t of [tokens, marks, temporal]) t.dispose();
      tokens = sum;
    }
    for (const t of [x, xt, conv, values, positions]) t.dispose();
    return tokens;
  }

  /** Calendar features [B * T * F] from each series' `marks` or `timestamps`. */
  private marks(batch: readonly SeriesInput[], steps: number): Float32Array {
    const f = this.timeFeatures;
    const freq = FREQ_BY_FEATURE_COUNT.get(f)!;
    const out = new Float32Array(batch.length * steps * f);
    batch.forEach((s, i) => {
      if (s.marks) {
        if (s.marks.length !== steps * f) throw new ShapeError(`TimeSeriesTokenizer: series ${i} has ${s.marks.length} time features, expected ${steps} x ${f}`);
        out.set(s.marks, i * steps * f);
      } else if (s.timestamps) {
        if (s.timestamps.length !== steps) throw new ShapeError(`TimeSeriesTokenizer: series ${i} has ${s.timestamps.length} timestamps for ${steps} steps`);
        s.timestamps.forEach((ms, t) => out.set(timeFeatures(ms, freq), (i * steps + t) * f));
      } else throw new ArgumentError(`TimeSeriesTokenizer: series ${i} has neither timestamps nor marks, and the tokenizer uses ${f} time features`);
    });
    return out;
  }

  private embedPatches(batch: readonly SeriesInput[], steps: number): Tensor {
    const op = 'TimeSeriesTokenizer';
    const [p, s, n, c] = [this.patchLen, this.stride, this.numPatches, this.channels];
    if (steps < p || Math.floor((steps - p) / s) + 2 !== n)
      throw new ShapeError(`${op}: series of ${steps} steps give ${steps < p ? 0 : Math.floor((steps - p) / s) + 2} patches; the tokenizer was made for ${n}`);
    const b = batch.length;
    // Windows [B, C, N, P] over each channel padded at the end by `stride` copies of its last value.
    const windows = new Float32Array(b * c * n * p);
    batch.forEach((series, i) => {
      for (let ch = 0; ch < c; ch++)
        for (let w = 0; w < n; w++)
          for (let k = 0; k < p; k++) {
            const t = Math.min(w * s + k, steps - 1);
            windows[((i * c + ch) * n + w) * p + k] = series.data[t * c + ch]!;
          }
    });
    const x = raw.fromFlat(windows, [b, c, n, p], 'f32', op);
    const embedded = this.W_P!.forward(x); // [B, C, N, D]
    const placed = ag.add(ag.add(embedded, this.W_pos!), ag.unsqueeze(this.channel_embed!, 1));
    const tokens = ag.reshape(placed, [b, c * n, this.dim]);
    for (const t of [x, embedded, placed]) t.dispose();
    return tokens;
  }
}

export interface SeriesCsvOptions {
  /** Value columns, in order (default: every column but the timestamp column). */
  columns?: readonly string[];
  /** Column of ISO 8601 time stamps (default: 'date' when present, else none). */
  timestampColumn?: string | null;
}

const SERIES_CSV_OPTIONS = optionKeys<SeriesCsvOptions>({ columns: true, timestampColumn: true });

/**
 * A parsed CSV table (io/csv.ts parseCsv) as one series [T, C] with its time stamps. Every value must be a
 * number and every stamp a timestamp: anything else is a FormatError naming the line and column.
 */
export function seriesFromCsv(table: CsvTable, options: SeriesCsvOptions = {}): SeriesInput & { columns: string[] } {
  expectOptions('seriesFromCsv', options, SERIES_CSV_OPTIONS);
  const stampName = options.timestampColumn === undefined ? (table.columns.includes('date') ? 'date' : null) : options.timestampColumn;
  const index = (name: string): number => {
    const i = table.columns.indexOf(name);
    if (i < 0) throw new ArgumentError(`seriesFromCsv: ${table.name} has no column '${name}' (columns: ${table.columns.join(', ')})`);
    return i;
  };
  const stampIndex = stampName === null ? -1 : index(stampName);
  const columns = options.columns ? [...options.columns] : table.columns.filter((_, i) => i !== stampIndex);
  if (columns.length === 0) throw new ArgumentError(`seriesFromCsv: ${table.name} has no value columns`);
  const valueIndex = columns.map(index);
  const data = new Float32Array(table.rows.length * columns.length);
  const timestamps: number[] = [];
  const bad = (r: number, col: number, what: string): never => {
    throw new FormatError(`${table.name}: line ${table.lines[r]}, column ${col + 1} ('${table.columns[col]}'): '${table.rows[r]![col]}' is not ${what}`);
  };
  table.rows.forEach((row, r) => {
    valueIndex.forEach((col, c) => {
      const v = isMissing(row[col]!) ? NaN : parseNumber(row[col]!);
      if (Number.isNaN(v)) bad(r, col, 'a number (missing values are not allowed in a series)');
      data[r * columns.length + c] = v;
    });
    if (stampIndex >= 0) timestamps.push(parseTimestamp(row[stampIndex]!) ?? bad(r, stampIndex, 'an ISO 8601 timestamp'));
  });
  return { shape: [table.rows.length, columns.length], data, columns, ...(stampIndex >= 0 ? { timestamps } : {}) };
}
