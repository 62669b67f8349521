/**
 * Trained-model files of the CLI (`omnitensor train` writes them, `predict` and `encode --model` read
 * them): safetensors holding the trained tokenizer (`tokenizer.*`) and head (`head.*`) — never the
 * frozen encoder, which is referenced by name — with `__metadata__` saying how to rebuild them:
 *
 *   format      'omnitensor.app.model/1'
 *   modality    one of the twelve
 *   config      JSON: the recipe configuration (vocabulary, schema, class count, ...; app/modalities.ts)
 *   task        'classification' | 'forecasting'
 *   classes     JSON array of class names
 *   encoder     the encoder checkpoint the model was trained on (path as given)
 *   encoder_dim the encoder width
 *   validation  JSON of the validation metrics at the end of training
 *   target      the label / forecast column of table data ('' when the data were files)
 */
import { FormatError } from '../engine/errors.js';
import type { Tensor } from '../engine/tensor.js';
import { MODALITIES, type Modality } from '../metatransformer/data/types.js';
import type { MetaTransformerEncoder } from '../metatransformer/encoder.js';
import type { MetaTransformer } from '../metatransformer/model.js';
import { readSafetensors, type CheckpointSource } from '../nn/checkpoint/index.js';
import { saveSafetensors, withPrefix } from '../nn/io.js';
import { RECIPES, buildModel, type ConfigValue } from './modalities.js';

export const MODEL_FILE_FORMAT = 'omnitensor.app.model/1';

export interface ModelFileInfo {
  modality: Modality;
  config: ConfigValue;
  task: 'classification' | 'forecasting';
  classNames: string[];
  encoder: string;
  encoderDim: number;
  validation: Record<string, number>;
  /** Table modalities: the column that held the labels (or the forecast values) in training. */
  target?: string;
}

/** Safetensors bytes of a trained model's tokenizer and head, with `info` as metadata. */
export async function modelFileBytes<X>(model: MetaTransformer<X>, info: ModelFileInfo): Promise<Uint8Array> {
  const state = new Map<string, Tensor>();
  for (const [k, v] of model.tokenizer.stateDict()) state.set(`tokenizer.${k}`, v);
  for (const [k, v] of model.head.stateDict()) state.set(`head.${k}`, v);
  return saveSafetensors(state, {
    metadata: new Map([
      ['format', MODEL_FILE_FORMAT],
      ['modality', info.modality],
      ['config', JSON.stringify(info.config)],
      ['task', info.task],
      ['classes', JSON.stringify(info.classNames)],
      ['encoder', info.encoder],
      ['encoder_dim', String(info.encoderDim)],
      ['validation', JSON.stringify(info.validation)],
      ['target', info.target ?? ''],
    ]),
  });
}

function json(name: string, key: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new FormatError(`${name}: metadata '${key}' is not JSON (${(err as Error).message})`);
  }
}

/** Reads and checks a model file's metadata; `name` is used in error messages. */
export function parseModelInfo(metadata: ReadonlyMap<string, string>, name: string): ModelFileInfo {
  const get = (key: string): string => {
    const v = metadata.get(key);
    if (v === undefined) throw new FormatError(`${name}: the model file has no '${key}' metadata`);
    return v;
  };
  const format = metadata.get('format');
  if (format !== MODEL_FILE_FORMAT)
    throw new FormatError(`${name}: not an omnitensor model file (format ${format === undefined ? 'missing' : `'${format.slice(0, 60)}'`}, expected '${MODEL_FILE_FORMAT}'); make one with \`omnitensor train\``);
  const modality = get('modality');
  if (!(MODALITIES as readonly string[]).includes(modality)) throw new FormatError(`${name}: unknown modality '${modality.slice(0, 40)}'`);
  const task = get('task');
  if (task !== 'classification' && task !== 'forecasting') throw new FormatError(`${name}: task must be classification or forecasting, got '${task.slice(0, 40)}'`);
  const classes = json(name, 'classes', get('classes'));
  if (!Array.isArray(classes) || !classes.every((c) => typeof c === 'string')) throw new FormatError(`${name}: metadata 'classes' must be an array of strings`);
  const encoderDim = Number(get('encoder_dim'));
  if (!Number.isSafeInteger(encoderDim) || encoderDim < 1) throw new FormatError(`${name}: metadata 'encoder_dim' must be a positive integer, got '${get('encoder_dim').slice(0, 20)}'`);
  const validation = json(name, 'validation', get('validation'));
  const metrics: Record<string, number> = Object.create(null) as Record<string, number>;
  if (typeof validation === 'object' && validation !== null)
    for (const [k, v] of Object.entries(validation)) if (typeof v === 'number') metrics[k] = v;
  return {
    modality: modality as Modality, config: json(name, 'config', get('config')) as ConfigValue, task, classNames: classes as string[],
    encoder: get('encoder'), encoderDim, validation: metrics, ...(metadata.get('target') ? { target: metadata.get('target')! } : {}),
  };
}

/**
 * Rebuilds a trained model around `encoder` from a model file: the recipe makes the tokenizer and head
 * from the stored configuration, then the stored weights are loaded strictly.
 */
export async function loadModelFile(src: CheckpointSource, name: string, encoder: MetaTransformerEncoder): Promise<{ model: MetaTransformer<unknown>; info: ModelFileInfo }> {
  const { tensors, metadata } = await readSafetensors(src);
  const info = parseModelInfo(metadata, name);
  if (info.encoderDim !== encoder.dim)
    throw new FormatError(`${name}: trained on a ${info.encoderDim}-wide encoder (${info.encoder}), but the encoder given is ${encoder.dim} wide`);
  const model = RECIPES[info.modality].use((recipe) => buildModel(recipe, encoder, info.config, 0) as MetaTransformer<unknown>);
  try {
    model.tokenizer.loadStateDict(withPrefix(tensors, 'tokenizer.'));
    model.head.loadStateDict(withPrefix(tensors, 'head.'));
  } catch (err) {
    model.disposeParts();
    throw err;
  }
  return { model, info };
}
