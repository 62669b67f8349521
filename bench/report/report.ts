/** The report: what one run measured, with enough context (adapter, date, methods) to compare runs. */
import type { DeviceInfo } from '../../engine/runtime.js';
import type { CaseResult, Method } from '../harness.js';

export interface BenchReport {
  tool: 'omnitensor-bench';
  date: string;
  adapter: Pick<DeviceInfo, 'vendor' | 'architecture' | 'device' | 'description' | 'adapterClass' | 'platform' | 'features'>;
  /** Runtime versions: node / user agent, and the peer libraries. */
  environment: Record<string, string>;
  options: { quick: boolean; large: boolean; groups: string[]; dawnFlags: string[]; profile?: boolean };
  methods: Record<Method, string>;
  notes: string[];
  cases: CaseResult[];
}

export const METHODS: Record<Method, string> = {
  wall:
    'wall clock over a batch of back-to-back calls plus one readback of the last result, divided by the batch size; ' +
    'identical for every engine (the ratio column uses it)',
  'gpu-timestamp':
    'ours only: GPU timestamps written before and after the same batch (timestamp-query), divided by the batch size',
};

export function toJSON(report: BenchReport): string {
  return JSON.stringify(report, null, 2) + '\n';
}
