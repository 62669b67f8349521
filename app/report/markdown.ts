/**
 * report.md: a summary table (one row per modality, both encoders side by side) and a section per modality
 * with its data provenance and the charts, which live next to the report in charts/ (see svg.ts).
 */
import { ENCODER_KINDS, dataKind, formatMetric, higherIsBetter, metricName, type JobReport, type ModalityReport } from './report.js';

const cell = (s: string) => s.replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');

/** The pre-trained encoder's advantage, signed so that positive always means better. */
export function advantage(m: ModalityReport): string {
  const [p, r] = [m.runs.pretrained.metric, m.runs.random.metric];
  if (!Number.isFinite(p) || !Number.isFinite(r)) return 'n/a';
  if (higherIsBetter(m.task)) return `${p >= r ? '+' : ''}${((p - r) * 100).toFixed(1)} pts`;
  // Error metrics: relative reduction, so the figure does not depend on the target's scale.
  return r === 0 ? 'n/a' : `${p <= r ? '+' : ''}${(((r - p) / r) * 100).toFixed(1)}% lower error`;
}

const seconds = (s: number) => (s >= 100 ? s.toFixed(0) : s.toFixed(1));
const rate = (v: number) => (v >= 100 ? v.toFixed(0) : v.toPrecision(3));

/** The summary table as plain-text cells (header first), shared by the markdown and HTML writers. */
export function summaryRows(report: JobReport): string[][] {
  const header = [
    'modality', 'data', 'metric', 'pre-trained', 'random', 'advantage', 'trainable params',
    'train s (pre-trained / random)', 'examples/s (pre-trained / random)',
  ];
  return [
    header,
    ...report.modalities.map((m) => [
      m.modality,
      `${dataKind(m.provenance)}: ${m.dataset} (${m.trainExamples} train / ${m.testExamples} test)`,
      metricName(m.task),
      formatMetric(m.task, m.runs.pretrained.metric),
      formatMetric(m.task, m.runs.random.metric),
      advantage(m),
      m.runs.pretrained.trainableParameters.toLocaleString('en-US'),
      ENCODER_KINDS.map((k) => seconds(m.runs[k].seconds)).join(' / '),
      ENCODER_KINDS.map((k) => rate(m.runs[k].examplesPerSecond)).join(' / '),
    ]),
  ];
}

/** One line naming the encoder, its source and size. */
export function encoderLine(report: JobReport): string {
  const e = report.encoder;
  return `encoder: ${e.dim} wide, ${e.depth} blocks, ${e.heads} heads, ${e.parameters.toLocaleString('en-US')} parameters, frozen; pre-trained weights from ${e.source}; the random encoder has the same size, seeded initialisation`;
}

export function toMarkdown(report: JobReport): string {
  const table = summaryRows(report);
  const [header, ...rows] = table.map((r) => `| ${r.map(cell).join(' | ')} |`);
  const lines = [
    '# omnitensor: Meta-Transformer main job',
    '',
    `${report.date} · ${report.platform} · adapter: ${report.adapter} · seed ${report.seed} · total ${seconds(report.totalSeconds)} s`,
    '',
    `- ${encoderLine(report)}`,
    '- each modality trains only its tokenizer and head; metrics are on the held-out test split',
    '- accuracy: higher is better; MSE (forecasting, standardised targets): lower is better',
    '',
    header!,
    `|${table[0]!.map(() => '---').join('|')}|`,
    ...rows,
    '',
    '![pre-trained vs random encoder](charts/comparison.svg)',
    '',
  ];
  for (const m of report.modalities) {
    lines.push(`## ${m.modality}`, '', `${m.dataset} — ${m.provenance}`, '');
    lines.push(`${m.trainExamples} training / ${m.testExamples} test examples, ${m.epochs} epochs, batch ${m.batchSize}.`);
    if (m.runs.pretrained.mae !== undefined)
      lines.push(`MAE: pre-trained ${formatMetric(m.task, m.runs.pretrained.mae)}, random ${formatMetric(m.task, m.runs.random.mae ?? NaN)}.`);
    lines.push('', `![${m.modality} training curves](charts/${m.modality}-curves.svg)`);
    for (const k of ENCODER_KINDS) if (m.runs[k].confusion?.length) lines.push(`![${m.modality} confusion (${k})](charts/${m.modality}-confusion-${k}.svg)`);
    lines.push('');
  }
  return lines.join('\n');
}
