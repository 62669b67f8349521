import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FormatError } from '../../engine/errors.js';
import { writeBytes } from '../../engine/platform.js';
import { ClipBpeTokenizer, WordPieceTokenizer } from '../../metatransformer/tokenizers/text/index.js';

const t = suite('tokenizers: vocabulary files by path (Node)');
const dir = mkdtempSync(join(tmpdir(), 'omni-tokenizers-'));
t.after(() => rmSync(dir, { recursive: true, force: true }));

async function gzip(text: string): Promise<Uint8Array> {
  const stream = new Blob([text]).stream().pipeThrough(new CompressionStream('gzip'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

t('reads merges .txt and .txt.gz and vocab.txt from paths', async () => {
  const merges = '"bpe_simple_vocab_16e6.txt#version: 0.2\nh e\nl l\nhe ll\nhell o</w>\n';
  await writeBytes(join(dir, 'bpe.txt'), merges);
  await writeBytes(join(dir, 'bpe.txt.gz'), await gzip(merges));
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
  try {
    await ClipBpeTokenizer.fromMergesFile(path);
    assert.unreachable('expected a FormatError');
  } catch (err) {
    assert.instance(err, FormatError);
    assert.ok((err as Error).message.includes(`merges file ${path}, line 3`), (err as Error).message);
  }
});

t.run();
