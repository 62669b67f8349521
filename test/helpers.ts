/**
 * Shared test utilities: fixture loading that works in Node (files) and in the browser (served by
 * scripts/test.mjs from the repository root), and float comparisons with explained tolerances.
 */
import * as assert from 'uvu/assert';
import { FormatError } from '../engine/errors.js';
import { isNode, readBytes } from '../engine/platform.js';

/** Reads test/fixtures/NAME as bytes, in Node or in the browser test page. */
export async function fixture(name: string): Promise<Uint8Array> {
  return readBytes(isNode ? `test/fixtures/${name}` : `/test/fixtures/${name}`);
}

/** Reads test/fixtures/NAME as parsed JSON. */
export async function fixtureJSON<T = unknown>(name: string): Promise<T> {
  return JSON.parse(new TextDecoder().decode(await fixture(name))) as T;
}

/**
 * Asserts |actual - expected| <= atol + rtol * |expected| elementwise (NumPy's allclose), with NaN equal
 * to NaN and infinities equal when they have the same sign. Reports the worst element on failure.
 */
export function assertClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  { atol = 1e-5, rtol = 1e-5, what = 'values' }: { atol?: number; rtol?: number; what?: string } = {},
): void {
  if (actual.length !== expected.length)
    throw new Error(`${what}: length ${actual.length} differs from expected ${expected.length}`);
  let worst = -1;
  let worstExcess = 0;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    if (Number.isNaN(e) ? Number.isNaN(a) : a === e) continue;
    const excess = Math.abs(a - e) - (atol + rtol * Math.abs(e));
    if (!(excess <= 0) && (worst < 0 || !(excess <= worstExcess))) {
      worst = i;
      worstExcess = Number.isNaN(excess) ? Infinity : excess;
    }
  }
  if (worst >= 0)
    throw new Error(
      `${what}: element ${worst} is ${actual[worst]}, expected ${expected[worst]} (atol ${atol}, rtol ${rtol})`,
    );
}

import { init, type DeviceInfo } from '../engine/runtime.js';

let device: Promise<DeviceInfo> | null = null;

/**
 * Initialises the GPU once per test process (all suites share the device). Tests that deliberately lose
 * or replace the device call `resetTestDevice()` afterwards.
 */
export function testDevice(): Promise<DeviceInfo> {
  device ??= init();
  return device;
}

export function resetTestDevice(): Promise<DeviceInfo> {
  device = init();
  return device;
}

/** An error class, whatever its constructor takes; abstract ones (OmniError) are accepted too. */
export type ErrorClass<E extends Error = Error> = abstract new (...args: never[]) => E;

/** Marks "nothing was thrown", which no thrown value can be mistaken for (even `undefined`). */
const NOTHING_THROWN: unique symbol = Symbol('nothing thrown');

function expectCaught<E extends Error>(caught: unknown, type: ErrorClass<E>, pattern: RegExp | undefined): E {
  const expected = pattern ? `${type.name} matching ${pattern}` : type.name;
  if (caught === NOTHING_THROWN) assert.unreachable(`expected ${expected}`);
  assert.instance(caught, type, `expected ${expected}, got ${String(caught)}`);
  if (pattern) assert.match((caught as Error).message, pattern);
  return caught as E;
}

/**
 * Asserts that `fn` throws an instance of `type` whose message matches `pattern` (when given), and
 * returns the error for checks on its other fields. (uvu's `assert.throws` cannot check the class and
 * the message together and still say which of the two failed.)
 */
export function assertThrows<E extends Error>(fn: () => unknown, type: ErrorClass<E>, pattern?: RegExp): E {
  let caught: unknown = NOTHING_THROWN;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  return expectCaught(caught, type, pattern);
}

/** `assertThrows` for a promise: it must reject with an instance of `type` whose message matches `pattern`. */
export async function assertRejects<E extends Error>(pending: Promise<unknown>, type: ErrorClass<E>, pattern?: RegExp): Promise<E> {
  let caught: unknown = NOTHING_THROWN;
  try {
    await pending;
  } catch (err) {
    caught = err;
  }
  return expectCaught(caught, type, pattern);
}

/** Malformed-file errors must say where the file went wrong: checks the byte offset when one is expected. */
function expectOffset(err: FormatError, offset: number | undefined): FormatError {
  if (offset !== undefined) assert.is(err.offset, offset);
  return err;
}

/** Asserts that `fn` throws a FormatError whose message matches `pattern`, at byte `offset` when given. */
export function assertFormatError(fn: () => unknown, pattern: RegExp, offset?: number): FormatError {
  return expectOffset(assertThrows(fn, FormatError, pattern), offset);
}

/** Asserts that `pending` rejects with a FormatError whose message matches `pattern`, at byte `offset` when given. */
export async function assertFormatRejection(pending: Promise<unknown>, pattern: RegExp, offset?: number): Promise<FormatError> {
  return expectOffset(await assertRejects(pending, FormatError, pattern), offset);
}

/** Compresses bytes or text with the web-standard CompressionStream, to build gzip/zlib inputs for readers. */
export async function compress(data: Uint8Array | string, format: CompressionFormat): Promise<Uint8Array> {
  // A copy, because Blob takes only ArrayBuffer-backed views and `data` may view a SharedArrayBuffer.
  const stream = new Blob([typeof data === 'string' ? data : data.slice()]).stream().pipeThrough(new CompressionStream(format));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}
