/**
 * What one run of the main job measured, as plain data: the markdown, HTML and SVG writers render it and
 * `report.json` stores it as is, so a later run (or the README) can be compared figure by figure.
 */
import type { Modality } from '../../metatransformer/data/types.js';

/** The two frozen encoders every modality is trained on top of. */
export type EncoderKind = 'pretrained' | 'random';

export const ENCODER_KINDS: readonly EncoderKind[] = ['pretrained', 'random'];

export interface EpochRecord {
  epoch: number;
  /** Mean training loss over the epoch's mini-batches. */
  trainLoss: number;
  /** The modality's held-out metric after the epoch (accuracy, or MSE for forecasting), when evaluated. */
  validation?: number;
}

export interface RunResult {
  /** Accuracy in [0, 1] (classification) or MSE on standardised targets (forecasting). */
  metric: number;
  /** Mean absolute error, forecasting only. */
  mae?: number;
  /** confusion[true][predicted] counts on the test split, classification only. */
  confusion?: number[][];
  history: EpochRecord[];
  /** Wall-clock seconds of training (evaluation excluded). */
  seconds: number;
  examplesPerSecond: number;
  /** Parameters the optimizer updated: tokenizer + head (the encoder is frozen). */
  trainableParameters: number;
}

export interface ModalityReport {
  modality: Modality;
  dataset: string;
  /** 'real: ...' or 'generated: ...', as the dataset loader states it. */
  provenance: string;
  task: 'classification' | 'forecasting';
  classNames: string[];
  trainExamples: number;
  testExamples: number;
  epochs: number;
  batchSize: number;
  runs: Record<EncoderKind, RunResult>;
}

export interface EncoderSummary {
  /** Where the pre-trained weights came from (file path or URL). */
  source: string;
  dim: number;
  depth: number;
  heads: number;
  parameters: number;
}

export interface JobReport {
  tool: 'omnitensor-main-job';
  date: string;
  /** 'node vX (Dawn)' or the browser's user agent, and the adapter description. */
  platform: string;
  adapter: string;
  encoder: EncoderSummary;
  seed: number;
  modalities: ModalityReport[];
  /** Wall-clock seconds of the whole job, loading included. */
  totalSeconds: number;
}

/** Whether a higher value of the modality's metric is better. */
export function higherIsBetter(task: ModalityReport['task']): boolean {
  return task === 'classification';
}

export function metricName(task: ModalityReport['task']): string {
  return task === 'classification' ? 'accuracy' : 'MSE';
}

/** The metric as text: accuracy as a percentage, errors with 3 significant digits, 'n/a' when not finite. */
export function formatMetric(task: ModalityReport['task'], value: number): string {
  if (!Number.isFinite(value)) return 'n/a';
  return task === 'classification' ? `${(value * 100).toFixed(1)}%` : value.toPrecision(3);
}

/** Real data, or generated (possibly from real parts), as the provenance line says. */
export function dataKind(provenance: string): 'real' | 'generated' {
  return provenance.startsWith('real:') ? 'real' : 'generated';
}

export function toJSON(report: JobReport): string {
  return JSON.stringify(report, null, 2) + '\n';
}
