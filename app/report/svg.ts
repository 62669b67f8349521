/**
 * The main job's charts as standalone SVG text (no plotting dependency, no scripts, fonts from the
 * viewer): per modality the training curves of both encoders and a confusion matrix per encoder, and one
 * chart comparing the pre-trained and the random encoder across modalities.
 */
import {
  ENCODER_KINDS, dataKind, formatMetric, higherIsBetter, metricName, type EncoderKind, type JobReport, type ModalityReport,
} from './report.js';

export const ENCODER_COLORS: Record<EncoderKind, string> = { pretrained: '#d62728', random: '#7f7f7f' };
const ENCODER_LABELS: Record<EncoderKind, string> = { pretrained: 'pre-trained encoder', random: 'random encoder' };

/** Escapes text for SVG/HTML content and attribute values. */
export function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

const f1 = (v: number) => v.toFixed(1);

function svg(width: number, height: number, title: string, body: string[]): string {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
    `<title>${escapeXml(title)}</title>`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    ...body,
    '</svg>',
    '',
  ].join('\n');
}

const text = (x: number, y: number, s: string, extra = '') => `<text x="${f1(x)}" y="${f1(y)}"${extra}>${escapeXml(s)}</text>`;

/** Axis ticks: about `count` round values covering [lo, hi]. */
export function niceTicks(lo: number, hi: number, count = 4): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

const tickLabel = (v: number) => (Math.abs(v) >= 1000 || (Math.abs(v) < 0.01 && v !== 0) ? v.toPrecision(2) : String(Number(v.toPrecision(3))));

export interface Series {
  label: string;
  color: string;
  points: [number, number][];
}

/** One line panel at (x0, y0) of the given size: axes, grid, ticks and a polyline per series. */
function linePanel(x0: number, y0: number, w: number, h: number, title: string, xLabel: string, series: Series[]): string[] {
  const pts = series.flatMap((s) => s.points).filter(([, y]) => Number.isFinite(y));
  const body = [text(x0, y0 - 8, title, ' font-size="12"')];
  if (pts.length === 0) return [...body, text(x0 + w / 2, y0 + h / 2, 'no data', ' text-anchor="middle" fill="#888"')];
  const xs = pts.map(([x]) => x);
  const ys = pts.map(([, y]) => y);
  const [xMin, xMax] = [Math.min(...xs), Math.max(...xs)];
  let [yMin, yMax] = [Math.min(0, ...ys), Math.max(...ys)];
  if (yMax === yMin) yMax = yMin + 1;
  const yTicks = niceTicks(yMin, yMax);
  yMax = Math.max(yMax, yTicks[yTicks.length - 1]!);
  const px = (x: number) => x0 + (xMax === xMin ? w / 2 : ((x - xMin) / (xMax - xMin)) * w);
  const py = (y: number) => y0 + h - ((y - yMin) / (yMax - yMin)) * h;
  for (const v of yTicks) {
    body.push(`<line x1="${x0}" y1="${f1(py(v))}" x2="${x0 + w}" y2="${f1(py(v))}" stroke="#e5e5e5"/>`);
    body.push(text(x0 - 5, py(v) + 4, tickLabel(v), ' text-anchor="end"'));
  }
  for (const v of niceTicks(xMin, xMax).filter(Number.isInteger)) body.push(text(px(v), y0 + h + 14, String(v), ' text-anchor="middle"'));
  body.push(`<path d="M${x0} ${y0}V${y0 + h}H${x0 + w}" fill="none" stroke="#333"/>`);
  body.push(text(x0 + w / 2, y0 + h + 28, xLabel, ' text-anchor="middle" fill="#555"'));
  for (const s of series) {
    const ok = s.points.filter(([, y]) => Number.isFinite(y));
    if (ok.length > 1) body.push(`<polyline fill="none" stroke="${s.color}" stroke-width="2" points="${ok.map(([x, y]) => `${f1(px(x))},${f1(py(y))}`).join(' ')}"/>`);
    for (const [x, y] of ok) body.push(`<circle cx="${f1(px(x))}" cy="${f1(py(y))}" r="2.5" fill="${s.color}"/>`);
  }
  return body;
}

function legend(x: number, y: number): string[] {
  return ENCODER_KINDS.flatMap((k, i) => [
    `<rect x="${x + i * 170}" y="${y - 9}" width="12" height="12" fill="${ENCODER_COLORS[k]}"/>`,
    text(x + i * 170 + 17, y + 1, ENCODER_LABELS[k]),
  ]);
}

/** One titled line chart (the demo page's live loss curves). */
export function lineChart(title: string, xLabel: string, series: Series[]): string {
  const [w, h, left, top] = [420, 180, 55, 30];
  const legendBody = series.flatMap((s, i) => [
    `<rect x="${left + i * 170}" y="${top + h + 40}" width="12" height="12" fill="${s.color}"/>`,
    text(left + i * 170 + 17, top + h + 50, s.label),
  ]);
  return svg(left + w + 20, top + h + 60, title, [...linePanel(left, top, w, h, title, xLabel, series), ...legendBody]);
}

/** Training loss and held-out metric per epoch, both encoders on the same axes. */
export function trainingCurves(m: ModalityReport): string {
  const [w, h, left, top] = [260, 170, 55, 50];
  const series = (pick: (e: ModalityReport['runs'][EncoderKind]['history'][number]) => number | undefined): Series[] =>
    ENCODER_KINDS.map((k) => ({
      label: k,
      color: ENCODER_COLORS[k],
      points: m.runs[k].history.flatMap((e) => {
        const v = pick(e);
        return v === undefined ? [] : [[e.epoch, v] as [number, number]];
      }),
    }));
  const body = [
    text(10, 18, `${m.modality}: ${m.dataset}`, ' font-size="13" font-weight="bold"'),
    ...linePanel(left, top, w, h, 'training loss', 'epoch', series((e) => e.trainLoss)),
    ...linePanel(left * 2 + w + 10, top, w, h, `held-out ${metricName(m.task)}${higherIsBetter(m.task) ? '' : ' (lower is better)'}`, 'epoch', series((e) => e.validation)),
    ...legend(left, top + h + 52),
  ];
  return svg(left * 2 + w * 2 + 30, top + h + 64, `${m.modality} training curves`, body);
}

/** Test-split confusion matrix of one encoder's run (rows: true class, columns: predicted); null for forecasting. */
export function confusionMatrix(m: ModalityReport, kind: EncoderKind): string | null {
  const cm = m.runs[kind].confusion;
  if (!cm || cm.length === 0) return null;
  const n = cm.length;
  const cell = Math.max(18, Math.min(40, Math.floor(320 / n)));
  const names = m.classNames.length === n ? m.classNames : cm.map((_, i) => String(i));
  const labelW = Math.min(110, 12 + 6 * Math.max(...names.map((s) => s.length)));
  const [left, top] = [labelW + 24, 58 + labelW * 0.55];
  const body = [
    text(10, 18, `${m.modality}: ${ENCODER_LABELS[kind]}, ${formatMetric(m.task, m.runs[kind].metric)} accuracy`, ' font-size="13"'),
    text(left + (n * cell) / 2, 36, 'predicted', ' text-anchor="middle" fill="#555"'),
    text(12, top + (n * cell) / 2, 'true', ` text-anchor="middle" fill="#555" transform="rotate(-90 12 ${f1(top + (n * cell) / 2)})"`),
  ];
  cm.forEach((row, i) => {
    const total = row.reduce((a, b) => a + b, 0) || 1;
    body.push(text(left - 4, top + i * cell + cell / 2 + 4, names[i]!, ' text-anchor="end"'));
    row.forEach((count, j) => {
      const share = count / total;
      const x = left + j * cell;
      const y = top + i * cell;
      // Row-normalised shading: the diagonal of a good classifier is dark whatever the class sizes.
      const shade = Math.round(255 - share * 200);
      const fill = i === j ? `rgb(${shade},${shade},255)` : `rgb(255,${shade},${shade})`;
      body.push(`<rect x="${x}" y="${f1(y)}" width="${cell}" height="${cell}" fill="${fill}" stroke="#fff"/>`);
      if (count > 0) body.push(text(x + cell / 2, y + cell / 2 + 4, String(count), ` text-anchor="middle"${share > 0.6 ? ' fill="white"' : ''}`));
    });
  });
  names.forEach((s, j) => {
    const x = left + j * cell + cell / 2;
    body.push(text(x, top - 6, s, ` text-anchor="start" transform="rotate(-45 ${f1(x)} ${f1(top - 6)})"`));
  });
  return svg(left + n * cell + 20, top + n * cell + 16, `${m.modality} confusion matrix (${kind})`, body);
}

/**
 * Per modality, the held-out metric of the pre-trained and the random encoder as a pair of horizontal
 * bars. Accuracy rows share a 0-100% scale; an error metric (forecasting) is scaled to the larger of the
 * pair, and its row says that lower is better.
 */
export function comparisonChart(report: JobReport): string {
  const rows = report.modalities;
  const [left, plotW, rowH, top] = [230, 360, 34, 58];
  const body = [text(10, 18, 'held-out metric per modality: pre-trained vs random frozen encoder', ' font-size="13"'), ...legend(10, 40)];
  rows.forEach((m, i) => {
    const y = top + i * rowH;
    const scale = higherIsBetter(m.task) ? 1 : Math.max(...ENCODER_KINDS.map((k) => m.runs[k].metric).filter(Number.isFinite), 1e-12);
    body.push(text(left - 8, y + 12, `${m.modality} (${dataKind(m.provenance)})`, ' text-anchor="end"'));
    body.push(text(left - 8, y + 25, `${metricName(m.task)}${higherIsBetter(m.task) ? '' : ', lower is better'}`, ' text-anchor="end" fill="#777" font-size="10"'));
    ENCODER_KINDS.forEach((k, j) => {
      const v = m.runs[k].metric;
      const width = Number.isFinite(v) ? Math.max(1, (Math.min(v, scale) / scale) * plotW) : 0;
      const by = y + 2 + j * 14;
      body.push(`<rect x="${left}" y="${by}" width="${f1(width)}" height="12" fill="${ENCODER_COLORS[k]}"/>`);
      body.push(text(left + width + 5, by + 10, formatMetric(m.task, v)));
    });
    body.push(`<line x1="${left}" y1="${y + rowH - 3}" x2="${left + plotW + 60}" y2="${y + rowH - 3}" stroke="#eee"/>`);
  });
  body.push(`<line x1="${left}" y1="${top - 4}" x2="${left}" y2="${top + rows.length * rowH}" stroke="#333"/>`);
  return svg(left + plotW + 80, top + rows.length * rowH + 10, 'pre-trained vs random encoder', body);
}

/** Every chart of a report, by file name (relative to the report's charts/ folder). */
export function charts(report: JobReport): Map<string, string> {
  const out = new Map<string, string>([['comparison.svg', comparisonChart(report)]]);
  for (const m of report.modalities) {
    out.set(`${m.modality}-curves.svg`, trainingCurves(m));
    for (const k of ENCODER_KINDS) {
      const cm = confusionMatrix(m, k);
      if (cm) out.set(`${m.modality}-confusion-${k}.svg`, cm);
    }
  }
  return out;
}
