/**
 * Mutation fuzzing shared by the io tests: random byte flips, truncations, insertions and deletions
 * of a valid file must make a reader return normally or throw an OmniError — never hang, crash with a
 * TypeError/RangeError, or allocate without bound.
 */
import * as fc from 'fast-check';
import { OmniError } from '../../engine/errors.js';

export type Mutation =
  | { kind: 'set'; at: number; value: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'insert'; at: number; bytes: number[] }
  | { kind: 'delete'; at: number; length: number };

export function mutationArb(): fc.Arbitrary<Mutation[]> {
  const at = fc.nat();
  const one: fc.Arbitrary<Mutation> = fc.oneof(
    { weight: 6, arbitrary: fc.record({ kind: fc.constant('set' as const), at, value: fc.integer({ min: 0, max: 255 }) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('truncate' as const), at }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('insert' as const), at, bytes: fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 8 }) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('delete' as const), at, length: fc.integer({ min: 1, max: 8 }) }) },
  );
  return fc.array(one, { minLength: 1, maxLength: 4 });
}

export function mutate(bytes: Uint8Array, mutations: readonly Mutation[]): Uint8Array {
  let out = Array.from(bytes);
  for (const m of mutations) {
    const at = out.length === 0 ? 0 : m.at % (out.length + 1);
    if (m.kind === 'set') {
      if (out.length > 0) out[at % out.length] = m.value;
    } else if (m.kind === 'truncate') out = out.slice(0, at);
    else if (m.kind === 'insert') out.splice(at, 0, ...m.bytes);
    else out.splice(at, m.length);
  }
  return new Uint8Array(out);
}

/** Runs `read` on many mutations of `valid`; fails on any throw that is not an OmniError. */
export async function fuzzReader(
  valid: Uint8Array,
  read: (bytes: Uint8Array) => unknown,
  { runs = 300, fixup }: { runs?: number; fixup?: (bytes: Uint8Array) => Uint8Array } = {},
): Promise<void> {
  await fc.assert(
    fc.asyncProperty(mutationArb(), async (mutations) => {
      let bytes = mutate(valid, mutations);
      if (fixup) bytes = fixup(bytes);
      try {
        await read(bytes);
      } catch (err) {
        if (!(err instanceof OmniError)) throw err;
      }
    }),
    { numRuns: runs, seed: 42 },
  );
}
