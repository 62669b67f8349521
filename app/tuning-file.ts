/**
 * Tuned kernel tables as a file (`omnitensor tune --out FILE`, read back by `--tuning FILE`) and as the
 * browser demo keeps them in localStorage: both tuners' tables (engine/tuning/) with the adapter they were
 * measured on and when. Parsing checks the envelope; the tables themselves are checked row by row when
 * they are installed (setMatmulTuning / setAttentionTuning), against the device at hand.
 */
import { FormatError } from '../engine/errors.js';
import { runtime } from '../engine/runtime.js';
import { setAttentionTuning, type AttentionTuning } from '../engine/tuning/attention.js';
import { adapterName, isPlainObject } from '../engine/tuning/common.js';
import { setMatmulTuning, type MatmulTuning } from '../engine/tuning/matmul.js';

export interface SavedTuning {
  /** The adapter both tables were measured on (as the tuners name it). */
  adapter: string;
  /** ISO 8601 time of the measurement. */
  savedAt: string;
  matmul: MatmulTuning;
  attention: AttentionTuning;
}

const KEYS = ['adapter', 'savedAt', 'matmul', 'attention'];

/** The current device's adapter as the tuners name it: SavedTuning.adapter of tables measured on it. */
export function currentAdapter(): string {
  return adapterName(runtime('currentAdapter'));
}

/** Both tuners' tables, stamped now. */
export function savedTuning(matmul: MatmulTuning, attention: AttentionTuning): SavedTuning {
  return { adapter: matmul.adapter, savedAt: new Date().toISOString(), matmul, attention };
}

/** Parses saved tables from JSON text; a FormatError names `source` and what is wrong with the envelope. */
export function parseSavedTuning(text: string, source: string): SavedTuning {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new FormatError(`${source}: not JSON (${err instanceof Error ? err.message : String(err)})`);
  }
  if (!isPlainObject(value)) throw new FormatError(`${source}: expected an object { ${KEYS.join(', ')} }`);
  const unknown = Object.keys(value).find((k) => !KEYS.includes(k));
  if (unknown !== undefined) throw new FormatError(`${source}: unknown key '${unknown}' (known: ${KEYS.join(', ')})`);
  for (const key of ['adapter', 'savedAt'])
    if (typeof value[key] !== 'string') throw new FormatError(`${source}: '${key}' must be a string`);
  for (const key of ['matmul', 'attention'])
    if (!isPlainObject(value[key])) throw new FormatError(`${source}: '${key}' must be a tuning table { adapter, rows }`);
  return value as unknown as SavedTuning;
}

/** Installs both tables on the current device (an ArgumentError names the table, row and field the device refuses; then neither is installed). */
export function installSavedTuning(saved: SavedTuning): void {
  setMatmulTuning(saved.matmul);
  try {
    setAttentionTuning(saved.attention);
  } catch (err) {
    setMatmulTuning(null);
    throw err;
  }
}
