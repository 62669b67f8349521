/**
 * Helpers shared by the file readers in this folder: error construction that names the file, bounds
 * checks that run before any read or allocation, and zlib (de)compression through the web-standard
 * `DecompressionStream` / `CompressionStream` so the same code runs in Node and in browsers.
 */
import { FormatError } from '../../engine/errors.js';
import type { BytesSource } from '../../engine/platform.js';

/** Anything `readBytes` accepts: a path (Node), URL, Blob, Response or bytes. */
export type FileSource = BytesSource;

/** A name for error messages: the path or URL when there is one. */
export function sourceName(src: FileSource): string {
  if (typeof src === 'string') return src;
  if (src instanceof URL) return src.href;
  if (typeof Response !== 'undefined' && src instanceof Response) return src.url || '<response>';
  if (typeof Blob !== 'undefined' && src instanceof Blob) return '<blob>';
  return '<bytes>';
}

/** Throws a FormatError whose message starts with the file name. `offset` is a byte offset. */
export function fail(name: string, message: string, offset?: number): never {
  throw new FormatError(`${name}: ${message}`, offset);
}

/** Throws a FormatError for text formats, naming the (1-based) line instead of a byte offset. */
export function failAtLine(name: string, line: number, message: string): never {
  throw new FormatError(`${name}: line ${line}: ${message}`);
}

/** Throws unless `length` bytes starting at `offset` lie inside `bytes`; `what` names the field. */
export function need(bytes: Uint8Array, offset: number, length: number, name: string, what: string): void {
  if (offset + length > bytes.length)
    fail(name, `${what} needs ${length} bytes but the file ends after ${Math.max(0, bytes.length - offset)}`, offset);
}

/** A DataView over exactly the bytes of `bytes` (which may be a view into a larger buffer). */
export function viewOf(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** The four bytes at `offset` as ASCII (chunk ids, magic numbers). */
export function fourCC(bytes: Uint8Array, offset: number): string {
  return String.fromCharCode(bytes[offset]!, bytes[offset + 1]!, bytes[offset + 2]!, bytes[offset + 3]!);
}

/** Streams accept only ArrayBuffer-backed views (not SharedArrayBuffer); copy in the rare other case. */
function toArrayBacked(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return bytes.buffer instanceof ArrayBuffer ? (bytes as Uint8Array<ArrayBuffer>) : new Uint8Array(bytes);
}

async function pump(
  stream: { writable: WritableStream<BufferSource>; readable: ReadableStream<Uint8Array> },
  input: Uint8Array<ArrayBuffer>,
  maxOutput: number,
): Promise<{ bytes: Uint8Array; overflow: boolean }> {
  const writer = stream.writable.getWriter();
  // Errors surface on the reader below; this catch only keeps a rejected write from going unhandled.
  writer.write(input).then(() => writer.close()).catch(() => {});
  const reader = stream.readable.getReader();
  const parts: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.length;
    if (total > maxOutput) {
      await reader.cancel().catch(() => {});
      return { bytes: new Uint8Array(0), overflow: true };
    }
    parts.push(value);
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return { bytes: out, overflow: false };
}

/**
 * Inflates a zlib stream. Stops as soon as the output would exceed `maxOutput` (a decompression bomb
 * cannot make us allocate more than the header promised). `what` and `offset` locate the data in
 * messages. The caller checks that the length it got is the length it expected.
 */
export async function inflate(data: Uint8Array, maxOutput: number, name: string, what: string, offset: number): Promise<Uint8Array> {
  let result: { bytes: Uint8Array; overflow: boolean };
  try {
    result = await pump(new DecompressionStream('deflate'), toArrayBacked(data), maxOutput);
  } catch (err) {
    fail(name, `${what}: corrupt zlib data (${(err as Error).message})`, offset);
  }
  if (result.overflow) fail(name, `${what}: inflates to more than the ${maxOutput} bytes the header allows`, offset);
  return result.bytes;
}

/** Compresses bytes into a zlib stream. */
export async function deflate(data: Uint8Array): Promise<Uint8Array> {
  return (await pump(new CompressionStream('deflate'), toArrayBacked(data), Infinity)).bytes;
}
