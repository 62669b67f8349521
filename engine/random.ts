/**
 * Seeded random numbers, generated on the CPU with xoshiro128** and uploaded. The generator uses only
 * 32-bit integer arithmetic and `Math.log`/`Math.cos`, which V8 computes identically in Node and Chromium
 * (both ship the same fdlibm port), so a seed gives bit-identical tensors in both.
 */
export class Generator {
  private s = new Uint32Array(4);
  private spare: number | null = null;
  constructor(seed = 0x2545f491) {
    this.seed(seed);
  }

  /** Reseeds; SplitMix32 expands the seed into the 128-bit state so nearby seeds give unrelated streams. */
  seed(seed: number): void {
    this.spare = null;
    let x = seed >>> 0;
    for (let i = 0; i < 4; i++) {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      this.s[i] = (z ^ (z >>> 16)) >>> 0;
    }
  }

  /** Next 32 random bits. */
  nextU32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1]!, 5), 7), 9) >>> 0;
    const t = s[1]! << 9;
    s[2]! ^= s[0]!;
    s[3]! ^= s[1]!;
    s[1]! ^= s[2]!;
    s[0]! ^= s[3]!;
    s[2]! ^= t;
    s[3] = rotl(s[3]!, 11);
    return result;
  }

  /** Uniform in [0, 1) with 24 random bits (exactly representable in f32). */
  uniform(): number {
    return (this.nextU32() >>> 8) / 16777216;
  }

  /** Standard normal by Box-Muller (uses both outputs). */
  normal(): number {
    if (this.spare !== null) {
      const v = this.spare;
      this.spare = null;
      return v;
    }
    const u1 = 1 - this.uniform(); // (0, 1]: log is finite
    const u2 = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u1));
    this.spare = r * Math.sin(2 * Math.PI * u2);
    return r * Math.cos(2 * Math.PI * u2);
  }

  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.uniform() * n);
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** The global generator behind rand/randn/dropout/initialisers. */
export const globalGenerator = new Generator();

/** Seeds the global generator, like torch.manual_seed. */
export function manualSeed(seed: number): void {
  globalGenerator.seed(seed);
}
