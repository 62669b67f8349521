import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { FormatError } from '../../engine/errors.js';
import { readVocabText } from '../../metatransformer/tokenizers/text/source.js';
import { assertRejects, compress } from '../helpers.js';

const t = suite('tokenizers: vocabulary file reading');

t('inflates gzip by its magic bytes and drops a UTF-8 BOM', async () => {
  const text = '\ufeffhello\nwörld\n';
  const bytes = new TextEncoder().encode(text);
  assert.is(await readVocabText(bytes, 'vocab.txt'), 'hello\nwörld\n');
  assert.is(await readVocabText(await compress(bytes, 'gzip'), 'vocab.txt'), 'hello\nwörld\n');
  assert.is(await readVocabText(new Blob([(await compress(bytes, 'gzip')).slice()]), 'vocab.txt'), 'hello\nwörld\n');
});

t('bounds the size, plain and inflated, so a gzip bomb stops early', async () => {
  const zeros = new Uint8Array(200_000).fill(0x30);
  assert.is((await readVocabText(zeros, 'x', 200_000)).length, 200_000);
  await assertRejects(readVocabText(zeros, 'vocab.txt', 1000), FormatError, /vocab.txt: larger than 1000 bytes/);
  await assertRejects(readVocabText(await compress(zeros, 'gzip'), 'merges file', 1000), FormatError, /merges file: gzip data inflates to more than 1000 bytes/);
});

t('rejects corrupt gzip and invalid UTF-8', async () => {
  const gz = await compress('hello hello hello', 'gzip');
  await assertRejects(readVocabText(gz.subarray(0, gz.length - 12), 'vocab.json'), FormatError, /vocab.json: corrupt gzip/);
  await assertRejects(readVocabText(new Uint8Array([0x61, 0xe2, 0x82]), 'vocab.json'), FormatError, /vocab.json: not valid UTF-8/);
});

t.run();
