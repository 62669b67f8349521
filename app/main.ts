/**
 * `npm start`: the main job in Node. Parses the command line (app/args.ts), checks the output folder and
 * the encoder file before any training (so a mistake costs seconds, not minutes), runs the job with a
 * progress bar per training run, then writes report.md, report.html, report.json and charts/*.svg.
 * Node-only: the one file of app/ that touches the file system directly.
 */
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { init, profile } from '../engine/runtime.js';
import type { Modality } from '../metatransformer/data/types.js';
import { MAIN_USAGE, UsageError, parseMainArgs, type MainOptions } from './args.js';
import { PRETRAIN_HINT, SHIPPED_ENCODER, runJob } from './job.js';
import { ProgressBar, formatDuration, type ProgressSink } from './progress.js';
import { toHtml } from './report/html.js';
import { summaryRows, toMarkdown } from './report/markdown.js';
import { formatMetric, metricName, toJSON, type EncoderKind, type JobReport } from './report/report.js';
import { kernelTable } from './report/kernels.js';
import { charts } from './report/svg.js';

/** The package root: dist/app/main.js sits two levels below it. */
const PACKAGE_ROOT = fileURLToPath(new URL('../../', import.meta.url));

const REPORT_FILES = ['report.md', 'report.html', 'report.json'];

/** Fails before training when the report would overwrite an earlier one without --force. */
function checkOutDir(out: string, force: boolean): void {
  if (force) return;
  const existing = REPORT_FILES.map((f) => join(out, f)).filter((p) => existsSync(p));
  if (existing.length) throw new UsageError(`${existing.join(', ')} already exist${existing.length === 1 ? 's' : ''}; pass --force to overwrite, or choose another --out DIR`);
}

/** The encoder file to load, or an error that says how to get one. */
function resolveCheckpoint(opts: MainOptions): string {
  if (opts.checkpoint !== undefined) {
    if (!existsSync(opts.checkpoint)) throw new UsageError(`--checkpoint ${opts.checkpoint}: no such file`);
    return opts.checkpoint;
  }
  const shipped = join(PACKAGE_ROOT, SHIPPED_ENCODER);
  if (!existsSync(shipped)) throw new UsageError(PRETRAIN_HINT);
  return shipped;
}

async function writeReport(out: string, report: JobReport, force: boolean): Promise<string[]> {
  const flag = force ? 'w' : 'wx';
  const files = new Map<string, string>([
    ['report.md', toMarkdown(report)],
    ['report.html', toHtml(report)],
    ['report.json', toJSON(report)],
    ...[...charts(report)].map(([name, svg]): [string, string] => [join('charts', name), svg]),
  ]);
  await mkdir(join(out, 'charts'), { recursive: true });
  for (const [name, text] of files) await writeFile(join(out, name), text, { flag });
  return [...files.keys()].map((f) => join(out, f));
}

async function main(): Promise<number> {
  let opts: MainOptions;
  let checkpoint: string;
  try {
    opts = parseMainArgs(process.argv.slice(2));
    checkpoint = resolveCheckpoint(opts);
    checkOutDir(opts.out, opts.force);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    console.error(`error: ${err.message}\n${MAIN_USAGE}`);
    return 2;
  }
  process.env.XDG_RUNTIME_DIR ??= '/tmp';
  const info = await init();
  const sink: ProgressSink = { write: (s) => process.stdout.write(s), isTTY: process.stdout.isTTY === true, columns: process.stdout.columns };
  console.log(`omnitensor main job: ${opts.modalities.length} modalities x 2 frozen encoders on ${info.description || info.device} (${info.adapterClass})`);
  console.log(`encoder: ${checkpoint}`);
  const bars = new Map<string, ProgressBar>();
  const labelWidth = Math.max(...opts.modalities.map((m) => m.length));
  const key = (m: Modality, k: EncoderKind) => `${m}/${k}`;
  const job = () => runJob(
    { ...opts, checkpoint, checkpointName: checkpoint.startsWith(PACKAGE_ROOT) ? checkpoint.slice(PACKAGE_ROOT.length) : checkpoint, platform: `node ${process.version} (Dawn)` },
    {
      onModalityStart: (m, d) => console.log(`\n${m}: ${d.dataset} (${d.train} train / ${d.test} test) — ${d.provenance}`),
      onProgress: (m, k, p) => {
        let bar = bars.get(key(m, k));
        if (!bar) bars.set(key(m, k), (bar = new ProgressBar(sink, `  ${m.padEnd(labelWidth)} ${k.padEnd(10)}`, p.steps)));
        bar.update(p.step, `epoch ${p.epoch} loss ${p.loss.toFixed(3)}`);
      },
      onRunDone: (m, k, r, task) =>
        bars.get(key(m, k))?.finish(`${metricName(task)} ${formatMetric(task, r.metric)}, ${r.examplesPerSecond.toFixed(0)} ex/s, ${r.trainableParameters} trainable params`),
    },
  );
  const { result: report, kernels } = opts.profile ? await profile(job) : { result: await job(), kernels: null };
  const written = await writeReport(resolve(opts.out), report, opts.force);
  if (kernels) {
    const file = join(resolve(opts.out), 'kernels.json');
    await writeFile(file, `${JSON.stringify(kernels, null, 1)}\n`, { flag: opts.force ? 'w' : 'wx' });
    console.log(`\nGPU time per kernel (--profile; all ${kernels.length} in ${file}):`);
    for (const line of kernelTable(kernels, 15)) console.log(line);
  }
  console.log('');
  for (const row of summaryRows(report)) console.log(row.slice(0, 6).join(' | '));
  console.log(`\nwrote ${written.filter((f) => !f.includes('/charts/')).join(', ')} and ${written.length - 3} charts in ${dirname(written[0]!)}`);
  console.log(`total ${formatDuration(report.totalSeconds)}`);
  return 0;
}

// Dawn keeps the event loop alive while a device exists, so leave explicitly.
main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof Error ? `error: ${err.message}` : err);
    process.exit(1);
  },
);
