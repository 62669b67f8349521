/**
 * report.html: the same content as report.md in one self-contained page — the SVG charts are inlined, so
 * the file can be mailed or opened from anywhere without its charts/ folder. No scripts.
 */
import { encoderLine, summaryRows } from './markdown.js';
import { ENCODER_KINDS, formatMetric, higherIsBetter, type JobReport } from './report.js';
import { charts, escapeXml } from './svg.js';

const STYLE = `body{font:14px system-ui,sans-serif;margin:2em;max-width:1100px;color:#222}
table{border-collapse:collapse;font-size:12px;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 7px;text-align:left}
th{background:#f3f3f3}td.better{font-weight:bold}section{margin-top:2.5em}figure{display:inline-block;margin:0.5em}
.meta{color:#555}`;

export function toHtml(report: JobReport): string {
  const svgs = charts(report);
  const [header, ...rows] = summaryRows(report);
  const table = [
    '<table>',
    `<tr>${header!.map((h) => `<th>${escapeXml(h)}</th>`).join('')}</tr>`,
    ...rows.map((cells, i) => {
      const m = report.modalities[i]!;
      // Bold the better of the two metric cells (columns 3 and 4); a tie bolds neither.
      const [p, r] = [m.runs.pretrained.metric, m.runs.random.metric];
      const pBetter = higherIsBetter(m.task) ? p > r : p < r;
      const rBetter = higherIsBetter(m.task) ? r > p : r < p;
      const better = pBetter ? 3 : rBetter ? 4 : -1;
      return `<tr>${cells.map((c, j) => `<td${j === better ? ' class="better"' : ''}>${escapeXml(c)}</td>`).join('')}</tr>`;
    }),
    '</table>',
  ];
  const sections = report.modalities.map((m) => {
    const figs = [`${m.modality}-curves.svg`, ...ENCODER_KINDS.map((k) => `${m.modality}-confusion-${k}.svg`)]
      .filter((name) => svgs.has(name))
      .map((name) => `<figure>${svgs.get(name)!}</figure>`);
    const mae = m.runs.pretrained.mae === undefined ? '' :
      `<p>MAE: pre-trained ${formatMetric(m.task, m.runs.pretrained.mae)}, random ${formatMetric(m.task, m.runs.random.mae ?? NaN)}.</p>`;
    return [
      `<section id="${escapeXml(m.modality)}">`,
      `<h2>${escapeXml(m.modality)}</h2>`,
      `<p>${escapeXml(m.dataset)} — ${escapeXml(m.provenance)}</p>`,
      `<p class="meta">${m.trainExamples} training / ${m.testExamples} test examples, ${m.epochs} epochs, batch ${m.batchSize}.</p>`,
      mae,
      ...figs,
      '</section>',
    ].join('\n');
  });
  return [
    '<!doctype html>',
    '<html lang="en"><head><meta charset="utf-8">',
    '<title>omnitensor: Meta-Transformer main job</title>',
    `<style>${STYLE}</style></head><body>`,
    '<h1>omnitensor: Meta-Transformer main job</h1>',
    `<p class="meta">${escapeXml(`${report.date} · ${report.platform} · adapter: ${report.adapter} · seed ${report.seed} · total ${report.totalSeconds.toFixed(1)} s`)}</p>`,
    `<p>${escapeXml(encoderLine(report))}. Each modality trains only its tokenizer and head; metrics are on the held-out test split (accuracy: higher is better; MSE on standardised targets: lower is better).</p>`,
    ...table,
    `<figure>${svgs.get('comparison.svg')!}</figure>`,
    ...sections,
    '</body></html>',
    '',
  ].join('\n');
}
