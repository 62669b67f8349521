/**
 * Checks for arguments that arrive from JavaScript, where TypeScript's types are not enforced. The public
 * ops run these before touching their operands, so a wrong-typed argument (a number where a shape goes,
 * a misspelt option) is an ArgumentError that names the op and the argument, instead of a TypeError from
 * deep inside or an option silently ignored. The checks for tensor arguments (expectTensor and friends)
 * live in tensor.ts beside the class; this module imports nothing but the errors, so that the runtime
 * can use it too.
 */
import { ArgumentError } from './errors.js';

/**
 * Marks Tensor instances (engine/tensor.ts). A message recognises a tensor by it rather than by its class
 * name, which bundlers rename (esbuild makes it 'Tensor2' when two modules declare one).
 */
export const TENSOR_BRAND: unique symbol = Symbol.for('omnitensor.Tensor');

/** A value as a message shows it: its kind, and the value itself where it is short. */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (typeof value === 'object' && TENSOR_BRAND in value) return 'a Tensor';
  if (Array.isArray(value)) return 'an array';
  if (ArrayBuffer.isView(value)) return `a ${value.constructor.name}`;
  switch (typeof value) {
    case 'string':
      return `the string ${JSON.stringify(value.length > 20 ? `${value.slice(0, 20)}...` : value)}`;
    case 'number':
    case 'boolean':
    case 'bigint':
      return `the ${typeof value} ${String(value)}`;
    case 'function':
      return 'a function';
    case 'symbol':
      return 'a symbol';
    default:
      return describeObject(value as object);
  }
}

/**
 * An object by its kind: a promise gets a hint (an async reader called without `await` is the usual
 * way one arrives), an instance of a class its class name ('a Map'), a plain object 'an object'.
 */
function describeObject(value: object): string {
  if (typeof (value as { then?: unknown }).then === 'function') return 'a Promise (a missing await?)';
  const name = (Object.getPrototypeOf(value) as { constructor?: { name?: unknown } } | null)?.constructor?.name;
  if (typeof name !== 'string' || name === '' || name === 'Object') return 'an object';
  return `${/^[AEIOU]/.test(name) ? 'an' : 'a'} ${name}`;
}

/** Bytes in memory: a Uint8Array (a Node Buffer is one), an ArrayBuffer, or a typed array or DataView. */
export type BytesLike = Uint8Array | ArrayBuffer | ArrayBufferView;

/** How messages name what counts as bytes. */
export const BYTES_KINDS = 'bytes (a Uint8Array, an ArrayBuffer or a typed array)';

/** Whether `value` is bytes in memory (see BytesLike). */
export function isBytesLike(value: unknown): value is BytesLike {
  return value instanceof ArrayBuffer || ArrayBuffer.isView(value);
}

/**
 * Bytes in memory, as a Uint8Array over the same memory (no copy). File decoders run it first: without
 * it, a number or an ArrayBuffer read as "not a PNG file" or "bad magic at offset NaN".
 */
export function expectBytes(op: string, name: string, value: unknown): Uint8Array {
  if (!isBytesLike(value)) throw new ArgumentError(`${op}: ${name} must be ${BYTES_KINDS}, got ${describe(value)}`);
  if (value instanceof Uint8Array) return value;
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
}

/** An array (shapes, dims, slice specs, pads): its elements are checked by the op. */
export function expectArray(op: string, name: string, value: unknown): asserts value is readonly unknown[] {
  if (!Array.isArray(value)) throw new ArgumentError(`${op}: ${name} must be an array, got ${describe(value)}`);
}

/** A number (NaN and infinities included: fill values and bounds may be any float). */
export function expectNumber(op: string, name: string, value: unknown): asserts value is number {
  if (typeof value !== 'number') throw new ArgumentError(`${op}: ${name} must be a number, got ${describe(value)}`);
}

/** An optional number: a number, or undefined or null for "not given" (as PyTorch's None). */
export function expectOptionalNumber(op: string, name: string, value: unknown): asserts value is number | null | undefined {
  if (value !== undefined && value !== null) expectNumber(op, name, value);
}

/**
 * The keys of an options interface, listed once. The Record type makes the compiler reject a list that
 * misses a key of T or names one T does not have, so the list cannot drift from the interface.
 */
export function optionKeys<T>(keys: Record<keyof Required<T>, true>): readonly string[] {
  return Object.keys(keys);
}

/**
 * An options argument (or another options-like object, named by `name`): undefined, or a plain object
 * whose keys are all in `known`. An unknown key is usually a misspelling (keepDims for keepdim) that
 * would otherwise be ignored without a word.
 */
export function expectOptions(op: string, options: unknown, known: readonly string[], name = 'options'): void {
  if (options === undefined) return;
  const proto: unknown = options !== null && typeof options === 'object' ? Object.getPrototypeOf(options) : undefined;
  if (proto !== Object.prototype && proto !== null)
    throw new ArgumentError(`${op}: ${name} must be an object (${known.map((k) => `${k}?`).join(', ')}), got ${describe(options)}`);
  for (const key of Object.keys(options as object))
    if (!known.includes(key)) throw new ArgumentError(`${op}: unknown key '${key}' in ${name}; known: ${known.join(', ')}`);
}
