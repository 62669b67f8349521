/**
 * The text-side conventions of OpenAI CLIP's tokenizer, shared by the tokenizer and the BPE trainer:
 *
 * 1. Cleaning (`cleanClipText`): CLIP runs ftfy, HTML-unescapes twice, collapses whitespace and
 *    lower-cases. We do the same except ftfy (mojibake repair is out of scope; text that ftfy would
 *    change tokenizes differently) and with a basic unescape: numeric references (`&#233;`, `&#xE9;`,
 *    `;` optional) and the named `&amp; &lt; &gt; &quot; &apos; &nbsp;` (`;` required), where Python's
 *    `html.unescape` knows all HTML5 names and remaps `&#128;`-`&#159;` through windows-1252.
 *    Whitespace is what Python's `str.isspace` accepts (this includes U+001C-U+001F and U+0085 and
 *    excludes U+FEFF, unlike JavaScript's `\s`). Lone UTF-16 surrogates, which Python strings never
 *    hold, become U+FFFD as `TextEncoder` would make them.
 * 2. Pre-tokenization (`clipPreTokenize`): CLIP's regex, `<|startoftext|>`, `<|endoftext|>`, the English
 *    contractions, runs of letters, single digits, runs of anything else that is not whitespace. Since
 *    the special markers match first, typing them in a text yields the marker ids, as in CLIP.
 * 3. Byte-level symbols (`BYTE_TO_SYMBOL`): each pre-token is taken as UTF-8 bytes and every byte is
 *    written as one printable character, so BPE works on visible strings and every text is encodable.
 *    Printable Latin-1 bytes (! to ~, ¡ to ¬, ® to ÿ) stand for themselves; the other 68 bytes, in
 *    increasing order, take U+0100 onwards (space becomes U+0120 'Ġ'). CLIP's base vocabulary lists
 *    the symbols in exactly this order: the printable ones first, then the remapped ones.
 */

export const START_OF_TEXT = '<|startoftext|>';
export const END_OF_TEXT = '<|endoftext|>';
/** Marks the last symbol of a word in CLIP's merges and vocabulary. */
export const END_OF_WORD = '</w>';

function buildByteSymbols(): { bytesInVocabOrder: number[]; symbolOfByte: string[] } {
  const printable: number[] = [];
  for (let b = 0; b < 256; b++) if ((b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff)) printable.push(b);
  const isPrintable = new Set(printable);
  const symbolOfByte = new Array<string>(256);
  const bytesInVocabOrder = [...printable];
  for (const b of printable) symbolOfByte[b] = String.fromCharCode(b);
  let next = 0x100;
  for (let b = 0; b < 256; b++) {
    if (isPrintable.has(b)) continue;
    symbolOfByte[b] = String.fromCharCode(next++);
    bytesInVocabOrder.push(b);
  }
  return { bytesInVocabOrder, symbolOfByte };
}

const byteSymbols = buildByteSymbols();
/** The one-character symbol standing for each byte value. */
export const BYTE_TO_SYMBOL: readonly string[] = byteSymbols.symbolOfByte;
/** The 256 byte symbols in CLIP's vocabulary order (ids 0-255; the same with `</w>` are 256-511). */
export const BYTE_SYMBOLS_IN_VOCAB_ORDER: readonly string[] = byteSymbols.bytesInVocabOrder.map((b) => byteSymbols.symbolOfByte[b]!);
/** Inverse of `BYTE_TO_SYMBOL`, keyed by the symbol's UTF-16 code unit. */
export const SYMBOL_TO_BYTE: ReadonlyMap<number, number> = new Map(byteSymbols.symbolOfByte.map((s, b) => [s.charCodeAt(0), b]));

const utf8 = new TextEncoder();

/** The byte-level spelling of a string: one symbol per UTF-8 byte. */
export function toByteSymbols(text: string): string {
  let out = '';
  for (const b of utf8.encode(text)) out += BYTE_TO_SYMBOL[b]!;
  return out;
}

const NAMED_ENTITIES: ReadonlyMap<string, string> = new Map([
  ['amp', '&'],
  ['lt', '<'],
  ['gt', '>'],
  ['quot', '"'],
  ['apos', "'"],
  ['nbsp', '\u00a0'],
]);
const ENTITY = /&(?:#([0-9]+);?|#[xX]([0-9a-fA-F]+);?|(amp|lt|gt|quot|apos|nbsp);)/g;

function unescapeBasicHtml(text: string): string {
  if (!text.includes('&')) return text;
  return text.replace(ENTITY, (_match, dec: string | undefined, hex: string | undefined, name: string | undefined) => {
    if (name !== undefined) return NAMED_ENTITIES.get(name)!;
    const code = dec !== undefined ? Number.parseInt(dec, 10) : Number.parseInt(hex!, 16);
    const valid = code > 0 && code <= 0x10ffff && !(code >= 0xd800 && code <= 0xdfff);
    return valid ? String.fromCodePoint(code) : '\ufffd';
  });
}

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
/** Python's `str.isspace` set. */
const PY_WHITESPACE_RUN = /[\t\n\v\f\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+/g;

/** CLIP's `whitespace_clean(basic_clean(text)).lower()` without ftfy (see the file comment). */
export function cleanClipText(text: string): string {
  const wellFormed = text.replace(LONE_SURROGATE, '\ufffd');
  const unescaped = unescapeBasicHtml(unescapeBasicHtml(wellFormed));
  // Not String.trim: it would also strip U+FEFF, which Python's strip() keeps.
  return unescaped.replace(PY_WHITESPACE_RUN, ' ').replace(/^ | $/g, '').toLowerCase();
}

/**
 * CLIP's pre-tokenization pattern. `\p{White_Space}` rather than `\s` keeps U+FEFF a symbol as in
 * Python's `regex` module; after cleaning, plain spaces are the only whitespace left anyway.
 */
const CLIP_PRE_TOKEN =
  /<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|\p{L}+|\p{N}|[^\p{White_Space}\p{L}\p{N}]+/gu;

/** Splits cleaned text into CLIP's pre-tokens (words, single digits, punctuation runs, markers). */
export function clipPreTokenize(cleaned: string): string[] {
  return cleaned.match(CLIP_PRE_TOKEN) ?? [];
}
