/**
 * The `omnitensor` command line (bin: cli/omnitensor.ts). Every command validates its arguments and input
 * files before touching the GPU where it can, names the file and what is wrong on bad input, and never
 * overwrites an output without --force. `runCli` is the whole program minus process exit, so tests drive it
 * with their own streams and device.
 *
 *   omnitensor info
 *   omnitensor encode --modality M [--checkpoint FILE] [--model FILE] INPUT... [--pooled|--tokens] [--format npy|json] --out FILE [--force]
 *   omnitensor train --modality M --data PATH [--target COL] [--checkpoint FILE] --out MODEL.safetensors [--epochs N] [--seed N] [--force]
 *   omnitensor predict --model FILE --data PATH [--checkpoint FILE] [--out FILE.json] [--force]
 *   omnitensor tune [--out TUNING.json] [--force]   (GEMM and attention kernels for this adapter; --tuning FILE applies them)
 *   omnitensor bench [bench arguments]   (delegates to dist/bench/run.js)
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ag from '../autograd/index.js';
import { ArgumentError, OmniError } from '../engine/errors.js';
import { Generator } from '../engine/random.js';
import { readText, writeBytes } from '../engine/platform.js';
import { init, type DeviceInfo } from '../engine/runtime.js';
import { tuneAttention } from '../engine/tuning/attention.js';
import { tuneMatmul } from '../engine/tuning/matmul.js';
import { attentionTimed, matmulTimed, summaryLines } from '../bench/report/tuning.js';
import { currentAdapter, installSavedTuning, parseSavedTuning, savedTuning, type SavedTuning } from '../app/tuning-file.js';
import { UsageError, parseFlags, parseModality, required } from '../app/args.js';
import { loadEncoder, SHIPPED_ENCODER, PRETRAIN_HINT, trainModel } from '../app/job.js';
import { RECIPES, buildModel, type Recipe, type RecipeData, type TableData } from '../app/modalities.js';
import { loadModelFile, modelFileBytes, parseModelInfo } from '../app/model-file.js';
import { readSafetensors } from '../nn/checkpoint/index.js';
import { formatMetric, metricName } from '../app/report/report.js';
import { stratifiedSplit, type Modality, type Split } from '../metatransformer/data/types.js';
import { readCsvFile, type ColumnKind } from '../metatransformer/io/csv.js';
import { writeNpy } from '../metatransformer/io/npy.js';
import type { MetaTransformer } from '../metatransformer/model.js';
import { readEncoderInfo } from '../metatransformer/pretrain/checkpoint.js';
import { predict } from '../metatransformer/train.js';

export const CLI_USAGE = `usage:
  omnitensor info
  omnitensor encode --modality M [--checkpoint FILE] [--model FILE] INPUT... [--pooled|--tokens] [--format npy|json] --out FILE [--force]
  omnitensor train --modality M --data PATH [--target COL] [--column-kind COL=KIND,...] [--checkpoint FILE] --out MODEL.safetensors [--epochs N] [--seed N] [--force]
  omnitensor predict --model FILE --data PATH [--checkpoint FILE] [--out FILE.json] [--force]
  omnitensor tune [--out TUNING.json] [--force]   (times the GEMM and attention kernels on this adapter)
  omnitensor bench [GROUP...] [--quick] [...]   (the benchmark suite, dist/bench/run.js)
encode, train and predict take --tuning TUNING.json: the kernel tables \`tune\` wrote, installed before any work.
modalities: ${Object.keys(RECIPES).join(', ')}
data: CSV files for text (a text column and --target label column), tabular (--target label column) and
timeseries (--target the column to forecast); for the others a file per input (PNG/JPEG images, WAV audio,
PLY/OFF/XYZ point clouds, .npy clips and spectra, CSV IMU traces, edge-list or node-link JSON graphs);
train takes a folder with one subfolder of files per class. Tabular column kinds are inferred from the CSV;
--column-kind forces them (numeric, categorical or datetime), e.g. a free-text column as categorical.`;

export interface CliIO {
  out(text: string): void;
  err(text: string): void;
  /** Opens the GPU device (default: init()). */
  device?: () => Promise<DeviceInfo>;
}

const CLI_ROOT = fileURLToPath(new URL('../../', import.meta.url));

function existingFile(path: string, what: string): string {
  if (!existsSync(path)) throw new UsageError(`${what} ${path}: no such file`);
  if (!statSync(path).isFile()) throw new UsageError(`${what} ${path}: not a file`);
  return path;
}

/** Fails before any work when `path` exists and --force is absent. */
function checkWritable(path: string, force: boolean): void {
  if (!force && existsSync(path)) throw new UsageError(`${path} exists; pass --force to overwrite it`);
}

/** The encoder file: --checkpoint, else the shipped pre-trained encoder (with how to make it when missing). */
function checkpointPath(given: string | undefined): string {
  if (given !== undefined) return existingFile(given, '--checkpoint');
  const shipped = join(CLI_ROOT, SHIPPED_ENCODER);
  if (!existsSync(shipped)) throw new UsageError(PRETRAIN_HINT);
  return shipped;
}

/** Inputs of a table modality from one CSV file (labels when `target` is given). */
async function readTable<X>(recipe: Recipe<X>, path: string, target: string | undefined): Promise<TableData<X>> {
  return recipe.fromTable!(await readCsvFile(existingFile(path, '--data')), target);
}

/** One input per file, each decoded by the modality's reader; errors name the file. */
async function readFiles<X>(recipe: Recipe<X>, paths: readonly string[]): Promise<X[]> {
  const out: X[] = [];
  for (const p of paths) {
    existingFile(p, 'input');
    try {
      out.push(await recipe.readFile!(p));
    } catch (err) {
      if (err instanceof OmniError && err.message.includes(p)) throw err;
      throw new ArgumentError(`${p}: cannot read it as ${recipe.modality} input: ${(err as Error).message}`);
    }
  }
  return out;
}

/** A training folder: one subfolder per class, each holding that class's input files. */
async function readClassFolders<X>(recipe: Recipe<X>, dir: string): Promise<TableData<X> & { targets: number[] }> {
  if (!existsSync(dir) || !statSync(dir).isDirectory())
    throw new UsageError(`--data ${dir}: expected a folder with one subfolder of ${recipe.modality} files per class`);
  const classNames = readdirSync(dir).filter((d) => !d.startsWith('.') && statSync(join(dir, d)).isDirectory()).sort();
  if (classNames.length < 2) throw new UsageError(`--data ${dir}: found ${classNames.length} class subfolder(s); training needs at least 2`);
  const inputs: X[] = [];
  const targets: number[] = [];
  for (const [c, name] of classNames.entries()) {
    const files = readdirSync(join(dir, name)).filter((f) => !f.startsWith('.')).sort().map((f) => join(dir, name, f));
    if (files.length === 0) throw new UsageError(`--data ${dir}: class folder '${name}' is empty`);
    for (const x of await readFiles(recipe, files)) {
      inputs.push(x);
      targets.push(c);
    }
  }
  return { inputs, targets, classNames, task: 'classification' };
}

/**
 * Inputs for predict/encode: a table's rows (minus the `target` column when the table has it), a folder's
 * files (recursively sorted), or the files given.
 */
async function readInputs<X>(recipe: Recipe<X>, paths: readonly string[], target?: string): Promise<{ inputs: X[]; names: string[]; columns?: string[] }> {
  if (recipe.fromTable) {
    if (paths.length !== 1) throw new UsageError(`${recipe.modality} input is one CSV file, got ${paths.length} paths`);
    // The training label column is set aside when the table has it (its values are not inputs).
    const table = await readTable(recipe, paths[0]!, target);
    return { inputs: table.inputs, names: table.inputs.map((_, i) => `${basename(paths[0]!)}#${i + 1}`), ...(table.columns ? { columns: table.columns } : {}) };
  }
  const files = paths.flatMap((p) =>
    existsSync(p) && statSync(p).isDirectory() ? readdirSync(p, { recursive: true, encoding: 'utf8' }).sort().map((f) => join(p, f)).filter((f) => statSync(f).isFile()) : [p],
  );
  if (files.length === 0) throw new UsageError('no input files');
  return { inputs: await readFiles(recipe, files), names: files };
}

function splitForTraining<X>(data: TableData<X> & { targets: number[] | Float32Array[] }, seed: number): { train: Split<X>; test: Split<X> } {
  if (data.task === 'forecasting') {
    // Time order: the last fifth of the windows is held out.
    const cut = Math.floor(data.inputs.length * 0.8);
    const targets = data.targets as Float32Array[];
    return { train: { inputs: data.inputs.slice(0, cut), targets: targets.slice(0, cut) }, test: { inputs: data.inputs.slice(cut), targets: targets.slice(cut) } };
  }
  const g = new Generator(seed);
  return stratifiedSplit(data.inputs, data.targets as number[], 0.2, () => g.uniform());
}

/** The tables of --tuning FILE, read and checked (the envelope) before any GPU work; undefined without the flag. */
async function readTuningFile(path: string | undefined): Promise<{ path: string; saved: SavedTuning } | undefined> {
  if (path === undefined) return undefined;
  return { path, saved: parseSavedTuning(await readText(existingFile(path, '--tuning'), '--tuning'), `--tuning ${path}`) };
}

/** Opens the device and installs the --tuning tables on it (a warning when they were measured on another adapter). */
async function openDevice(io: CliIO, tuning: { path: string; saved: SavedTuning } | undefined): Promise<DeviceInfo> {
  const info = await (io.device ?? init)();
  if (tuning) {
    const here = currentAdapter();
    if (tuning.saved.adapter !== here)
      io.err(`warning: --tuning ${tuning.path} was measured on '${tuning.saved.adapter}', not this adapter ('${here}'); its tables are installed anyway\n`);
    installSavedTuning(tuning.saved);
    io.out(`kernel tables from ${tuning.path} (measured ${tuning.saved.savedAt})\n`);
  }
  return info;
}

async function cmdInfo(io: CliIO): Promise<number> {
  const info = await (io.device ?? init)();
  io.out(`adapter: ${[info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(' / ')} (${info.adapterClass}, ${info.platform})\n`);
  io.out(`features: ${info.features.join(', ') || 'none'}\n`);
  const keys = ['maxBufferSize', 'maxStorageBufferBindingSize', 'maxComputeWorkgroupStorageSize', 'maxComputeInvocationsPerWorkgroup', 'maxComputeWorkgroupsPerDimension'];
  io.out(`limits: ${keys.filter((k) => k in info.limits).map((k) => `${k}=${info.limits[k]}`).join(' ')}\n`);
  const shipped = join(CLI_ROOT, SHIPPED_ENCODER);
  if (!existsSync(shipped)) io.out(`pre-trained encoder: missing (${PRETRAIN_HINT})\n`);
  else {
    const e = await readEncoderInfo(shipped);
    io.out(`pre-trained encoder: ${SHIPPED_ENCODER}: ${e.config.dim} wide, ${e.config.depth} blocks, ${e.config.heads} heads; ${e.data}; zero-shot accuracy ${(e.zeroShotAccuracy * 100).toFixed(1)}%\n`);
  }
  io.out(`modalities: ${Object.keys(RECIPES).join(', ')}\n`);
  return 0;
}

/** Runs the tokenizer and the frozen encoder without a graph: tokens [N, T, D] or mean-pooled [N, D]. */
async function encodeAll<X>(model: MetaTransformer<X>, inputs: readonly X[], pooled: boolean): Promise<{ data: Float32Array; shape: number[] }> {
  model.eval();
  // Tokens go out in one batch so every row shares one (padded) length; pooled vectors in batches of 32.
  const batch = pooled ? 32 : inputs.length;
  const parts: Float32Array[] = [];
  let shape: number[] = [];
  for (let b = 0; b < inputs.length; b += batch) {
    const out = ag.noGrad(() => {
      const { tokens, paddingMask } = model.tokenizer.forward(inputs.slice(b, b + batch));
      const encoded = model.encoder.forward(tokens, paddingMask);
      tokens.dispose();
      if (!pooled) {
        paddingMask?.dispose();
        return encoded;
      }
      // Mean over real tokens: padding rows weigh 0.
      const keep = paddingMask ? ag.sub(1, ag.cast(paddingMask, 'f32')) : ag.ones([encoded.shape[0]!, encoded.shape[1]!]);
      const w = ag.unsqueeze(keep, -1);
      const summed = ag.sum(ag.mul(encoded, w), 1);
      const mean = ag.div(summed, ag.sum(w, 1));
      return mean;
    });
    parts.push((await out.data()) as Float32Array);
    shape = [...out.shape];
    out.dispose();
  }
  const data = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  parts.reduce((at, p) => (data.set(p, at), at + p.length), 0);
  return { data, shape: [inputs.length, ...shape.slice(1)] };
}

async function cmdEncode(argv: readonly string[], io: CliIO): Promise<number> {
  const args = parseFlags(
    argv,
    { modality: 'string', checkpoint: 'string', model: 'string', pooled: 'boolean', tokens: 'boolean', format: 'string', out: 'string', force: 'boolean', seed: 'int', tuning: 'string' },
    { positionals: true },
  );
  const tuning = await readTuningFile(args.strings.get('tuning'));
  const modality = parseModality(required(args, 'modality', 'which tokenizer reads the inputs'));
  const out = required(args, 'out', 'the output file');
  if (args.booleans.has('pooled') && args.booleans.has('tokens')) throw new UsageError('--pooled and --tokens exclude each other');
  const format = args.strings.get('format') ?? (extname(out).toLowerCase() === '.json' ? 'json' : 'npy');
  if (format !== 'npy' && format !== 'json') throw new UsageError(`--format must be npy or json, got '${format}'`);
  if (args.positionals.length === 0) throw new UsageError('encode needs at least one INPUT file');
  const force = args.booleans.has('force');
  checkWritable(out, force);
  const checkpoint = checkpointPath(args.strings.get('checkpoint'));
  const modelPath = args.strings.get('model');
  if (modelPath !== undefined) existingFile(modelPath, '--model');
  return RECIPES[modality].use(async <X,>(recipe: Recipe<X>) => {
    const { inputs, columns } = await readInputs(recipe, args.positionals);
    await openDevice(io, tuning);
    const encoder = (await loadEncoder(checkpoint)).freeze();
    try {
      let model: MetaTransformer<X>;
      if (modelPath !== undefined) {
        const loaded = await loadModelFile(modelPath, modelPath, encoder);
        if (loaded.info.modality !== modality) throw new UsageError(`--model ${modelPath} is a ${loaded.info.modality} model, not ${modality}`);
        model = loaded.model as MetaTransformer<X>;
      } else {
        io.err(`note: no --model given, so the ${modality} tokenizer is freshly initialised (seed ${args.ints.get('seed') ?? 1}); train one with \`omnitensor train\` for meaningful features\n`);
        const pseudo: RecipeData<X> = {
          modality, name: 'inputs', provenance: 'user files', task: 'classification', classNames: [],
          train: { inputs, targets: inputs.map(() => 0) }, test: { inputs: [], targets: [] }, ...(columns ? { columns } : {}),
        };
        model = buildModel(recipe, encoder, recipe.configure(pseudo), args.ints.get('seed') ?? 1);
      }
      try {
        const { data, shape } = await encodeAll(model, inputs, !args.booleans.has('tokens'));
        const bytes = format === 'npy' ? writeNpy(data, shape) : JSON.stringify({ shape, data: Array.from(data) });
        await writeBytes(out, bytes, { overwrite: force });
        io.out(`wrote ${out}: [${shape.join(', ')}] ${args.booleans.has('tokens') ? 'tokens' : 'pooled features'} (${format})\n`);
      } finally {
        model.disposeParts();
      }
    } finally {
      encoder.dispose();
    }
    return 0;
  });
}

const FORCEABLE_KINDS: readonly ColumnKind[] = ['numeric', 'categorical', 'datetime'];

/** `--column-kind a=categorical,b=numeric` (the flag may repeat) as kinds by column name; tabular data only. */
function parseColumnKinds(specs: readonly string[], modality: Modality): Record<string, ColumnKind> {
  if (specs.length && modality !== 'tabular') throw new UsageError(`--column-kind applies to tabular data, not ${modality}`);
  const kinds: Record<string, ColumnKind> = Object.create(null) as Record<string, ColumnKind>;
  for (const spec of specs) {
    const at = spec.lastIndexOf('=');
    const [column, kind] = [spec.slice(0, at), spec.slice(at + 1)];
    if (at <= 0 || !(FORCEABLE_KINDS as readonly string[]).includes(kind))
      throw new UsageError(`--column-kind '${spec}': expected COLUMN=KIND with KIND one of ${FORCEABLE_KINDS.join(', ')}`);
    if (Object.hasOwn(kinds, column)) throw new UsageError(`--column-kind: column '${column}' is given twice`);
    kinds[column] = kind as ColumnKind;
  }
  return kinds;
}

async function cmdTrain(argv: readonly string[], io: CliIO): Promise<number> {
  const args = parseFlags(argv, {
    modality: 'string', data: 'string', target: 'string', 'column-kind': 'list', checkpoint: 'string', out: 'string', epochs: 'int', seed: 'int', force: 'boolean',
    tuning: 'string',
  });
  const tuning = await readTuningFile(args.strings.get('tuning'));
  const modality = parseModality(required(args, 'modality', 'the data modality'));
  const dataPath = required(args, 'data', 'the training data');
  const columnKinds = parseColumnKinds(args.lists.get('column-kind') ?? [], modality);
  const out = required(args, 'out', 'the model file to write, e.g. model.safetensors');
  const force = args.booleans.has('force');
  checkWritable(out, force);
  const epochs = args.ints.get('epochs');
  if (epochs === 0) throw new UsageError('--epochs must be at least 1');
  const seed = args.ints.get('seed') ?? 1;
  const checkpoint = checkpointPath(args.strings.get('checkpoint'));
  const target = args.strings.get('target');
  return RECIPES[modality].use(async <X,>(recipe: Recipe<X>) => {
    let data: TableData<X>;
    if (recipe.fromTable) {
      if (modality === 'tabular' && target === undefined) throw new UsageError('--target COL is required: the column holding each row\'s class');
      data = await readTable(recipe, dataPath, target);
    } else data = await readClassFolders(recipe, dataPath);
    const targets = data.targets;
    if (!targets) throw new UsageError(`--data ${dataPath}: no targets (name the label column with --target)`);
    const split = splitForTraining({ ...data, targets }, seed);
    if (split.train.inputs.length === 0 || split.test.inputs.length === 0)
      throw new UsageError(`--data ${dataPath}: ${data.inputs.length} examples are too few to hold out a validation fifth`);
    const unknown = Object.keys(columnKinds).filter((c) => !data.columns?.includes(c));
    if (unknown.length) throw new UsageError(`--column-kind: ${dataPath} has no column ${unknown.map((c) => `'${c}'`).join(', ')} (columns: ${data.columns?.join(', ')})`);
    const dataset: RecipeData<X> = {
      modality, name: basename(dataPath), provenance: `user data ${dataPath}`, task: data.task, classNames: data.classNames, ...split,
      ...(data.columns ? { columns: data.columns } : {}), columnKinds,
    };
    await openDevice(io, tuning);
    const encoder = (await loadEncoder(checkpoint)).freeze();
    try {
      const config = recipe.configure(dataset);
      const model = buildModel(recipe, encoder, config, seed);
      try {
        io.out(`training the ${modality} tokenizer and head on ${split.train.inputs.length} examples (${split.test.inputs.length} held out), encoder ${checkpoint} frozen\n`);
        const run = await trainModel(model, recipe, dataset, {
          seed, ...(epochs === undefined ? {} : { epochs }),
          onProgress: (p) => p.step === p.steps || p.step % Math.max(1, Math.floor(p.steps / 4)) === 0
            ? io.out(`  epoch ${p.epoch} step ${p.step}/${p.steps} loss ${p.loss.toFixed(4)}\n`) : undefined,
        });
        const validation: Record<string, number> = data.task === 'classification' ? { accuracy: run.metric } : { mse: run.metric, mae: run.mae! };
        io.out(`validation ${metricName(data.task)}: ${formatMetric(data.task, run.metric)}${run.mae === undefined ? '' : `, MAE ${formatMetric(data.task, run.mae)}`} (${run.seconds.toFixed(1)} s, ${run.examplesPerSecond.toFixed(0)} examples/s, ${run.trainableParameters} trainable parameters)\n`);
        const bytes = await modelFileBytes(model, {
          modality, config, task: data.task, classNames: data.classNames, encoder: checkpoint, encoderDim: encoder.dim, validation,
          ...(recipe.fromTable && target !== undefined ? { target } : {}),
        });
        await writeBytes(out, bytes, { overwrite: force });
        io.out(`wrote ${out}\n`);
      } finally {
        model.disposeParts();
      }
    } finally {
      encoder.dispose();
    }
    return 0;
  });
}

async function cmdPredict(argv: readonly string[], io: CliIO): Promise<number> {
  const args = parseFlags(argv, { model: 'string', data: 'string', checkpoint: 'string', out: 'string', force: 'boolean', tuning: 'string' });
  const tuning = await readTuningFile(args.strings.get('tuning'));
  const modelPath = existingFile(required(args, 'model', 'a model file written by `omnitensor train`'), '--model');
  const dataPath = required(args, 'data', 'the inputs to predict');
  const out = args.strings.get('out');
  const force = args.booleans.has('force');
  if (out !== undefined) checkWritable(out, force);
  await openDevice(io, tuning);
  const info = parseModelInfo((await readSafetensors(modelPath)).metadata, modelPath);
  const checkpoint = args.strings.get('checkpoint') ?? info.encoder;
  existingFile(checkpoint, `the encoder (${args.strings.has('checkpoint') ? '--checkpoint' : `recorded in ${modelPath}; pass --checkpoint`})`);
  const encoder = (await loadEncoder(checkpoint)).freeze();
  try {
    const { model } = await loadModelFile(modelPath, modelPath, encoder);
    try {
      return await RECIPES[info.modality].use(async (recipe) => {
        const csvTarget = info.target !== undefined && recipe.fromTable && (await readCsvFile(existingFile(dataPath, '--data'))).columns.includes(info.target) ? info.target : undefined;
        const { inputs, names } = await readInputs(recipe, [dataPath], csvTarget);
        const outputs = await predict(model as MetaTransformer<unknown>, inputs, { batchSize: recipe.batchSize });
        const rows = outputs.map((row, i) => {
          if (info.task === 'forecasting') return { input: names[i]!, forecast: Array.from(row) };
          const best = row.reduce((b, v, j) => (v > row[b]! ? j : b), 0);
          return { input: names[i]!, class: info.classNames[best] ?? String(best), logits: Array.from(row) };
        });
        for (const r of rows) io.out(`${r.input}\t${'class' in r ? r.class : r.forecast.map((v) => v.toFixed(3)).join(' ')}\n`);
        if (out !== undefined) {
          await writeBytes(out, JSON.stringify(rows, null, 1) + '\n', { overwrite: force });
          io.out(`wrote ${out}\n`);
        }
        return 0;
      });
    } finally {
      model.disposeParts();
    }
  } finally {
    encoder.dispose();
  }
}

/** Tunes GEMMs and attention on this adapter, prints built-in against fastest per workload, and writes the tables for --tuning. */
async function cmdTune(argv: readonly string[], io: CliIO): Promise<number> {
  const args = parseFlags(argv, { out: 'string', force: 'boolean' });
  const out = args.strings.get('out');
  const force = args.booleans.has('force');
  if (out !== undefined) checkWritable(out, force);
  await (io.device ?? init)();
  io.out(`tuning GEMMs on ${currentAdapter()}…\n`);
  const matmul = await tuneMatmul();
  for (const line of summaryLines(matmulTimed(matmul.timings))) io.out(`${line}\n`);
  io.out('tuning attention (forward + backward)…\n');
  const attention = await tuneAttention();
  for (const line of summaryLines(attentionTimed(attention.timings))) io.out(`${line}\n`);
  if (out !== undefined) {
    await writeBytes(out, JSON.stringify(savedTuning(matmul.tuning, attention.tuning), null, 1) + '\n', { overwrite: force });
    io.out(`wrote ${out}; pass --tuning ${out} to encode, train or predict\n`);
  }
  return 0;
}

async function cmdBench(argv: readonly string[], io: CliIO): Promise<number> {
  const script = join(CLI_ROOT, 'dist/bench/run.js');
  if (!existsSync(script)) throw new UsageError(`bench: ${script} is missing; the benchmark suite ships with the repository (npm run build), not the npm package`);
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [script, ...argv], { stdio: 'inherit' });
    child.on('close', (code) => resolve(code ?? 1));
    child.on('error', (err) => {
      io.err(`bench: ${err.message}\n`);
      resolve(1);
    });
  });
}

/** Runs one command; returns the exit status (2 for usage errors, 1 for failures). */
export async function runCli(argv: readonly string[], io: CliIO): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'info':
        if (rest.length) throw new UsageError(`info takes no options, got '${rest[0]}'`);
        return await cmdInfo(io);
      case 'encode': return await cmdEncode(rest, io);
      case 'train': return await cmdTrain(rest, io);
      case 'predict': return await cmdPredict(rest, io);
      case 'tune': return await cmdTune(rest, io);
      case 'bench': return await cmdBench(rest, io);
      case undefined:
        io.err(`${CLI_USAGE}\n`);
        return 2;
      case '--help': case '-h': case 'help':
        io.out(`${CLI_USAGE}\n`);
        return 0;
      default:
        throw new UsageError(`unknown command '${command}'`);
    }
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`error: ${err.message}\n${CLI_USAGE}\n`);
      return 2;
    }
    io.err(`error: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}
