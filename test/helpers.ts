/**
 * Shared test utilities: fixture loading that works in Node (files) and in the browser (served by
 * scripts/test.mjs from the repository root), and float comparisons with explained tolerances.
 */
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
