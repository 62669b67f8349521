/**
 * Generated captions for MNIST digits, the text side of the image-caption pairs the encoder is
 * pre-trained on. Every digit has many captions (templates x {word, numeral} spellings x paraphrases),
 * so the text encoder has to learn that 'three', '3' and 'the number three written by hand' mean the
 * same class rather than memorise one string per class. Training draws a fresh caption per image each
 * time it is seen; zero-shot evaluation uses `DIGIT_PROMPT_TEMPLATES`, a subset never phrased
 * differently from training (CLIP's prompts are also in-distribution for its captions).
 */
import { ArgumentError } from '../../engine/errors.js';
import type { Generator } from '../../engine/random.js';
import { fillTemplate } from './evaluate.js';

export const DIGIT_WORDS: readonly string[] = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine'];

/** `{c}` is replaced by the digit's word or its numeral. */
const CAPTION_TEMPLATES: readonly string[] = [
  'a photo of the digit {c}',
  'a photo of the number {c}',
  'a handwritten {c}',
  'the number {c} written by hand',
  'an image of a {c}',
  'a scanned digit {c}',
  'a black and white picture of the digit {c}',
  'a small grayscale image of a handwritten {c}',
  'the digit {c}',
  'someone wrote the number {c}',
  'a blurry {c}',
  'a {c} drawn with a pen',
  'white ink on black: a {c}',
  'this is a {c}',
];

/** Paraphrases that name the digit by what it is, not by a template slot. */
const DIGIT_PARAPHRASES: readonly (readonly string[])[] = [
  ['a handwritten zero, round like an o', 'nothing: the number 0', 'an oval zero'],
  ['a single stroke: the number one', 'a handwritten 1, a straight line', 'one, written by hand'],
  ['a handwritten two with a curved top', 'the number after one: two', 'a 2 with a flat base'],
  ['a handwritten three with two bumps', 'the number after two: three', 'a 3 written by hand'],
  ['a handwritten four with an open top', 'the number after three: four', 'a 4 written by hand'],
  ['a handwritten five with a flat hat', 'the number after four: five', 'a 5 written by hand'],
  ['a handwritten six with a loop at the bottom', 'the number after five: six', 'a 6 written by hand'],
  ['a handwritten seven, a line and a slash', 'the number after six: seven', 'a 7 written by hand'],
  ['a handwritten eight, two loops stacked', 'the number after seven: eight', 'an 8 written by hand'],
  ['a handwritten nine with a loop at the top', 'the number after eight: nine', 'a 9 written by hand'],
];

/** Templates for zero-shot class prompts: `{c}` takes the class prompt (the digit's word). */
export const DIGIT_PROMPT_TEMPLATES: readonly string[] = ['a photo of the digit {c}', 'a handwritten {c}', 'the number {c} written by hand'];

function checkDigit(digit: number): void {
  if (!Number.isInteger(digit) || digit < 0 || digit > 9) throw new ArgumentError(`digitCaptions: digit must be an integer 0..9, got ${digit}`);
}

/** Every caption of `digit`, in a fixed order. */
export function digitCaptions(digit: number): string[] {
  checkDigit(digit);
  const spellings = [DIGIT_WORDS[digit]!, String(digit)];
  return [...CAPTION_TEMPLATES.flatMap((t) => spellings.map((s) => fillTemplate(t, s))), ...DIGIT_PARAPHRASES[digit]!];
}

/** A caption of `digit` drawn uniformly from `digitCaptions(digit)`. */
export function randomDigitCaption(digit: number, g: Generator): string {
  const all = digitCaptions(digit);
  return all[g.int(all.length)]!;
}

/** Every caption of every digit: the corpus the caption BPE vocabulary is trained on. */
export function digitCaptionCorpus(): string[] {
  return DIGIT_WORDS.flatMap((_, d) => digitCaptions(d));
}
