/**
 * `Module`: the base of every layer. A module's state is found by walking its own properties in insertion
 * order (class fields in declaration order): a `Module` value is a submodule, a `Tensor` value is a
 * parameter, unless it was declared with `buffer()` (state that is saved and loaded but not trained, such
 * as fixed position ids). Names join the property path with dots, exactly as PyTorch's `state_dict()`, so
 * a layer whose fields mirror a PyTorch module's attributes loads that module's checkpoints as they are.
 */
import { isFloat, type DType } from '../engine/dtype.js';
import { expectOptions } from '../engine/arguments.js';
import { DTypeError, OmniError, fmtShape } from '../engine/errors.js';
import * as raw from '../engine/ops/index.js';
import { sameShape } from '../engine/shape.js';
import { Tensor } from '../engine/tensor.js';
import { toFloat32, toInt32, type HostTensor } from './checkpoint/index.js';

/** A state-dict load that found missing, unexpected or mis-shaped entries (strict mode). */
export class StateDictError extends OmniError {
  constructor(readonly report: LoadReport) {
    super(`loadStateDict: ${describeReport(report)}`);
  }
}

export interface LoadReport {
  /** Module entries the state dict lacks. */
  missing: string[];
  /** State dict entries the module has no place for. */
  unexpected: string[];
  /** Entries present in both whose shapes differ: "name: file [a,b] vs module [c,d]". */
  mismatched: string[];
}

function describeReport(r: LoadReport): string {
  const parts: string[] = [];
  if (r.missing.length) parts.push(`missing keys: ${r.missing.join(', ')}`);
  if (r.unexpected.length) parts.push(`unexpected keys: ${r.unexpected.join(', ')}`);
  if (r.mismatched.length) parts.push(`shape mismatches: ${r.mismatched.join('; ')}`);
  return parts.join('; ');
}

const BUFFERS = Symbol('buffers');

export abstract class Module {
  /** Whether the module is in training mode (dropout active). */
  training = true;
  private readonly [BUFFERS] = new Set<string>();

  /** Marks property `name` (assigned `t`) as a buffer: saved and loaded, never returned by `parameters()`. */
  protected buffer(name: string, t: Tensor): Tensor {
    this[BUFFERS].add(name);
    t.requiresGrad = false;
    return t;
  }

  /** Own tensor entries in insertion order. */
  private ownTensors(): [string, Tensor, boolean][] {
    const out: [string, Tensor, boolean][] = [];
    for (const [k, v] of Object.entries(this)) if (v instanceof Tensor) out.push([k, v, this[BUFFERS].has(k)]);
    return out;
  }

  /** Direct submodules in insertion order. */
  children(): [string, Module][] {
    return Object.entries(this).filter((e): e is [string, Module] => e[1] instanceof Module);
  }

  /** This module and all descendants with their dotted names ('' for this one). */
  namedModules(prefix = ''): [string, Module][] {
    const out: [string, Module][] = [[prefix, this]];
    for (const [k, m] of this.children()) out.push(...m.namedModules(prefix ? `${prefix}.${k}` : k));
    return out;
  }

  private namedTensors(kind: 'params' | 'all'): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    const seen = new Set<Tensor>();
    for (const [prefix, m] of this.namedModules())
      for (const [k, t, isBuffer] of m.ownTensors()) {
        if ((kind === 'params' && isBuffer) || seen.has(t)) continue;
        seen.add(t);
        out.push([prefix ? `${prefix}.${k}` : k, t]);
      }
    return out;
  }

  /** Parameters with PyTorch-style dotted names; a tensor shared by two modules appears once. */
  namedParameters(): [string, Tensor][] {
    return this.namedTensors('params');
  }

  parameters(): Tensor[] {
    return this.namedParameters().map(([, t]) => t);
  }

  /** Parameters and buffers by dotted name (the live tensors, not copies). */
  stateDict(): Map<string, Tensor> {
    return new Map(this.namedTensors('all'));
  }

  /** Training mode on (default) or off, for this module and all descendants. */
  train(on = true): this {
    for (const [, m] of this.namedModules()) m.training = on;
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  /** Turns gradient tracking of every parameter on or off (freezing). */
  requiresGrad(on = true): this {
    for (const p of this.parameters()) p.requiresGrad = on;
    return this;
  }

  /**
   * Copies values from `sd` into the module's tensors in place (optimizers holding them stay valid).
   * Host tensors are converted to each tensor's dtype. With `strict` (default) any missing, unexpected or
   * mis-shaped entry throws a `StateDictError` naming them all and nothing is loaded; otherwise what
   * matches is loaded and the report returned.
   */
  loadStateDict(sd: ReadonlyMap<string, Tensor | HostTensor>, options: { strict?: boolean } = {}): LoadReport {
    expectOptions('loadStateDict', options, ['strict']);
    const { strict = true } = options;
    const own = this.stateDict();
    const report: LoadReport = { missing: [], unexpected: [], mismatched: [] };
    for (const name of own.keys()) if (!sd.has(name)) report.missing.push(name);
    for (const name of sd.keys()) if (!own.has(name)) report.unexpected.push(name);
    for (const [name, t] of own) {
      const src = sd.get(name);
      if (src && !sameShape(src.shape, t.shape)) report.mismatched.push(`${name}: given ${fmtShape(src.shape)} vs module ${fmtShape(t.shape)}`);
    }
    if (strict && (report.missing.length || report.unexpected.length || report.mismatched.length)) throw new StateDictError(report);
    for (const [name, t] of own) {
      const src = sd.get(name);
      if (src && sameShape(src.shape, t.shape)) copyInto(t, src, name);
    }
    return report;
  }

  /** Casts every float parameter and buffer to `dtype` (e.g. 'f16' for inference), replacing the tensors. */
  to(dtype: DType): this {
    if (!isFloat(dtype)) throw new DTypeError(`Module.to: only float dtypes are supported, got ${dtype}`);
    for (const [, m] of this.namedModules())
      for (const [k, t] of m.ownTensors()) {
        if (!isFloat(t.dtype) || t.dtype === dtype) continue;
        const cast = raw.cast(t, dtype);
        cast.requiresGrad = t.requiresGrad;
        (m as unknown as Record<string, Tensor>)[k] = cast;
        t.dispose();
      }
    return this;
  }

  /** Disposes every parameter and buffer. */
  dispose(): void {
    for (const t of this.stateDict().values()) t.dispose();
  }
}

/** Writes `src` into the live tensor `dst` (same shape), converting dtype. */
function copyInto(dst: Tensor, src: Tensor | HostTensor, name: string): void {
  if (src instanceof Tensor && src.storage('loadStateDict') === dst.storage('loadStateDict') && src.offset === dst.offset) return;
  let tmp: Tensor;
  if (src instanceof Tensor) tmp = src.dtype === dst.dtype ? raw.contiguous(src) : raw.cast(src, dst.dtype);
  else if (isFloat(dst.dtype)) tmp = raw.fromFlat(toFloat32(src, name), dst.shape, dst.dtype, 'loadStateDict');
  else tmp = raw.fromFlat(toInt32(src, name), dst.shape, dst.dtype, 'loadStateDict');
  try {
    raw.assign(dst, tmp);
  } finally {
    tmp.dispose();
  }
}
