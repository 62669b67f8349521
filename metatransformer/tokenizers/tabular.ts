/**
 * Tabular tokenizer (FT-Transformer style, Gorishniy et al. 2021): one token per column.
 *   numeric column j:     x_j * numerical_weight[j] + numerical_bias[j] on the standardised value, or the
 *                         learned numerical_missing[j] when the cell is missing;
 *   categorical column j: a row of `category_embeddings` (one table for all columns, each column's
 *                         vocabulary at its own offset; id 0 of each column is "missing or unseen");
 * then a learned `column_embed` row per column is added, and a CLS token goes in front.
 *
 * `fitTabularSchema` fixes the standardisation statistics and category vocabularies from training rows,
 * so test rows are encoded with the training set's numbers; categories never seen in training map to the
 * missing id. Datetime columns are treated as numeric (epoch ms, standardised); free-text columns are
 * refused (override them as categorical, or leave them out).
 */
import * as ag from '../../autograd/index.js';
import { expectOptions, optionKeys } from '../../engine/arguments.js';
import { ArgumentError, FormatError, ShapeError } from '../../engine/errors.js';
import * as raw from '../../engine/ops/index.js';
import type { Generator } from '../../engine/random.js';
import type { Tensor } from '../../engine/tensor.js';
import { Embedding } from '../../nn/index.js';
import { inferSchema, isMissing, parseNumber, parseTimestamp, type ColumnKind, type InferOptions } from '../io/csv.js';
import { Tokenizer, type TokenBatch } from '../types.js';
import { prependClsToken } from './patch.js';
import { learnedTensor, requireBatch, requireInt } from './tokens.js';

export type TabularColumn =
  | { name: string; kind: 'numeric'; mean: number; std: number; datetime?: boolean }
  | { name: string; kind: 'categorical'; categories: string[] };

export interface TabularSchema {
  columns: TabularColumn[];
}

/**
 * Column kinds (io/csv.ts inferSchema, with `overrides` by column name), standardisation statistics of
 * numeric columns (mean and population std of the present values; std 1 for a constant column) and the
 * vocabulary of categorical ones (most frequent first), all from `rows`.
 */
export function fitTabularSchema(
  rows: readonly (readonly string[])[],
  columns: readonly string[],
  overrides: Readonly<Record<string, ColumnKind>> = {},
  options: InferOptions = {},
): TabularSchema {
  rows.forEach((r, i) => {
    if (r.length !== columns.length) throw new ShapeError(`fitTabularSchema: row ${i} has ${r.length} cells for ${columns.length} columns`);
  });
  const table = { columns: [...columns], rows: rows.map((r) => [...r]), lines: rows.map((_, i) => i + 1), name: '<rows>' };
  const inferred = inferSchema(table, overrides, options);
  return {
    columns: inferred.map((col): TabularColumn => {
      if (col.kind === 'text')
        throw new ArgumentError(`fitTabularSchema: column '${col.name}' is free text; override it as 'categorical' or leave it out`);
      if (col.kind === 'categorical') return { name: col.name, kind: 'categorical', categories: (col.categories ?? []).map((c) => c.value) };
      const datetime = col.kind === 'datetime';
      const values: number[] = [];
      rows.forEach((r, i) => {
        if (!isMissing(r[col.index]!)) values.push(cellNumber(r[col.index]!, datetime, col.name, i));
      });
      const mean = values.length ? values.reduce((a, b) => a + b, 0) / values.length : 0;
      const std = values.length ? Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / values.length) : 0;
      return { name: col.name, kind: 'numeric', mean, std: std > 0 ? std : 1, ...(datetime ? { datetime } : {}) };
    }),
  };
}

function cellNumber(cell: string, datetime: boolean, column: string, row: number): number {
  const v = datetime ? parseTimestamp(cell) : parseNumber(cell);
  if (v === undefined || Number.isNaN(v))
    throw new FormatError(`row ${row}, column '${column}': '${cell}' is not a ${datetime ? 'timestamp' : 'number'}`);
  return v;
}

export interface TabularTokenizerOptions {
  dim: number;
  schema: TabularSchema;
  generator?: Generator;
}

const TABULAR_TOKENIZER_OPTIONS = optionKeys<TabularTokenizerOptions>({ dim: true, schema: true, generator: true });

export class TabularTokenizer extends Tokenizer<readonly string[]> {
  readonly modality = 'tabular' as const;
  readonly dim: number;
  readonly hasClsToken = true;
  readonly schema: TabularSchema;
  cls_token: Tensor;
  numerical_weight: Tensor | null;
  numerical_bias: Tensor | null;
  numerical_missing: Tensor | null;
  category_embeddings: Embedding | null;
  column_embed: Tensor;
  /** Position of each column among the numeric (or categorical) ones. */
  private readonly slot: number[];
  /** First id of each categorical column's vocabulary in `category_embeddings` (id = offset + 1 + index). */
  private readonly offsets: number[];
  private readonly categoryIds: Map<string, number>[];
  /** Token order: numeric tokens then categorical ones, permuted back into schema column order. */
  private readonly order: number[];

  constructor(options: TabularTokenizerOptions) {
    super();
    expectOptions('TabularTokenizer', options, TABULAR_TOKENIZER_OPTIONS);
    const { dim, schema, generator } = options;
    const op = 'TabularTokenizer';
    requireInt(op, 'dim', dim);
    if (schema.columns.length === 0) throw new ArgumentError(`${op}: the schema has no columns`);
    this.dim = dim;
    this.schema = schema;
    const numeric = schema.columns.filter((c) => c.kind === 'numeric');
    const categorical = schema.columns.filter((c): c is Extract<TabularColumn, { kind: 'categorical' }> => c.kind === 'categorical');
    this.slot = [];
    this.offsets = [];
    this.categoryIds = [];
    let vocab = 0;
    let numericSeen = 0;
    schema.columns.forEach((c) => {
      if (c.kind === 'numeric') {
        if (!Number.isFinite(c.mean) || !(c.std > 0)) throw new ArgumentError(`${op}: column '${c.name}' needs a finite mean and std > 0`);
        this.slot.push(numericSeen++);
      } else if (c.kind === 'categorical') {
        this.slot.push(this.offsets.length);
        this.offsets.push(vocab);
        this.categoryIds.push(new Map(c.categories.map((v, i) => [v, i + 1])));
        vocab += c.categories.length + 1;
      } else throw new ArgumentError(`${op}: column '${(c as { name: string }).name}' has unknown kind '${(c as { kind: string }).kind}'`);
    });
    this.order = schema.columns.map((c, i) => (c.kind === 'numeric' ? this.slot[i]! : numeric.length + this.slot[i]!));
    this.cls_token = learnedTensor([1, 1, dim], generator);
    this.numerical_weight = numeric.length ? learnedTensor([numeric.length, dim], generator, 1 / Math.sqrt(dim)) : null;
    this.numerical_bias = numeric.length ? learnedTensor([numeric.length, dim], generator, 1 / Math.sqrt(dim)) : null;
    this.numerical_missing = numeric.length ? learnedTensor([numeric.length, dim], generator) : null;
    this.category_embeddings = categorical.length ? new Embedding(vocab, dim, { generator }) : null;
    this.column_embed = learnedTensor([schema.columns.length, dim], generator);
  }

  forward(batch: readonly (readonly string[])[]): TokenBatch {
    const op = 'TabularTokenizer';
    requireBatch(op, batch);
    const cols = this.schema.columns;
    const b = batch.length;
    const numCount = this.numerical_weight?.shape[0] ?? 0;
    const catCount = this.offsets.length;
    const values = new Float32Array(b * numCount);
    const missing = new Float32Array(b * numCount);
    const ids = new Int32Array(b * catCount);
    batch.forEach((row, r) => {
      if (row.length !== cols.length)
        throw new ShapeError(`${op}: row ${r} has ${row.length} cells, the schema has ${cols.length} columns (${cols.map((c) => c.name).join(', ')})`);
      cols.forEach((c, j) => {
        const cell = row[j]!;
        const s = this.slot[j]!;
        if (c.kind === 'numeric') {
          if (isMissing(cell)) missing[r * numCount + s] = 1;
          else values[r * numCount + s] = (cellNumber(cell, c.datetime === true, c.name, r) - c.mean) / c.std;
        } else ids[r * catCount + s] = this.offsets[s]! + (isMissing(cell) ? 0 : (this.categoryIds[s]!.get(cell) ?? 0));
      });
    });
    const parts: Tensor[] = [];
    const temps: Tensor[] = [];
    if (numCount > 0) {
      const v = raw.fromFlat(values, [b, numCount, 1], 'f32', op);
      const m = raw.fromFlat(missing, [b, numCount, 1], 'f32', op);
      const present = raw.sub(1, m);
      const linear = ag.add(ag.mul(v, this.numerical_weight!), this.numerical_bias!);
      parts.push(ag.add(ag.mul(linear, present), ag.mul(m, this.numerical_missing!)));
      temps.push(v, m, present, linear);
    }
    if (catCount > 0) {
      const idTensor = raw.fromFlat(ids, [b, catCount], 'i32', op);
      parts.push(this.category_embeddings!.forward(idTensor));
      temps.push(idTensor);
    }
    const joined = parts.length === 1 ? parts[0]! : ag.concat(parts, 1);
    const ordered = ag.indexSelect(joined, 1, this.order);
    const tokens = prependClsToken(ag.add(ordered, this.column_embed), this.cls_token);
    for (const t of [...temps, ...parts, joined, ordered]) t.dispose();
    return { tokens };
  }
}
