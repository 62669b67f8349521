import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { FormatError } from '../../engine/errors.js';
import { readVocabText } from '../../metatransformer/tokenizers/text/source.js';

const t = suite('tokenizers: vocabulary file reading');

async function gzip(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes.slice()]).stream().pipeThrough(new CompressionStream('gzip'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

async function rejectsFormat(promise: Promise<unknown>, pattern: RegExp): Promise<void> {
  try {
    await promise;
  } catch (err) {
    assert.instance(err, FormatError);
    assert.match((err as Error).message, pattern);
    return;
  }
  assert.unreachable(`expected FormatError matching ${pattern}`);
}

t('inflates gzip by its magic bytes and drops a UTF-8 BOM', async () => {
  const text = '\ufeffhello\nwörld\n';
  const bytes = new TextEncoder().encode(text);
  assert.is(await readVocabText(bytes, 'vocab.txt'), 'hello\nwörld\n');
  assert.is(await readVocabText(await gzip(bytes), 'vocab.txt'), 'hello\nwörld\n');
  assert.is(await readVocabText(new Blob([(await gzip(bytes)).slice()]), 'vocab.txt'), 'hello\nwörld\n');
});

t('bounds the size, plain and inflated, so a gzip bomb stops early', async () => {
  const zeros = new Uint8Array(200_000).fill(0x30);
  assert.is((await readVocabText(zeros, 'x', 200_000)).length, 200_000);
  await rejectsFormat(readVocabText(zeros, 'vocab.txt', 1000), /vocab.txt: larger than 1000 bytes/);
  await rejectsFormat(readVocabText(await gzip(zeros), 'merges file', 1000), /merges file: gzip data inflates to more than 1000 bytes/);
});

t('rejects corrupt gzip and invalid UTF-8', async () => {
  const gz = await gzip(new TextEncoder().encode('hello hello hello'));
  await rejectsFormat(readVocabText(gz.subarray(0, gz.length - 12), 'vocab.json'), /vocab.json: corrupt gzip/);
  await rejectsFormat(readVocabText(new Uint8Array([0x61, 0xe2, 0x82]), 'vocab.json'), /vocab.json: not valid UTF-8/);
});

t.run();
