/**
 * Procedurally generated datasets for the modalities no npm package ships data for. Each generator is
 * seeded (same seed, same data in Node and browsers), labels come from how the sample was generated, and
 * every dataset says so in its `provenance`. They are small, deliberately learnable-but-not-trivial tasks:
 * random pose, scale, phase and noise keep a lookup table from solving them.
 */
import { expectOptions, optionKeys } from '../../engine/arguments.js';
import { Generator } from '../../engine/random.js';
import { stratifiedSplit, type Dataset, type Grid } from './types.js';

interface GenOptions {
  perClass?: number;
  seed?: number;
  testFraction?: number;
}

const GEN_OPTIONS = optionKeys<GenOptions>({ perClass: true, seed: true, testFraction: true });

function build<X>(
  modality: Dataset<X>['modality'],
  name: string,
  provenance: string,
  classNames: string[],
  sample: (cls: number, g: Generator) => X,
  { perClass = 60, seed = 1, testFraction = 0.25 }: GenOptions,
): Dataset<X> {
  const g = new Generator(seed);
  const inputs: X[] = [];
  const labels: number[] = [];
  for (let c = 0; c < classNames.length; c++)
    for (let i = 0; i < perClass; i++) {
      inputs.push(sample(c, g));
      labels.push(c);
    }
  const split = stratifiedSplit(inputs, labels, testFraction, () => g.uniform());
  return { modality, name, provenance: `generated: ${provenance}`, task: 'classification', classNames, ...split };
}

/** Random rotation matrix (uniform quaternion, Shoemake's method). */
function randomRotation(g: Generator): number[] {
  const [u1, u2, u3] = [g.uniform(), g.uniform(), g.uniform()];
  const a = Math.sqrt(1 - u1);
  const b = Math.sqrt(u1);
  const [w, x, y, z] = [a * Math.sin(2 * Math.PI * u2), a * Math.cos(2 * Math.PI * u2), b * Math.sin(2 * Math.PI * u3), b * Math.cos(2 * Math.PI * u3)];
  return [
    1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w),
    2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w),
    2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y),
  ];
}

const SHAPES = ['sphere', 'cube', 'cylinder', 'cone', 'torus', 'plane'];

/** Surface samples of primitive shapes, randomly rotated and scaled, with jitter: [N*3] xyz. */
export function pointCloudShapes(opts: GenOptions & { points?: number } = {}): Dataset<Float32Array> {
  expectOptions('pointCloudShapes', opts, [...GEN_OPTIONS, 'points']);
  const n = opts.points ?? 256;
  return build('pointcloud', 'primitive shapes', `${n} surface points of ${SHAPES.join('/')} under random rotation, scale 0.6-1.0 and jitter 0.01`, SHAPES, (cls, g) => {
    const R = randomRotation(g);
    const s = 0.6 + 0.4 * g.uniform();
    const pts = new Float32Array(n * 3);
    for (let i = 0; i < n; i++) {
      const u = g.uniform() * 2 * Math.PI;
      const v = g.uniform();
      let p: [number, number, number];
      switch (SHAPES[cls]) {
        case 'sphere': {
          const z = 2 * v - 1;
          const r = Math.sqrt(1 - z * z);
          p = [r * Math.cos(u), r * Math.sin(u), z];
          break;
        }
        case 'cube': {
          const face = Math.floor(g.uniform() * 6);
          const a = 2 * g.uniform() - 1;
          const b = 2 * v - 1;
          const sign = face % 2 ? 1 : -1;
          p = face < 2 ? [sign, a, b] : face < 4 ? [a, sign, b] : [a, b, sign];
          p = p.map((c) => c * 0.8) as [number, number, number];
          break;
        }
        case 'cylinder':
          p = [0.6 * Math.cos(u), 0.6 * Math.sin(u), 2 * v - 1];
          break;
        case 'cone':
          p = [0.8 * (1 - v) * Math.cos(u), 0.8 * (1 - v) * Math.sin(u), 2 * v - 1];
          break;
        case 'torus': {
          const w = g.uniform() * 2 * Math.PI;
          p = [(0.7 + 0.25 * Math.cos(w)) * Math.cos(u), (0.7 + 0.25 * Math.cos(w)) * Math.sin(u), 0.25 * Math.sin(w)];
          break;
        }
        default:
          p = [2 * g.uniform() - 1, 2 * v - 1, 0.05 * Math.sin(3 * u)];
      }
      for (let r = 0; r < 3; r++)
        pts[i * 3 + r] = s * (R[r * 3]! * p[0] + R[r * 3 + 1]! * p[1] + R[r * 3 + 2]! * p[2]) + 0.01 * g.normal();
    }
    return pts;
  }, opts);
}

/**
 * Mean and standard deviation of the 64-bin log-mel filterbank of the generated clips (measured over 60
 * of them), for the audio tokenizer's normalisation: AST normalises with its own training set's statistics
 * (AudioSet: -4.27 / 4.57), and these clips, quieter and shorter, sit elsewhere.
 */
export const AUDIO_CLIP_FBANK_STATS = { mean: -1.59, std: 3.25 } as const;

const SOUNDS = ['low tone', 'high tone', 'rising chirp', 'falling chirp', 'noise burst', 'buzz'];

/** Mono 16 kHz clips of synthesized sound classes with random pitch, onset, loudness and background noise. */
export function audioClips(opts: GenOptions & { seconds?: number } = {}): Dataset<Float32Array> {
  expectOptions('audioClips', opts, [...GEN_OPTIONS, 'seconds']);
  const rate = 16000;
  const len = Math.round((opts.seconds ?? 0.64) * rate);
  return build('audio', 'synthesized sounds', `${len / rate} s at 16 kHz: ${SOUNDS.join('/')}, random pitch/onset/gain plus noise at -30 dB`, SOUNDS, (cls, g) => {
    const x = new Float32Array(len);
    const onset = Math.floor(g.uniform() * len * 0.3);
    const dur = Math.floor(len * (0.4 + 0.3 * g.uniform()));
    const gain = 0.3 + 0.5 * g.uniform();
    const f0 = [200 + 200 * g.uniform(), 1500 + 1500 * g.uniform(), 300, 3000, 0, 100 + 100 * g.uniform()][cls]!;
    let phase = 0;
    for (let i = 0; i < dur && onset + i < len; i++) {
      const t = i / dur;
      const env = Math.sin(Math.PI * t);
      let y: number;
      if (cls === 2 || cls === 3) {
        const f = cls === 2 ? 300 * 10 ** t : 3000 / 10 ** t; // logarithmic sweep over a decade
        phase += (2 * Math.PI * f) / rate;
        y = Math.sin(phase);
      } else if (cls === 4) y = g.normal() * 0.5;
      else if (cls === 5) {
        phase += (2 * Math.PI * f0) / rate;
        y = Math.sign(Math.sin(phase)) * 0.6; // square wave: odd harmonics
      } else {
        phase += (2 * Math.PI * f0) / rate;
        y = Math.sin(phase);
      }
      x[onset + i] = gain * env * y;
    }
    for (let i = 0; i < len; i++) x[i]! += 0.03 * g.normal();
    return x;
  }, opts);
}

function blob(img: Float32Array, size: number, cx: number, cy: number, rx: number, ry: number, value: number): void {
  for (let y = 0; y < size; y++)
    for (let x = 0; x < size; x++) {
      const d = ((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2;
      img[y * size + x]! += value * Math.exp(-2 * d * d);
    }
}

const THERMAL = ['person', 'vehicle', 'animal', 'empty scene'];

/**
 * Pixel mean and standard deviation of the generated thermal scenes (measured over 800 of them), used as
 * MNIST_MEAN / MNIST_STD are for digits. The scenes are raw intensities around 0.27 +- 0.09: fed
 * unnormalised, a fresh patch embedding sees nearly constant inputs, and training through the frozen
 * encoder stalled at chance (25%) for both encoders; standardised, it learns.
 */
export const INFRARED_STATS = { mean: 0.273, std: 0.095 } as const;

/** 32x32 single-channel thermal scenes: warm bodies of different shapes over a cool cluttered background. */
export function infraredScenes(opts: GenOptions = {}): Dataset<Grid> {
  expectOptions('infraredScenes', opts, GEN_OPTIONS);
  const size = 32;
  return build('infrared', 'thermal scenes', `${size}x${size} 1-channel heat maps: ${THERMAL.join('/')} with random position, size, ambient temperature and sensor noise`, THERMAL, (cls, g) => {
    const img = new Float32Array(size * size).fill(0.2 + 0.1 * g.uniform());
    for (let k = 0; k < 3; k++) blob(img, size, g.uniform() * size, g.uniform() * size, 3 + 4 * g.uniform(), 3 + 4 * g.uniform(), 0.1 * g.uniform());
    const cx = 8 + 16 * g.uniform();
    const cy = 8 + 16 * g.uniform();
    const s = 0.8 + 0.4 * g.uniform();
    if (cls === 0) {
      blob(img, size, cx, cy + 2 * s, 2.5 * s, 6 * s, 0.6);
      blob(img, size, cx, cy - 6 * s, 1.8 * s, 1.8 * s, 0.7);
    } else if (cls === 1) {
      blob(img, size, cx, cy, 8 * s, 3.5 * s, 0.35);
      blob(img, size, cx + 5 * s, cy, 2 * s, 2 * s, 0.6);
      blob(img, size, cx - 5 * s, cy + 4 * s, 1.5 * s, 1.5 * s, 0.4);
      blob(img, size, cx + 5 * s, cy + 4 * s, 1.5 * s, 1.5 * s, 0.4);
    } else if (cls === 2) {
      blob(img, size, cx, cy, 5 * s, 2.5 * s, 0.55);
      blob(img, size, cx + 6 * s, cy - 2 * s, 1.6 * s, 1.6 * s, 0.6);
    }
    for (let i = 0; i < img.length; i++) img[i]! += 0.04 * g.normal();
    return { shape: [1, size, size], data: img };
  }, opts);
}

const XRAY = ['intact bone', 'fractured bone', 'bone with implant'];

/** Pixel mean and standard deviation of the generated radiographs (measured over 600 of them); see INFRARED_STATS. */
export const XRAY_STATS = { mean: 0.142, std: 0.231 } as const;

/** 32x32 radiograph-style renderings of a long bone: intact, fractured (a dark gap with offset), or with a metal plate. */
export function xrayRenderings(opts: GenOptions = {}): Dataset<Grid> {
  expectOptions('xrayRenderings', opts, GEN_OPTIONS);
  const size = 32;
  return build('xray', 'long-bone radiographs', `${size}x${size} 1-channel attenuation maps: ${XRAY.join('/')} at random angle, width and exposure`, XRAY, (cls, g) => {
    const img = new Float32Array(size * size);
    const angle = (g.uniform() - 0.5) * 0.8;
    const [ca, sa] = [Math.cos(angle), Math.sin(angle)];
    const width = 3 + 2 * g.uniform();
    const cx = 12 + 8 * g.uniform();
    const breakAt = (g.uniform() - 0.5) * 16;
    const shift = (g.uniform() < 0.5 ? -1 : 1) * (1 + 1.5 * g.uniform());
    const exposure = 0.7 + 0.3 * g.uniform();
    for (let y = 0; y < size; y++)
      for (let x = 0; x < size; x++) {
        // Coordinates along (v) and across (u) the bone axis.
        const u0 = (x - cx) * ca - (y - 16) * sa;
        const v = (x - cx) * sa + (y - 16) * ca;
        const u = cls === 1 && v > breakAt ? u0 - shift : u0;
        const r = Math.abs(u) / width;
        let a = r < 1 ? 0.4 + 0.5 * r * r : 0.1 * Math.exp(-(r - 1) * 2); // bright cortex at the edges
        if (cls === 1 && Math.abs(v - breakAt) < 0.8) a *= 0.25;
        if (cls === 2 && Math.abs(u - width - 1) < 1 && Math.abs(v) < 9) a = 1.0;
        img[y * size + x] = exposure * a + 0.03 * g.normal();
      }
    return { shape: [1, size, size], data: img };
  }, opts);
}

const MATERIALS = ['vegetation', 'water', 'soil', 'concrete', 'metal roof'];

/** Per-pixel reflectance spectra (bands over 400-2500 nm) of five materials with illumination and mixing noise. */
export function hyperspectralPixels(opts: GenOptions & { bands?: number } = {}): Dataset<Grid> {
  expectOptions('hyperspectralPixels', opts, [...GEN_OPTIONS, 'bands']);
  const bands = opts.bands ?? 48;
  const curve = (cls: number, nm: number): number => {
    const gauss = (c: number, w: number) => Math.exp(-(((nm - c) / w) ** 2));
    switch (cls) {
      case 0: return 0.05 + 0.07 * gauss(550, 40) + 0.45 / (1 + Math.exp(-(nm - 715) / 15)) - 0.25 * gauss(1450, 60) - 0.3 * gauss(1950, 80);
      case 1: return 0.08 * Math.exp(-(nm - 400) / 250);
      case 2: return 0.1 + 0.25 * ((nm - 400) / 2100) - 0.05 * gauss(1400, 50) - 0.07 * gauss(2200, 40);
      case 3: return 0.3 + 0.02 * Math.sin(nm / 300) - 0.04 * gauss(1900, 100);
      default: return 0.15 + 0.3 * gauss(900, 500) + 0.1 * gauss(1650, 150);
    }
  };
  return build('hyperspectral', 'material spectra', `${bands} bands over 400-2500 nm: ${MATERIALS.join('/')} spectra, 0-30% mixing with another material, illumination 0.6-1.4, noise 0.01`, MATERIALS, (cls, g) => {
    const other = g.int(MATERIALS.length);
    const mix = 0.3 * g.uniform();
    const illum = 0.6 + 0.8 * g.uniform();
    const data = new Float32Array(bands);
    for (let b = 0; b < bands; b++) {
      const nm = 400 + (2100 * b) / (bands - 1);
      data[b] = illum * ((1 - mix) * curve(cls, nm) + mix * curve(other, nm)) + 0.01 * g.normal();
    }
    return { shape: [bands], data };
  }, opts);
}

const ACTIVITIES = ['walking', 'running', 'sitting', 'climbing stairs', 'lying'];

/** 6-axis IMU traces [T, 6] (accelerometer xyz in g, gyroscope xyz in rad/s) at 50 Hz for five activities. */
export function imuActivities(opts: GenOptions & { steps?: number } = {}): Dataset<Grid> {
  expectOptions('imuActivities', opts, [...GEN_OPTIONS, 'steps']);
  const T = opts.steps ?? 128;
  return build('imu', 'activity traces', `${T} steps at 50 Hz of accelerometer + gyroscope: ${ACTIVITIES.join('/')}, random cadence, device tilt and sensor noise`, ACTIVITIES, (cls, g) => {
    const cadence = [1.8, 2.8, 0, 1.4, 0][cls]! * (0.85 + 0.3 * g.uniform());
    const amp = [0.35, 1.1, 0.02, 0.5, 0.02][cls]!;
    const tilt = (g.uniform() - 0.5) * 0.6;
    const gravity = cls === 4 ? [1, 0, 0] : [Math.sin(tilt), 0, Math.cos(tilt)];
    const phase = g.uniform() * 2 * Math.PI;
    const data = new Float32Array(T * 6);
    for (let t = 0; t < T; t++) {
      const w = 2 * Math.PI * cadence * (t / 50) + phase;
      const vertical = amp * Math.sin(w) + (cls === 3 ? 0.15 * Math.sin(w / 2) : 0);
      const lateral = 0.4 * amp * Math.sin(w / 2);
      const acc = [gravity[0]! + 0.3 * amp * Math.cos(w), gravity[1]! + lateral, gravity[2]! + vertical];
      const gyro = [0.5 * amp * Math.cos(w / 2), 0.3 * amp * Math.sin(w), cls === 3 ? 0.2 * Math.cos(w) : 0.05 * amp * Math.sin(w)];
      for (let c = 0; c < 3; c++) {
        data[t * 6 + c] = acc[c]! + 0.03 * g.normal();
        data[t * 6 + 3 + c] = gyro[c]! + 0.02 * g.normal();
      }
    }
    return { shape: [T, 6], data };
  }, opts);
}
