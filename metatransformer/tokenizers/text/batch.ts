/**
 * Packs per-text id sequences into the fixed [batchSize, contextLength] layout of `TokenBatch`; shared
 * by every tokenizer so truncation and padding behave identically whichever vocabulary is used.
 */
import { ArgumentError } from '../../../engine/errors.js';
import type { EncodeBatchOptions, TokenBatch } from './types.js';

export interface BatchMarkers {
  readonly start: number;
  readonly end: number;
  readonly pad: number;
}

/**
 * Encodes each text with `encode`, wraps it in the start/end markers and pads it. `who` prefixes error
 * messages (e.g. 'ClipBpeTokenizer.encodeBatch').
 */
export function packBatch(
  who: string,
  texts: readonly string[],
  encode: (text: string) => number[],
  markers: BatchMarkers,
  defaultContextLength: number,
  opts: EncodeBatchOptions,
): TokenBatch {
  const contextLength = opts.contextLength ?? defaultContextLength;
  const truncate = opts.truncate ?? true;
  if (!Number.isSafeInteger(contextLength) || contextLength < 2)
    throw new ArgumentError(`${who}: contextLength must be an integer >= 2 (room for both markers), got ${contextLength}`);
  if (!Array.isArray(texts)) throw new ArgumentError(`${who}: texts must be an array of strings`);
  const batchSize = texts.length;
  const ids = new Int32Array(batchSize * contextLength).fill(markers.pad);
  const attentionMask = new Uint8Array(batchSize * contextLength);
  const lengths = new Int32Array(batchSize);
  for (let row = 0; row < batchSize; row++) {
    const text: unknown = texts[row];
    if (typeof text !== 'string') throw new ArgumentError(`${who}: texts[${row}] is ${typeof text}, expected a string`);
    const content = encode(text);
    const total = content.length + 2;
    if (total > contextLength && !truncate)
      throw new ArgumentError(
        `${who}: text ${row} is ${total} tokens long with its markers, more than contextLength ${contextLength}; pass truncate: true to cut it`,
      );
    const kept = Math.min(content.length, contextLength - 2);
    const base = row * contextLength;
    ids[base] = markers.start;
    for (let i = 0; i < kept; i++) ids[base + 1 + i] = content[i]!;
    ids[base + 1 + kept] = markers.end;
    attentionMask.fill(1, base, base + kept + 2);
    lengths[row] = kept + 2;
  }
  return { batchSize, contextLength, ids, attentionMask, lengths };
}
