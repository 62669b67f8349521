/**
 * The image-modality check shared by the Node test (recipes.test.ts) and the browser demo test
 * (demo.node.test.ts): the same seeded test encoder, epochs and accuracy threshold in both places, so the
 * demo page is held to exactly what Node achieves.
 */
import { Generator } from '../../engine/random.js';
import { MetaTransformerEncoder } from '../../metatransformer/encoder.js';
import { encoderCheckpoint } from '../../metatransformer/pretrain/checkpoint.js';

export const IMAGE_CHECK = {
  epochs: 4,
  /** Held-out MNIST accuracy both encoders must reach (chance: 10%); measured 0.43 (pre-trained slot) and 0.39 (random) in Node on lavapipe. */
  threshold: 0.3,
};

/** A small seeded encoder saved like the shipped one, standing in for it so the check does not depend on it. */
export async function testEncoderFile(): Promise<Uint8Array> {
  const encoder = new MetaTransformerEncoder({ dim: 32, depth: 1, heads: 2, generator: new Generator(11) });
  try {
    return await encoderCheckpoint(encoder, { data: 'test: seeded random weights', training: {}, epochs: 0, seconds: 0, zeroShotAccuracy: 0, date: 'test' });
  } finally {
    encoder.dispose();
  }
}
