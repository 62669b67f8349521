import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { toFloat32 } from '../../nn/checkpoint/host-tensor.js';
import { openSafetensors, readSafetensors } from '../../nn/checkpoint/safetensors.js';
import { flattenStateDict, loadTorch } from '../../nn/checkpoint/torch.js';

const t = suite('checkpoint: reading from file paths (Node)');

t('loadTorch reads zip and legacy files by path', async () => {
  for (const name of ['ckpt_linear.pth', 'ckpt_shared_legacy.pth']) {
    const sd = flattenStateDict(await loadTorch(`test/fixtures/${name}`));
    assert.ok(sd.size >= 2, name);
  }
});

t('safetensors by path, eagerly and lazily', async () => {
  const { tensors } = await readSafetensors('test/fixtures/handmade.safetensors');
  assert.is(tensors.size, 10);
  const file = await openSafetensors(new URL('../fixtures/handmade.safetensors', `file://${process.cwd()}/test/checkpoint/`));
  assert.equal(Array.from(toFloat32(await file.read('half'))), [1, -0.5, 65504]);
  await file.close();
});

t.run();
