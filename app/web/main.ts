/**
 * The browser demo (`npm run demo:web`): train a modality's tokenizer and head on the embedded data with
 * live loss curves, encode a file of the user's own, tune the GEMM and attention kernels for the page's
 * adapter (kept in localStorage per adapter and installed on later visits), run the benchmark suite.
 * Everything runs on the page's WebGPU adapter with the same code as Node: the dev server serves the
 * repository, so the dataset loaders' /node_modules/ URLs and the shipped encoder under
 * /metatransformer/weights/ resolve as they are.
 *
 * For automation (test/app/demo.node.test.ts), `?autorun` trains at once and the page sets
 * `globalThis.__demo` to { state: 'done', report } or { state: 'error', message }.
 */
import { ENGINES } from '../../bench/harness.js';
import { tableRows } from '../../bench/report/markdown.js';
import { attentionTimed, matmulTimed, summaryRows as tuningRows } from '../../bench/report/tuning.js';
import { runSuite } from '../../bench/suite.js';
import * as ag from '../../autograd/index.js';
import { init } from '../../engine/runtime.js';
import { setAttentionTuning, tuneAttention } from '../../engine/tuning/attention.js';
import { setMatmulTuning, tuneMatmul } from '../../engine/tuning/matmul.js';
import { MODALITIES, type Modality } from '../../metatransformer/data/types.js';
import { parseCsv } from '../../metatransformer/io/csv.js';
import { PRETRAIN_HINT, SHIPPED_ENCODER, loadEncoders, runModality, type Encoders } from '../job.js';
import { currentAdapter, installSavedTuning, parseSavedTuning, savedTuning } from '../tuning-file.js';
import { RECIPES, buildModel, type Recipe } from '../modalities.js';
import { summaryRows } from '../report/markdown.js';
import { ENCODER_KINDS, type EncoderKind, type JobReport, type ModalityReport } from '../report/report.js';
import { ENCODER_COLORS, comparisonChart, confusionMatrix, lineChart, trainingCurves } from '../report/svg.js';

type DemoState = { state: 'running' } | { state: 'done'; report: ModalityReport } | { state: 'error'; message: string };
const demo = globalThis as unknown as { __demo?: DemoState };

const params = new URLSearchParams(location.search);
const byId = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const log = (line: string) => {
  const el = byId('log');
  el.textContent += `${line}\n`;
  el.scrollTop = el.scrollHeight;
};
const checkpointUrl = params.get('checkpoint') ?? `/${SHIPPED_ENCODER}`;
const seed = Number(params.get('seed') ?? 1);

let encoders: Promise<Encoders> | null = null;

/** The pre-trained encoder (fetched once) and its random twin. */
function getEncoders(): Promise<Encoders> {
  encoders ??= (async () => {
    const head = await fetch(checkpointUrl, { method: 'HEAD' });
    if (!head.ok) throw new Error(checkpointUrl === `/${SHIPPED_ENCODER}` ? PRETRAIN_HINT : `${checkpointUrl}: HTTP ${head.status}`);
    log(`loading the encoder from ${checkpointUrl}`);
    return loadEncoders(checkpointUrl, checkpointUrl, seed);
  })();
  encoders.catch(() => (encoders = null));
  return encoders;
}

function table(rows: string[][]): HTMLTableElement {
  const t = document.createElement('table');
  rows.forEach((cells, i) => {
    const tr = t.insertRow();
    for (const c of cells) {
      const td = document.createElement(i === 0 ? 'th' : 'td');
      td.textContent = c;
      tr.appendChild(td);
    }
  });
  return t;
}

/** Parses our own SVG text into a node (no scripts in it: every label is escaped by svg.ts). */
function svgNode(text: string): Element {
  return new DOMParser().parseFromString(text, 'image/svg+xml').documentElement;
}

async function train(): Promise<void> {
  const modality = byId<HTMLSelectElement>('modality').value as Modality;
  const epochsParam = params.get('epochs');
  const button = byId<HTMLButtonElement>('train');
  button.disabled = true;
  demo.__demo = { state: 'running' };
  const losses: Record<EncoderKind, [number, number][]> = { pretrained: [], random: [] };
  let lastDraw = 0;
  const draw = () => {
    byId('live').replaceChildren(svgNode(lineChart(`${modality}: training loss per step`, 'step',
      ENCODER_KINDS.map((k) => ({ label: `${k} encoder`, color: ENCODER_COLORS[k], points: losses[k] })))));
  };
  try {
    const enc = await getEncoders();
    byId('status').textContent = `training ${modality}…`;
    const report = await runModality(modality, enc, { seed, ...(epochsParam ? { epochs: Number(epochsParam) } : {}) }, {
      onModalityStart: (_m, d) => log(`${modality}: ${d.dataset} (${d.train} train / ${d.test} test), ${d.provenance}`),
      onProgress: (_m, k, p) => {
        losses[k].push([p.step, p.loss]);
        byId('status').textContent = `${k} encoder: epoch ${p.epoch}, step ${p.step}/${p.steps}, loss ${p.loss.toFixed(3)}, ${p.examplesPerSecond.toFixed(0)} examples/s`;
        if (performance.now() - lastDraw > 250 || p.step === p.steps) {
          lastDraw = performance.now();
          draw();
        }
      },
      onRunDone: (_m, k, r) => log(`${k} encoder: held-out ${r.confusion ? 'accuracy' : 'MSE'} ${r.metric.toFixed(3)} in ${r.seconds.toFixed(1)} s`),
    });
    draw();
    const job: JobReport = {
      tool: 'omnitensor-main-job', date: new Date().toISOString(), platform: navigator.userAgent, adapter: byId('adapter').textContent ?? '',
      encoder: enc.summary, seed, modalities: [report], totalSeconds: 0,
    };
    byId('results').replaceChildren(table(summaryRows(job)));
    byId('charts').replaceChildren(
      ...[trainingCurves(report), comparisonChart(job), ...ENCODER_KINDS.map((k) => confusionMatrix(report, k))]
        .filter((s): s is string => s !== null)
        .map(svgNode),
    );
    byId('status').textContent = 'done';
    demo.__demo = { state: 'done', report };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    byId('status').textContent = `error: ${message}`;
    log(`error: ${message}`);
    demo.__demo = { state: 'error', message };
  } finally {
    button.disabled = false;
  }
}

/**
 * Runs the selected modality's tokenizer (fresh, seeded: the trained ones live only inside a training
 * run) and the frozen pre-trained encoder on the chosen file, and shows the pooled feature vector.
 */
async function encodeFile(): Promise<void> {
  const file = byId<HTMLInputElement>('file').files?.[0];
  const out = byId('encoded');
  if (!file) {
    out.textContent = 'choose a file first';
    return;
  }
  const modality = byId<HTMLSelectElement>('modality').value as Modality;
  try {
    const enc = await getEncoders();
    await RECIPES[modality].use(async <X,>(recipe: Recipe<X>) => {
      let inputs: X[];
      if (recipe.fromTable) inputs = recipe.fromTable(parseCsv(await file.text(), file.name), undefined).inputs;
      else if (recipe.readFile) inputs = [await recipe.readFile(file)];
      else throw new Error(`${modality} reads no files`);
      const data = await recipe.load(seed);
      const model = buildModel(recipe, enc.pretrained, recipe.configure(data), seed);
      try {
        model.eval();
        const pooled = ag.noGrad(() => {
          const { tokens, paddingMask } = model.tokenizer.forward(inputs.slice(0, 1));
          const encoded = model.encoder.forward(tokens, paddingMask);
          tokens.dispose();
          paddingMask?.dispose();
          const mean = ag.mean(encoded, 1);
          encoded.dispose();
          return mean;
        });
        const v = (await pooled.data()) as Float32Array;
        pooled.dispose();
        out.textContent = `${file.name} as ${modality}: ${inputs.length} input(s); encoder output of the first, mean-pooled over tokens (${v.length} values): [${Array.from(v.slice(0, 8), (x) => x.toFixed(3)).join(', ')}, …] (tokenizer freshly initialised)`;
      } finally {
        model.disposeParts();
      }
    });
  } catch (err) {
    out.textContent = `error: ${err instanceof Error ? err.message : String(err)}`;
  }
}

/** Where the page keeps the tables tuned on this browser, with the adapter they were measured on (app/tuning-file.ts). */
const TUNING_KEY = 'omnitensor-tuning';

function tuningStatus(text: string): void {
  byId('tuningStatus').textContent = text;
}

/** Installs the tables an earlier visit tuned on this adapter, if any; an entry for another adapter, or one the engine refuses, is dropped. */
function restoreTuning(): void {
  const text = localStorage.getItem(TUNING_KEY);
  if (text === null) return tuningStatus('built-in kernel choices');
  try {
    const saved = parseSavedTuning(text, 'the saved tables');
    if (saved.adapter !== currentAdapter()) throw new Error(`they were measured on '${saved.adapter}'`);
    installSavedTuning(saved);
    tuningStatus(`tuned tables in use (measured ${saved.savedAt})`);
  } catch (err) {
    localStorage.removeItem(TUNING_KEY);
    log(`tuning: dropped the saved tables (${err instanceof Error ? err.message : String(err)})`);
    tuningStatus('built-in kernel choices');
  }
}

/** Tunes GEMMs, then attention, on this adapter (a few minutes on a CPU adapter), installs and keeps the tables, and shows built-in against tuned. */
async function tune(): Promise<void> {
  const buttons = [byId<HTMLButtonElement>('tune'), byId<HTMLButtonElement>('forgetTuning')];
  for (const b of buttons) b.disabled = true;
  try {
    tuningStatus('tuning GEMMs…');
    const matmul = await tuneMatmul();
    tuningStatus('tuning attention…');
    const attention = await tuneAttention();
    const saved = savedTuning(matmul.tuning, attention.tuning);
    localStorage.setItem(TUNING_KEY, JSON.stringify(saved));
    const header = ['workload', 'built-in', 'time', 'fastest', 'time', 'built-in / fastest', 'failed its check'];
    byId('tuningTable').replaceChildren(table([header, ...tuningRows([...matmulTimed(matmul.timings), ...attentionTimed(attention.timings)])]));
    tuningStatus(`tuned tables in use (measured ${saved.savedAt})`);
  } catch (err) {
    tuningStatus(`tuning error: ${err instanceof Error ? err.message : String(err)}`);
  } finally {
    for (const b of buttons) b.disabled = false;
  }
}

function forgetTuning(): void {
  setMatmulTuning(null);
  setAttentionTuning(null);
  localStorage.removeItem(TUNING_KEY);
  byId('tuningTable').replaceChildren();
  tuningStatus('built-in kernel choices');
}

async function bench(): Promise<void> {
  const button = byId<HTMLButtonElement>('bench');
  button.disabled = true;
  try {
    const report = await runSuite({ quick: true, large: false, groups: [], engines: [...ENGINES], dawnFlags: [] }, log);
    byId('benchTable').replaceChildren(table(tableRows(report)));
  } catch (err) {
    log(`bench error: ${err instanceof Error ? err.message : String(err)}`);
  } finally {
    button.disabled = false;
  }
}

async function start(): Promise<void> {
  const select = byId<HTMLSelectElement>('modality');
  for (const m of MODALITIES) select.add(new Option(m, m, m === 'image', m === 'image'));
  const wanted = params.get('modality');
  if (wanted && (MODALITIES as readonly string[]).includes(wanted)) select.value = wanted;
  try {
    const info = await init();
    byId('adapter').textContent = `WebGPU: ${[info.vendor, info.architecture, info.description].filter(Boolean).join(' / ')} (${info.adapterClass})`;
  } catch (err) {
    byId('adapter').textContent = `WebGPU unavailable: ${err instanceof Error ? err.message : String(err)}`;
    demo.__demo = { state: 'error', message: byId('adapter').textContent ?? '' };
    return;
  }
  byId('train').addEventListener('click', () => void train());
  byId('encode').addEventListener('click', () => void encodeFile());
  byId('bench').addEventListener('click', () => void bench());
  byId('tune').addEventListener('click', () => void tune());
  byId('forgetTuning').addEventListener('click', forgetTuning);
  byId('tuningStatus').dataset.adapter = currentAdapter();
  restoreTuning();
  if (params.has('autorun')) await train();
}

void start();
