/**
 * Charts drawn as plain SVG text (no plotting dependency): throughput per case for each engine within a
 * group (a line per engine over the group's cases in registry order, i.e. increasing size for GEMM), and a
 * bar chart of our speed relative to each peer on a log scale.
 */
import { ENGINES, type CaseResult, type EngineId } from '../harness.js';
import { num } from './markdown.js';
import type { BenchReport } from './report.js';

const COLORS: Record<EngineId, string> = { omnitensor: '#d62728', 'tfjs-webgpu': '#1f77b4', 'jax-js': '#2ca02c', 'onnxruntime-web': '#9467bd', 'webgpu-torch': '#ff7f0e' };
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

function svg(width: number, height: number, body: string[]): string {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    ...body,
    '</svg>',
    '',
  ].join('\n');
}

const text = (x: number, y: number, s: string, extra = '') => `<text x="${x.toFixed(1)}" y="${y.toFixed(1)}"${extra}>${esc(s)}</text>`;

/** Median wall throughput of each engine's main variant (ours: primary; peers: their first ok variant). */
function engineThroughput(c: CaseResult, engine: EngineId): number | undefined {
  const v = c.variants.find((x) => x.engine === engine && x.status === 'ok' && (engine !== 'omnitensor' || x.primary));
  return v?.figures.find((f) => f.method === 'wall')?.throughput?.median;
}

/** Throughput per engine across the cases of one group; null when no case has throughput figures. */
export function throughputChart(report: BenchReport, group: string): string | null {
  const cases = report.cases.filter((c) => c.group === group && (c.flops || c.bytes));
  const engines = ENGINES.filter((e) => cases.some((c) => engineThroughput(c, e) !== undefined));
  if (cases.length === 0 || engines.length === 0) return null;
  const unit = cases[0]!.flops ? 'GFLOP/s' : 'GB/s';
  const values = cases.flatMap((c) => engines.map((e) => engineThroughput(c, e) ?? 0));
  const top = Math.max(...values) * 1.1 || 1;
  const [left, right, topPad, bottom] = [60, 150, 30, 110];
  const plotW = Math.max(240, cases.length * 70);
  const plotH = 240;
  const x = (i: number) => left + (cases.length === 1 ? plotW / 2 : (i * plotW) / (cases.length - 1));
  const y = (v: number) => topPad + plotH - (v / top) * plotH;
  const body: string[] = [text(left, 18, `${group}: ${unit} (wall clock, median; higher is better)`, ' font-size="13"')];
  body.push(`<line x1="${left}" y1="${topPad + plotH}" x2="${left + plotW}" y2="${topPad + plotH}" stroke="#333"/>`);
  body.push(`<line x1="${left}" y1="${topPad}" x2="${left}" y2="${topPad + plotH}" stroke="#333"/>`);
  for (let k = 0; k <= 4; k++) {
    const v = (top * k) / 4;
    body.push(`<line x1="${left}" y1="${y(v).toFixed(1)}" x2="${left + plotW}" y2="${y(v).toFixed(1)}" stroke="#ddd"/>`);
    body.push(text(left - 6, y(v) + 4, num(v), ' text-anchor="end"'));
  }
  cases.forEach((c, i) =>
    body.push(text(x(i), topPad + plotH + 14, c.name, ` text-anchor="end" transform="rotate(-35 ${x(i).toFixed(1)} ${(topPad + plotH + 14).toFixed(1)})"`)),
  );
  engines.forEach((e, k) => {
    const pts = cases.map((c, i) => [i, engineThroughput(c, e)] as const).filter((p): p is readonly [number, number] => p[1] !== undefined);
    if (pts.length > 1)
      body.push(`<polyline fill="none" stroke="${COLORS[e]}" stroke-width="2" points="${pts.map(([i, v]) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(' ')}"/>`);
    for (const [i, v] of pts) body.push(`<circle cx="${x(i).toFixed(1)}" cy="${y(v).toFixed(1)}" r="3" fill="${COLORS[e]}"/>`);
    body.push(`<rect x="${left + plotW + 20}" y="${topPad + k * 18}" width="12" height="12" fill="${COLORS[e]}"/>`);
    body.push(text(left + plotW + 38, topPad + k * 18 + 10, e));
  });
  return svg(left + plotW + right, topPad + plotH + bottom, body);
}

/** One bar per (case, peer): our speed / the peer's, log scale, 1x marked. Null when there are no ratios. */
export function ratioChart(report: BenchReport): string | null {
  const bars = report.cases.flatMap((c) => c.ratios.map((r) => ({ label: `${c.name} vs ${r.peer}`, value: r.speedup, engine: r.peer.split(' ')[0] as EngineId })));
  if (bars.length === 0) return null;
  const [left, plotW, rowH, topPad] = [360, 360, 16, 40];
  const logs = bars.map((b) => Math.log10(b.value));
  const span = Math.max(1, ...logs.map((l) => Math.ceil(Math.abs(l))));
  const x = (l: number) => left + ((l + span) / (2 * span)) * plotW;
  const body: string[] = [text(10, 18, 'speed ours / peer (wall clock medians, log scale; right of 1x: ours faster)', ' font-size="13"')];
  for (let p = -span; p <= span; p++) {
    body.push(`<line x1="${x(p).toFixed(1)}" y1="${topPad - 6}" x2="${x(p).toFixed(1)}" y2="${topPad + bars.length * rowH}" stroke="${p === 0 ? '#333' : '#ddd'}"/>`);
    body.push(text(x(p), topPad - 10, `${num(10 ** p)}x`, ' text-anchor="middle"'));
  }
  bars.forEach((b, i) => {
    const yTop = topPad + i * rowH;
    const [x0, x1] = [x(0), x(logs[i]!)].sort((p, q) => p - q) as [number, number];
    body.push(text(left - 6, yTop + 11, b.label, ' text-anchor="end"'));
    body.push(`<rect x="${x0.toFixed(1)}" y="${yTop + 2}" width="${Math.max(1, x1 - x0).toFixed(1)}" height="${rowH - 4}" fill="${COLORS[b.engine] ?? '#888'}"/>`);
    body.push(text(x(span) + 6, yTop + 11, `${num(b.value)}x`));
  });
  return svg(left + plotW + 70, topPad + bars.length * rowH + 20, body);
}

/** Every chart of a report, by file name. */
export function charts(report: BenchReport): Map<string, string> {
  const out = new Map<string, string>();
  for (const group of new Set(report.cases.map((c) => c.group))) {
    const chart = throughputChart(report, group);
    if (chart) out.set(`throughput-${group}.svg`, chart);
  }
  const ratios = ratioChart(report);
  if (ratios) out.set('ratios.svg', ratios);
  return out;
}
