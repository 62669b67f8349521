/** The report as a markdown table: one row per engine variant, figures as median [min-max]. */
import type { Figure, Stats, VariantResult } from '../harness.js';
import { summarizeKernels } from '../../engine/profiler.js';
import type { BenchReport } from './report.js';

const cell = (s: string) => s.replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');

/** 3 significant digits, without exponent notation for the magnitudes we report. */
export function num(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  if (a >= 100) return x.toFixed(0);
  if (a >= 10) return x.toFixed(1);
  if (a >= 1) return x.toFixed(2);
  if (a === 0) return '0';
  return x.toPrecision(3);
}

const range = (s: Stats) => `${num(s.median)} [${num(s.min)}–${num(s.max)}]`;

function figureCells(f: Figure | undefined): [string, string] {
  if (!f) return ['', ''];
  return [range(f.ms), f.throughput ? `${num(f.throughput.median)} ${f.unit}` : ''];
}

const HEADER = ['case', 'shape', 'engine: variant', 'wall ms median [min–max]', 'wall throughput', 'GPU-timestamp ms', 'GPU-timestamp throughput', 'speed ours/peer'];

/** The table as plain-text cells (header first), shared by the markdown writer and the browser page. */
export function tableRows(report: BenchReport): string[][] {
  const rows = [HEADER];
  for (const c of report.cases) {
    if (c.variants.length === 0) {
      rows.push([c.name, c.shape, '—', `${c.status}: ${c.reason ?? ''}`, '', '', '', '']);
      continue;
    }
    for (const v of c.variants) rows.push(row(c.name, c.shape, v, c.ratios.find((r) => r.peer === `${v.engine} (${v.label})`)?.speedup));
  }
  return rows;
}

export function toMarkdown(report: BenchReport): string {
  const a = report.adapter;
  const [header, ...rows] = tableRows(report).map((r) => `| ${r.map(cell).join(' | ')} |`);
  const lines = [
    `# omnitensor benchmarks`,
    '',
    `${report.date} · ${a.platform} · adapter: ${[a.vendor, a.architecture, a.device, a.description].filter(Boolean).join(' / ')} (${a.adapterClass})`,
    '',
    ...Object.entries(report.methods).map(([m, text]) => `- **${m}**: ${text}`),
    '- **speed ours/peer**: peer median wall time / our median wall time (> 1: ours faster)',
    ...report.notes.map((n) => `- note: ${n}`),
    '',
    header!,
    `|${HEADER.map(() => '---').join('|')}|`,
    ...rows,
    ...kernelSection(report),
  ];
  return lines.join('\n') + '\n';
}

/** Kernels shown per profiled variant; the rest are summed into one row. */
const KERNELS_SHOWN = 5;

/** Under --profile: where each of our variants spends its GPU time, per iteration, slowest kernels first. */
function kernelSection(report: BenchReport): string[] {
  const profiled = report.cases.flatMap((c) => c.variants.filter((v) => v.kernels?.length).map((v) => ({ c, v, kernels: v.kernels! })));
  if (profiled.length === 0) return [];
  const lines = ['', '## GPU time per kernel (--profile)', '', 'One timed-size batch per variant with a timestamp pair around every dispatch; per iteration.', ''];
  lines.push('| case | variant | kernel | dispatches | GPU ms | share |', '|---|---|---|---|---|---|');
  for (const { c, v, kernels } of profiled) {
    const { top, rest, total } = summarizeKernels(kernels, KERNELS_SHOWN);
    const share = (ms: number) => `${total.ms > 0 ? num((100 * ms) / total.ms) : '0'}%`;
    const shown = top.map((k) => [k.key, num(k.dispatches), num(k.ms), share(k.ms)]);
    if (rest) shown.push([`(${rest.kernels} more)`, num(rest.dispatches), num(rest.ms), share(rest.ms)]);
    for (const [i, r] of shown.entries()) lines.push(`| ${cell(i === 0 ? c.name : '')} | ${cell(i === 0 ? v.label : '')} | ${r.map(cell).join(' | ')} |`);
  }
  return lines;
}

function row(name: string, shape: string, v: VariantResult, speedup: number | undefined): string[] {
  const who = `${v.engine}: ${v.label}${v.primary ? ' (ours)' : ''}`;
  if (v.status !== 'ok') return [name, shape, who, `${v.status}: ${v.reason ?? ''}`, '', '', '', ''];
  const [wallMs, wallTp] = figureCells(v.figures.find((f) => f.method === 'wall'));
  const [gpuMs, gpuTp] = figureCells(v.figures.find((f) => f.method === 'gpu-timestamp'));
  const note = v.reason ? ` — ${v.reason}` : '';
  return [name, shape, who + note, wallMs, wallTp, gpuMs, gpuTp, speedup === undefined ? '' : `${num(speedup)}×`];
}
