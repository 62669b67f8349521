import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseModelInfo } from '../../app/model-file.js';
import { runCli } from '../../cli/cli.js';
import { readSafetensors } from '../../nn/checkpoint/index.js';
import { Generator } from '../../engine/random.js';
import { MetaTransformerEncoder } from '../../metatransformer/encoder.js';
import { encodePng } from '../../metatransformer/io/png.js';
import { readNpy } from '../../metatransformer/io/npy.js';
import { encoderCheckpoint } from '../../metatransformer/pretrain/checkpoint.js';
import { parseSavedTuning } from '../../app/tuning-file.js';
import { attentionTuning, matmulTuning, setAttentionTuning, setMatmulTuning } from '../../engine/index.js';
import { testDevice } from '../helpers.js';

const t = suite('app: omnitensor CLI');
const dir = mkdtempSync(join(tmpdir(), 'omni-cli-'));
const encoderFile = join(dir, 'tiny.safetensors');

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const r = { code: 0, out: '', err: '' };
  r.code = await runCli(argv, { out: (s) => void (r.out += s), err: (s) => void (r.err += s), device: testDevice });
  return r;
}

async function expectUsage(argv: string[], re: RegExp): Promise<void> {
  const r = await cli(...argv);
  assert.is(r.code, 2, `${argv.join(' ')}: exit 2 (${r.err})`);
  assert.match(r.err, re, argv.join(' '));
  assert.ok(r.err.includes('usage:'), 'usage printed');
}

t.before(async () => {
  await testDevice();
  const encoder = new MetaTransformerEncoder({ dim: 16, depth: 1, heads: 2, generator: new Generator(2) });
  writeFileSync(encoderFile, await encoderCheckpoint(encoder, { data: 'test', training: {}, epochs: 0, seconds: 0, zeroShotAccuracy: 0, date: 'today' }));
  encoder.dispose();
  // A small separable table: class a has low x, class b high x.
  const rows = Array.from({ length: 40 }, (_, i) => `${i % 2 ? 10 + i : i},${i % 3},${i % 2 ? 'b' : 'a'}`);
  writeFileSync(join(dir, 'rows.csv'), `x,y,kind\n${rows.join('\n')}\n`);
  // A table with a free-text column: every value distinct, more than the 32 categories inference allows.
  const notes = Array.from({ length: 80 }, (_, i) => `${i % 2 ? 10 + i : i},remark number ${i},${i % 2 ? 'b' : 'a'}`);
  writeFileSync(join(dir, 'notes.csv'), `x,note,kind\n${notes.join('\n')}\n`);
  // Image class folders with 3 PNGs each.
  for (const [c, value] of [['dark', 20], ['light', 230]] as const) {
    mkdirSync(join(dir, 'images', c), { recursive: true });
    for (let i = 0; i < 3; i++)
      writeFileSync(join(dir, 'images', c, `${i}.png`), await encodePng({ width: 8, height: 8, channels: 1, bitDepth: 8, data: new Uint8Array(64).fill(value + i) }));
  }
  writeFileSync(join(dir, 'broken.png'), 'not a png');
});

t.after(() => rmSync(dir, { recursive: true, force: true }));

t('usage errors name the argument and exit 2', async () => {
  await expectUsage([], /^usage:|/);
  await expectUsage(['fly'], /unknown command 'fly'/);
  await expectUsage(['encode', '--out', join(dir, 'x.npy'), 'a.png'], /--modality is required/);
  await expectUsage(['encode', '--modality', 'smell', '--out', 'x.npy', 'a.png'], /unknown modality 'smell'/);
  await expectUsage(['encode', '--modality', 'image', '--out', join(dir, 'x.npy')], /at least one INPUT/);
  await expectUsage(['encode', '--modality', 'image', '--pooled', '--tokens', '--out', 'x.npy', 'a.png'], /exclude each other/);
  await expectUsage(['encode', '--modality', 'image', '--format', 'csv', '--out', 'x.npy', 'a.png'], /--format must be npy or json/);
  await expectUsage(['encode', '--modality', 'image', '--checkpoint', join(dir, 'none.pth'), '--out', join(dir, 'x.npy'), 'a.png'], /--checkpoint .*none.pth: no such file/);
  await expectUsage(['train', '--modality', 'tabular', '--data', join(dir, 'rows.csv'), '--checkpoint', encoderFile], /--out is required/);
  await expectUsage(['train', '--modality', 'tabular', '--data', join(dir, 'rows.csv'), '--checkpoint', encoderFile, '--out', join(dir, 'm.st')], /--target COL is required/);
  await expectUsage(['train', '--modality', 'image', '--data', join(dir, 'rows.csv'), '--checkpoint', encoderFile, '--out', join(dir, 'm.st')], /rows.csv: expected a folder with one subfolder of image files per class/);
  await expectUsage(['train', '--modality', 'tabular', '--data', join(dir, 'rows.csv'), '--checkpoint', encoderFile, '--out', encoderFile, '--target', 'kind'], /tiny.safetensors exists; pass --force/);
  await expectUsage(['train', '--modality', 'tabular', '--data', join(dir, 'nope.csv'), '--target', 'kind', '--checkpoint', encoderFile, '--out', join(dir, 'm.st')], /--data .*nope.csv: no such file/);
  await expectUsage(['predict', '--data', 'x.csv'], /--model is required/);
  await expectUsage(['predict', '--model', join(dir, 'missing.st'), '--data', 'x.csv'], /--model .*missing.st: no such file/);
});

t('input errors name the file and what is wrong (exit 1)', async () => {
  const bad = await cli('encode', '--modality', 'image', '--checkpoint', encoderFile, '--out', join(dir, 'bad.npy'), join(dir, 'broken.png'));
  assert.is(bad.code, 1);
  assert.match(bad.err, /broken.png/);
  assert.not.ok(existsSync(join(dir, 'bad.npy')));
  const label = await cli('train', '--modality', 'tabular', '--data', join(dir, 'rows.csv'), '--target', 'species', '--checkpoint', encoderFile, '--out', join(dir, 'm.st'));
  assert.is(label.code, 1);
  assert.match(label.err, /rows.csv: no column 'species'/);
  const notModel = await cli('predict', '--model', encoderFile, '--data', join(dir, 'rows.csv'));
  assert.is(notModel.code, 1);
  assert.match(notModel.err, /tiny.safetensors: not an omnitensor model file/);
});

t('train writes a model with validation metrics; predict reads it back; nothing overwritten without --force', async () => {
  const model = join(dir, 'penguin.safetensors');
  const r = await cli('train', '--modality', 'tabular', '--data', join(dir, 'rows.csv'), '--target', 'kind', '--checkpoint', encoderFile, '--out', model, '--epochs', '2');
  assert.is(r.code, 0, r.err);
  assert.match(r.out, /validation accuracy: \d+\.\d%/);
  assert.ok(existsSync(model));
  const again = await cli('train', '--modality', 'tabular', '--data', join(dir, 'rows.csv'), '--target', 'kind', '--checkpoint', encoderFile, '--out', model, '--epochs', '1');
  assert.is(again.code, 2);
  const p = await cli('predict', '--model', model, '--data', join(dir, 'rows.csv'), '--out', join(dir, 'pred.json'));
  assert.is(p.code, 0, p.err);
  const rows = JSON.parse(readFileSync(join(dir, 'pred.json'), 'utf8')) as { input: string; class: string }[];
  assert.is(rows.length, 40);
  assert.ok(rows.every((row) => row.class === 'a' || row.class === 'b'));
  assert.is(rows[0]!.input, 'rows.csv#1');
});

t('--column-kind forces tabular column kinds; a free-text column is refused until it is forced', async () => {
  const data = join(dir, 'notes.csv');
  const base = ['train', '--modality', 'tabular', '--data', data, '--target', 'kind', '--checkpoint', encoderFile, '--epochs', '1'];
  const refused = await cli(...base, '--out', join(dir, 'notes.st'));
  assert.is(refused.code, 1);
  assert.match(refused.err, /column 'note' is free text; override it as 'categorical'/);
  await expectUsage([...base, '--out', join(dir, 'n.st'), '--column-kind', 'note=words'], /--column-kind 'note=words': expected COLUMN=KIND with KIND one of numeric, categorical, datetime/);
  await expectUsage([...base, '--out', join(dir, 'n.st'), '--column-kind', 'colour=categorical'], /--column-kind: .*notes.csv has no column 'colour' \(columns: x, note\)/);
  await expectUsage([...base, '--out', join(dir, 'n.st'), '--column-kind', 'note=categorical', '--column-kind', 'note=numeric'], /column 'note' is given twice/);
  await expectUsage(['train', '--modality', 'image', '--data', join(dir, 'images'), '--checkpoint', encoderFile, '--out', join(dir, 'n.st'), '--column-kind', 'x=numeric'], /applies to tabular data, not image/);
  const model = join(dir, 'notes.st');
  const forced = await cli(...base, '--out', model, '--column-kind', 'note=categorical,x=numeric');
  assert.is(forced.code, 0, forced.err);
  const info = parseModelInfo((await readSafetensors(readFileSync(model))).metadata, model);
  const schema = (info.config as { schema: { columns: { name: string; kind: string }[] } }).schema;
  assert.equal(schema.columns.map((c) => [c.name, c.kind]), [['x', 'numeric'], ['note', 'categorical']]);
});

t('train on class folders, then encode with the trained tokenizer to npy and json', async () => {
  const model = join(dir, 'img.safetensors');
  const r = await cli('train', '--modality', 'image', '--data', join(dir, 'images'), '--checkpoint', encoderFile, '--out', model, '--epochs', '1');
  assert.is(r.code, 0, r.err);
  const pngs = ['dark/0.png', 'light/1.png'].map((f) => join(dir, 'images', f));
  const e = await cli('encode', '--modality', 'image', '--checkpoint', encoderFile, '--model', model, '--out', join(dir, 'feat.npy'), ...pngs);
  assert.is(e.code, 0, e.err);
  const npy = readNpy(readFileSync(join(dir, 'feat.npy')));
  assert.equal(npy.shape, [2, 16]);
  const tok = await cli('encode', '--modality', 'image', '--checkpoint', encoderFile, '--tokens', '--out', join(dir, 'tok.json'), ...pngs);
  assert.is(tok.code, 0, tok.err);
  assert.match(tok.err, /freshly initialised/);
  const json = JSON.parse(readFileSync(join(dir, 'tok.json'), 'utf8')) as { shape: number[]; data: number[] };
  assert.equal(json.shape, [2, 17, 16]);
  assert.is(json.data.length, 2 * 17 * 16);
  const wrong = await cli('encode', '--modality', 'audio', '--checkpoint', encoderFile, '--model', model, '--out', join(dir, 'w.npy'), pngs[0]!);
  assert.is(wrong.code, 1, 'a PNG is not audio');
  assert.match(wrong.err, /dark\/0.png/);
});

t('tune writes kernel tables that --tuning installs before any work; foreign and broken files are named', async () => {
  const tuning = join(dir, 'tuning.json');
  const r = await cli('tune', '--out', tuning);
  assert.is(r.code, 0, r.err);
  assert.match(r.out, /^tuning GEMMs on .+…$/m);
  assert.match(r.out, /^197x768x768 \+bias +built-in \S+ [\d.]+ ms/m);
  assert.match(r.out, /^attention 1x12x197x64 +built-in \S+ [\d.]+ ms/m);
  assert.match(r.out, new RegExp(`wrote ${tuning.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}; pass --tuning`));
  const saved = parseSavedTuning(readFileSync(tuning, 'utf8'), tuning);
  assert.is(saved.adapter, saved.matmul.adapter);
  await expectUsage(['tune', '--out', tuning], /exists; pass --force/);

  const model = join(dir, 'tuned-model.safetensors');
  const train = await cli('train', '--modality', 'tabular', '--data', join(dir, 'rows.csv'), '--target', 'kind', '--checkpoint', encoderFile, '--out', model, '--epochs', '1', '--tuning', tuning);
  assert.is(train.code, 0, train.err);
  assert.match(train.out, new RegExp(`^kernel tables from .*tuning\\.json \\(measured ${saved.savedAt}\\)$`, 'm'));
  assert.is(matmulTuning().source, 'installed');
  assert.equal(matmulTuning().rows, saved.matmul.rows);
  assert.equal(attentionTuning().rows, saved.attention.rows);

  // Measured on another adapter: installed, with a warning.
  const foreign = join(dir, 'foreign.json');
  writeFileSync(foreign, JSON.stringify({ ...saved, adapter: 'another adapter' }));
  const p = await cli('predict', '--model', model, '--data', join(dir, 'rows.csv'), '--tuning', foreign);
  assert.is(p.code, 0, p.err);
  assert.match(p.err, /warning: --tuning .*foreign\.json was measured on 'another adapter', not this adapter/);

  // Broken files: named, before any work (a table the device refuses: the engine's message).
  const broken = join(dir, 'broken.json');
  writeFileSync(broken, '{"adapter": 1');
  const notJson = await cli('predict', '--model', model, '--data', join(dir, 'rows.csv'), '--tuning', broken);
  assert.is(notJson.code, 1);
  assert.match(notJson.err, /--tuning .*broken\.json: not JSON/);
  writeFileSync(broken, JSON.stringify({ ...saved, extra: 1 }));
  assert.match((await cli('predict', '--model', model, '--data', join(dir, 'rows.csv'), '--tuning', broken)).err, /unknown key 'extra'/);
  writeFileSync(broken, JSON.stringify({ ...saved, matmul: { adapter: 'a', rows: [{ kernel: 'tiled', tile: { blocks: [9, 1], tk: 16 }, maxM: null }] } }));
  const refused = await cli('predict', '--model', model, '--data', join(dir, 'rows.csv'), '--tuning', broken);
  assert.is(refused.code, 1);
  assert.match(refused.err, /setMatmulTuning: rows\[0\]\.tile: blocks must be two integers in 1\.\.4/);
  await expectUsage(['predict', '--model', model, '--data', join(dir, 'rows.csv'), '--tuning', join(dir, 'none.json')], /--tuning .*none\.json: no such file/);
  setMatmulTuning(null);
  setAttentionTuning(null);
});

t('info describes the adapter and the encoder situation', async () => {
  const r = await cli('info');
  assert.is(r.code, 0, r.err);
  assert.match(r.out, /adapter: .*\((cpu|gpu), node\)/);
  assert.match(r.out, /limits: maxBufferSize=\d+/);
  assert.match(r.out, /pre-trained encoder: /);
  await expectUsage(['info', '--verbose'], /info takes no options, got '--verbose'/);
});

t.run();
