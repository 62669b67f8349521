/**
 * Pre-trained encoder files: a safetensors file holding only the encoder blocks under the official
 * Meta-Transformer names (`{i}.norm1.weight`, `{i}.attn.qkv.weight`, ...), so
 * `MetaTransformerEncoder.fromCheckpoint` reads it like the official checkpoints, plus `__metadata__`
 * strings saying how it was made:
 *
 *   format              'omnitensor.metatransformer.encoder/1'
 *   config              JSON {dim, depth, heads, mlpRatio}  (heads cannot be read off the weights)
 *   data                what it was pre-trained on
 *   training            JSON of the recipe (batch size, lr, seed, tokenizer, ...)
 *   epochs, seconds     training length and wall time
 *   zero_shot_accuracy  held-out zero-shot accuracy of the CLIP model the encoder came from
 *   date                ISO date of the run
 */
import { expectOptions } from '../../engine/arguments.js';
import { FormatError } from '../../engine/errors.js';
import { expectBytesSource, readBytes } from '../../engine/platform.js';
import type { CheckpointSource } from '../../nn/checkpoint/index.js';
import { openSafetensors } from '../../nn/checkpoint/index.js';
import { saveSafetensors } from '../../nn/io.js';
import { MetaTransformerEncoder, type EncoderDType } from '../encoder.js';

export const ENCODER_FILE_FORMAT = 'omnitensor.metatransformer.encoder/1';

/**
 * The encoder file this package ships (metatransformer/weights/encoder-tiny.safetensors: 64 wide, 3 blocks,
 * CLIP-style pre-trained on MNIST, see the README), located from this module: `dist/metatransformer/pretrain/`
 * sits three folders below the package root. A file URL in Node; in a page that serves the package
 * unbundled, the same path over HTTP.
 */
export const SHIPPED_ENCODER_URL: URL = new URL('../../../metatransformer/weights/encoder-tiny.safetensors', import.meta.url);

export interface EncoderArchitecture {
  dim: number;
  depth: number;
  heads: number;
  mlpRatio: number;
}

export interface PretrainedEncoderInfo {
  config: EncoderArchitecture;
  data: string;
  /** The recipe, free-form (numbers and strings). */
  training: Record<string, number | string>;
  epochs: number;
  seconds: number;
  zeroShotAccuracy: number;
  date: string;
}

/** Safetensors bytes of `encoder`'s blocks (official names) with `info` as metadata. */
export async function encoderCheckpoint(encoder: MetaTransformerEncoder, info: Omit<PretrainedEncoderInfo, 'config'>): Promise<Uint8Array> {
  const config: EncoderArchitecture = { dim: encoder.dim, depth: encoder.depth, heads: encoder.heads, mlpRatio: encoder.blocks[0]!.mlp.fc1.outFeatures / encoder.dim };
  const metadata = new Map<string, string>([
    ['format', ENCODER_FILE_FORMAT],
    ['config', JSON.stringify(config)],
    ['data', info.data],
    ['training', JSON.stringify(info.training)],
    ['epochs', String(info.epochs)],
    ['seconds', String(info.seconds)],
    ['zero_shot_accuracy', String(info.zeroShotAccuracy)],
    ['date', info.date],
  ]);
  return saveSafetensors(encoder, { metadata });
}

function metadataField(metadata: ReadonlyMap<string, string>, key: string, name: string): string {
  const v = metadata.get(key);
  if (v === undefined) throw new FormatError(`loadPretrainedEncoder: ${name} has no '${key}' metadata entry`);
  return v;
}

function positiveInt(value: unknown, field: string, name: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 1 << 20)
    throw new FormatError(`loadPretrainedEncoder: ${name} metadata 'config.${field}' must be a positive integer, got ${JSON.stringify(value)}`);
  return value;
}

function parseJsonObject(text: string, key: string, name: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new FormatError(`loadPretrainedEncoder: ${name} metadata '${key}' is not JSON (${(err as Error).message})`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new FormatError(`loadPretrainedEncoder: ${name} metadata '${key}' is not a JSON object`);
  return parsed as Record<string, unknown>;
}

function parseNumber(text: string, key: string, name: string): number {
  const v = Number(text);
  if (text.trim() === '' || !Number.isFinite(v)) throw new FormatError(`loadPretrainedEncoder: ${name} metadata '${key}' is not a number: '${text.slice(0, 40)}'`);
  return v;
}

/** Reads and checks the metadata of a pre-trained encoder file (without loading its tensors). */
export async function readEncoderInfo(src: CheckpointSource): Promise<PretrainedEncoderInfo> {
  expectBytesSource('readEncoderInfo', src);
  const file = await openSafetensors(src);
  const name = 'the encoder file';
  try {
    const m = file.metadata;
    const format = metadataField(m, 'format', name);
    if (format !== ENCODER_FILE_FORMAT) throw new FormatError(`loadPretrainedEncoder: ${name} has format '${format.slice(0, 60)}', expected '${ENCODER_FILE_FORMAT}'`);
    const cfg = parseJsonObject(metadataField(m, 'config', name), 'config', name);
    if (!(typeof cfg.mlpRatio === 'number' && cfg.mlpRatio > 0 && cfg.mlpRatio < 1 << 10))
      throw new FormatError(`loadPretrainedEncoder: ${name} metadata 'config.mlpRatio' must be a positive number, got ${JSON.stringify(cfg.mlpRatio)}`);
    const config: EncoderArchitecture = {
      dim: positiveInt(cfg.dim, 'dim', name),
      depth: positiveInt(cfg.depth, 'depth', name),
      heads: positiveInt(cfg.heads, 'heads', name),
      mlpRatio: cfg.mlpRatio,
    };
    const trainingRaw = parseJsonObject(metadataField(m, 'training', name), 'training', name);
    const training: Record<string, number | string> = Object.create(null) as Record<string, number | string>;
    for (const [k, v] of Object.entries(trainingRaw)) if (typeof v === 'number' || typeof v === 'string') training[k] = v;
    return {
      config,
      data: metadataField(m, 'data', name),
      training,
      epochs: parseNumber(metadataField(m, 'epochs', name), 'epochs', name),
      seconds: parseNumber(metadataField(m, 'seconds', name), 'seconds', name),
      zeroShotAccuracy: parseNumber(metadataField(m, 'zero_shot_accuracy', name), 'zero_shot_accuracy', name),
      date: metadataField(m, 'date', name),
    };
  } finally {
    await file.close();
  }
}

/**
 * Loads a pre-trained encoder file written by `encoderCheckpoint`: the metadata supplies the head count
 * (which the weights cannot), and `MetaTransformerEncoder.fromCheckpoint` loads the blocks (strictly).
 */
export async function loadPretrainedEncoder(src: CheckpointSource, options: { dtype?: EncoderDType } = {}): Promise<{ encoder: MetaTransformerEncoder; info: PretrainedEncoderInfo }> {
  expectBytesSource('loadPretrainedEncoder', src);
  expectOptions('loadPretrainedEncoder', options, ['dtype']);
  const { dtype = 'f32' } = options;
  // A Response body can be read once and the file is opened twice (metadata, then tensors).
  const source = typeof Response !== 'undefined' && src instanceof Response ? await readBytes(src) : src;
  const info = await readEncoderInfo(source);
  const encoder = await MetaTransformerEncoder.fromCheckpoint(source, { heads: info.config.heads, dtype, prefix: '' });
  if (encoder.dim !== info.config.dim || encoder.depth !== info.config.depth) {
    const found = `${encoder.dim} wide, ${encoder.depth} deep`;
    encoder.dispose();
    throw new FormatError(`loadPretrainedEncoder: the metadata says ${info.config.dim} wide and ${info.config.depth} deep, the weights are ${found}`);
  }
  return { encoder, info };
}
