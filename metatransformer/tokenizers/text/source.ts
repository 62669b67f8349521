/**
 * Reads vocabulary files (merges lists, vocab.json, vocab.txt) from anything `readBytes` accepts, and
 * turns them into text. Gzip is recognised by its magic bytes (1f 8b) rather than by a file name, since
 * a Blob or byte array has none, and is inflated with the web-standard `DecompressionStream`.
 * Decompression stops at `MAX_VOCAB_TEXT_BYTES` so a gzip bomb cannot exhaust memory, and the text must
 * be valid UTF-8: a vocabulary with replacement characters would silently map to the wrong ids.
 */
import { FormatError } from '../../../engine/errors.js';
import { readBytes, type BytesSource } from '../../../engine/platform.js';

/** Where a vocabulary file can come from: a path (Node), URL, Blob, Response or bytes. */
export type VocabSource = BytesSource;

/** The largest vocabulary file (after decompression) we accept; CLIP's merges list is about 1.7 MB. */
export const MAX_VOCAB_TEXT_BYTES = 256 * 1024 * 1024;

/** How error messages name a vocabulary file: its kind and, where it has one, its path or URL. */
export function describeVocabSource(src: VocabSource, what: string): string {
  return typeof src === 'string' || src instanceof URL ? `${what} ${String(src)}` : what;
}

async function gunzip(bytes: Uint8Array, name: string, maxBytes: number): Promise<Uint8Array> {
  const stream = new Blob([bytes.slice()]).stream().pipeThrough(new DecompressionStream('gzip'));
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > maxBytes) {
        await reader.cancel();
        throw new FormatError(`${name}: gzip data inflates to more than ${maxBytes} bytes`);
      }
      chunks.push(value);
    }
  } catch (err) {
    if (err instanceof FormatError) throw err;
    throw new FormatError(`${name}: corrupt gzip data (${(err as Error).message})`);
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

/**
 * Reads `src`, inflating gzip if present, and decodes it as strict UTF-8 (a leading BOM is dropped).
 * `what` names the kind of file in error messages; `maxBytes` bounds the (inflated) size.
 */
export async function readVocabText(src: VocabSource, what: string, maxBytes = MAX_VOCAB_TEXT_BYTES): Promise<string> {
  const name = describeVocabSource(src, what);
  let bytes = await readBytes(src, what);
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) bytes = await gunzip(bytes, name, maxBytes);
  if (bytes.byteLength > maxBytes) throw new FormatError(`${name}: larger than ${maxBytes} bytes`);
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new FormatError(`${name}: not valid UTF-8`);
  }
}
