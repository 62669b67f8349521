import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FormatError } from '../../engine/errors.js';
import { writeBytes } from '../../engine/platform.js';
import { ClipBpeTokenizer, WordPieceTokenizer } from '../../metatransformer/tokenizers/text/index.js';
import { assertRejects, compress } from '../helpers.js';

const t = suite('tokenizers: vocabulary files by path (Node)');
const dir = mkdtempSync(join(tmpdir(), 'omni-tokenizers-'));
t.after(() => rmSync(dir, { recursive: true, force: true }));

t('reads merges .txt and .txt.gz and vocab.txt from paths', async () => {
  const merges = '"bpe_simple_vocab_16e6.txt#version: 0.2\nh e\nl l\nhe ll\nhell o</w>\n';
  await writeBytes(join(dir, 'bpe.txt'), merges);
  await writeBytes(join(dir, 'bpe.txt.gz'), await compress(merges, 'gzip'));
  await writeBytes(join(dir, 'vocab.txt'), '[PAD]\n[UNK]\n[CLS]\n[SEP]\nhello\n');
  for (const name of ['bpe.txt', 'bpe.txt.gz']) {
    const tok = await ClipBpeTokenizer.fromMergesFile(join(dir, name));
    assert.equal(tok.encode('Hello'), [515]);
  }
  assert.equal((await WordPieceTokenizer.fromVocabFile(join(dir, 'vocab.txt'))).encode('Hello'), [4]);
});

t('errors name the file and line', async () => {
  const path = join(dir, 'bad.txt');
  await writeBytes(path, '#version: 0.2\nh e\nbroken\n');
  const err = await assertRejects(ClipBpeTokenizer.fromMergesFile(path), FormatError);
  // A plain substring check: the temporary path may hold regex metacharacters.
  assert.ok(err.message.includes(`merges file ${path}, line 3`), err.message);
});

t.run();
