/**
 * Property tests: random bytes, random mutations of every valid fixture, and random pickle programs must make
 * the readers either return a value or throw an OmniError — never another exception type. Work is bounded by
 * the input size by construction (see the readers' header comments), so these runs also finish quickly.
 */
import { suite } from 'uvu';
import fc from 'fast-check';
import { OmniError } from '../../engine/errors.js';
import { readSafetensors } from '../../nn/checkpoint/safetensors.js';
import { loadTorch } from '../../nn/checkpoint/torch.js';
import { fixture } from '../helpers.js';
import { torchZip } from './craft.js';

const t = suite('checkpoint: fuzz');

type Reader = (bytes: Uint8Array) => Promise<unknown>;
const readers: Record<string, Reader> = { safetensors: readSafetensors, torch: loadTorch };

async function survives(read: Reader, bytes: Uint8Array): Promise<boolean> {
  try {
    await read(bytes);
  } catch (err) {
    if (!(err instanceof OmniError)) throw new Error(`non-OmniError ${String(err)} from ${bytes.length} bytes`, { cause: err });
  }
  return true;
}

type Mutation =
  | { kind: 'set'; at: number; value: number }
  | { kind: 'word'; at: number; value: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'insert'; at: number; bytes: Uint8Array };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  // Size and offset fields are the interesting targets: overwrite four bytes with boundary values.
  fc.record({ kind: fc.constant('word' as const), at: fc.nat(), value: fc.constantFrom(0, 1, 0xffff, 0x7fffffff, 0x80000000, 0xffffffff) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }),
);

function mutate(original: Uint8Array, mutations: readonly Mutation[]): Uint8Array {
  let bytes = original.slice();
  for (const m of mutations) {
    const at = bytes.length ? m.at % bytes.length : 0;
    if (m.kind === 'set') bytes[at] = m.value;
    else if (m.kind === 'word') {
      if (bytes.length >= 4) new DataView(bytes.buffer).setUint32(Math.min(at, bytes.length - 4), m.value >>> 0, true);
    }
    else if (m.kind === 'truncate') bytes = bytes.slice(0, at);
    else {
      const grown = new Uint8Array(bytes.length + m.bytes.length);
      grown.set(bytes.subarray(0, at));
      grown.set(m.bytes, at);
      grown.set(bytes.subarray(at), at + m.bytes.length);
      bytes = grown;
    }
  }
  return bytes;
}

const FIXTURES: [string, Reader][] = [
  ['handmade.safetensors', readSafetensors],
  ...[
    'ckpt_zip.pth', 'ckpt_legacy.pth', 'ckpt_f16.pth', 'ckpt_bf16.pth', 'ckpt_dtypes.pth', 'ckpt_shared.pth',
    'ckpt_shared_legacy.pth', 'ckpt_nested.pth', 'ckpt_linear.pth', 'ckpt_linear_deflate.pth', 'ckpt_linear_zip64.pth',
  ].map((name): [string, Reader] => [name, loadTorch]),
];

t('random bytes, bare and behind each format magic', async () => {
  const prefixes = [[], [0x50, 0x4b, 3, 4], [0x80, 2], [16, 0, 0, 0, 0, 0, 0, 0, 0x7b]];
  for (const read of Object.values(readers)) {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...prefixes), fc.uint8Array({ maxLength: 600 }), (prefix, tail) =>
        survives(read, new Uint8Array([...prefix, ...tail])),
      ),
      { numRuns: 300 },
    );
  }
});

t('mutations of every valid fixture', async () => {
  for (const [name, read] of FIXTURES) {
    const original = await fixture(name);
    await fc.assert(
      fc.asyncProperty(fc.array(mutation, { minLength: 1, maxLength: 4 }), (mutations) => survives(read, mutate(original, mutations))),
      { numRuns: name.endsWith('.safetensors') ? 300 : 100 },
    ).catch((err: unknown) => {
      throw new Error(`${name}: ${String(err)}`);
    });
  }
});

// Opcodes the unpickler knows plus a few it refuses, each followed by random argument bytes.
const OPCODES = [
  0x28, 0x29, 0x2e, 0x30, 0x31, 0x32, 0x42, 0x43, 0x47, 0x4a, 0x4b, 0x4d, 0x4e, 0x51, 0x52, 0x54, 0x55, 0x58,
  0x5d, 0x61, 0x62, 0x63, 0x64, 0x65, 0x68, 0x6a, 0x6c, 0x71, 0x72, 0x73, 0x74, 0x75, 0x7d, 0x80, 0x81, 0x85,
  0x86, 0x87, 0x88, 0x89, 0x8a, 0x8b, 0x8c, 0x8d, 0x8e, 0x93, 0x94, 0x95, 0x96, 0x69, 0x6f, 0x49,
];

t('random pickle programs inside a torch archive', async () => {
  const op = fc.tuple(fc.constantFrom(...OPCODES), fc.uint8Array({ maxLength: 3 }));
  await fc.assert(
    fc.asyncProperty(fc.array(op, { maxLength: 60 }), (ops) => {
      const body = ops.flatMap(([code, args]) => [code, ...args]);
      return survives(loadTorch, torchZip(new Uint8Array([0x80, 2, ...body, 0x2e])));
    }),
    { numRuns: 400 },
  );
});

t('random JSON headers for safetensors', async () => {
  await fc.assert(
    fc.asyncProperty(fc.json(), fc.uint8Array({ maxLength: 64 }), (json, data) => {
      const header = new TextEncoder().encode(json);
      const bytes = new Uint8Array(8 + header.length + data.length);
      new DataView(bytes.buffer).setUint32(0, header.length, true);
      bytes.set(header, 8);
      bytes.set(data, 8 + header.length);
      return survives(readSafetensors, bytes);
    }),
    { numRuns: 300 },
  );
});

t.run();
