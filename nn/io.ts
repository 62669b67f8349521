/**
 * Checkpoint files for modules and optimizers: `loadCheckpoint` reads safetensors or PyTorch .pth files
 * (format sniffed from the first bytes, not the name) into host tensors for `Module.loadStateDict`;
 * `saveSafetensors` writes a module's state (and optionally an optimizer's, under `optimizer.`) back out.
 */
import { expectOptions } from '../engine/arguments.js';
import { ArgumentError, DTypeError, FormatError } from '../engine/errors.js';
import { f32ArrayToF16 } from '../engine/f16.js';
import { expectBytesSource, openBytes, readBytes } from '../engine/platform.js';
import { Tensor } from '../engine/tensor.js';
import {
  flattenStateDict, hostTensor, loadTorch, readSafetensors, writeSafetensors, type CheckpointSource, type HostTensor,
} from './checkpoint/index.js';
import { Module } from './module.js';
import type { OptimizerStateDict } from './optim.js';

/** Prefix of optimizer entries in files written by `saveSafetensors`. */
export const OPTIMIZER_PREFIX = 'optimizer.';

type Format = 'safetensors' | 'torch';

async function sniff(src: CheckpointSource): Promise<Format> {
  const file = await openBytes(src, 'loadCheckpoint');
  try {
    const head = await file.read(0, Math.min(file.size, 9));
    // torch.save: a zip archive (PK\x03\x04) or, before PyTorch 1.6, a raw pickle stream (protocol byte 0x80).
    if (head[0] === 0x50 && head[1] === 0x4b) return 'torch';
    if (head[0] === 0x80) return 'torch';
    // safetensors: u64 little-endian header length, then the JSON header's '{'.
    if (head.length === 9 && head[8] === 0x7b) return 'safetensors';
    throw new FormatError(`loadCheckpoint: ${file.name} is neither a safetensors file nor a PyTorch checkpoint (first bytes ${[...head].map((b) => b.toString(16).padStart(2, '0')).join(' ')})`, 0);
  } finally {
    await file.close();
  }
}

/**
 * Reads every tensor of a safetensors or torch.save checkpoint as name -> host tensor. PyTorch files are
 * flattened with `flattenStateDict` (a nested `state_dict`/`model` entry is unwrapped); `prefix` keeps
 * only names starting with it and strips it (e.g. 'module.').
 */
export async function loadCheckpoint(src: CheckpointSource, options: { prefix?: string } = {}): Promise<Map<string, HostTensor>> {
  expectBytesSource('loadCheckpoint', src);
  expectOptions('loadCheckpoint', options, ['prefix']);
  const { prefix = '' } = options;
  // A Response body can be read once; sniffing and parsing each read it, so buffer it first.
  const source = typeof Response !== 'undefined' && src instanceof Response ? await readBytes(src) : src;
  const format = await sniff(source);
  if (format === 'torch') return flattenStateDict(await loadTorch(source), { prefix });
  const { tensors } = await readSafetensors(source);
  return withPrefix(tensors, prefix);
}

/** The entries whose names start with `prefix`, with the prefix removed. */
export function withPrefix<T>(entries: ReadonlyMap<string, T>, prefix: string): Map<string, T> {
  const out = new Map<string, T>();
  for (const [k, v] of entries) if (k.startsWith(prefix)) out.set(k.slice(prefix.length), v);
  return out;
}

/** Copies a GPU tensor to the host in its own dtype (f16 keeps its 16-bit patterns). */
async function toHost(t: Tensor, name: string): Promise<HostTensor> {
  const data = await t.data();
  const shape = [...t.shape];
  switch (t.dtype) {
    case 'f32':
      return hostTensor('f32', shape, data as Float32Array);
    case 'f16':
      return hostTensor('f16', shape, f32ArrayToF16(data as Float32Array));
    case 'i32':
      return hostTensor('i32', shape, data as Int32Array);
    default:
      // safetensors has no u32; i64 holds every u32 exactly.
      if (t.dtype === 'u32') return hostTensor('i64', shape, BigInt64Array.from(data as Uint32Array, (v) => BigInt(v)));
      throw new DTypeError(`saveSafetensors: cannot store '${name}' of dtype ${String(t.dtype)}`);
  }
}

/**
 * Serializes a module's state dict (or any name -> tensor map) to safetensors bytes. With `optimizer`, its
 * state is included under `optimizer.` (restore with `optimizer.loadStateDict(withPrefix(sd, OPTIMIZER_PREFIX))`).
 */
export async function saveSafetensors(
  source: Module | ReadonlyMap<string, Tensor | HostTensor>,
  { optimizer, metadata }: { optimizer?: { stateDict(): OptimizerStateDict }; metadata?: ReadonlyMap<string, string> } = {},
): Promise<Uint8Array> {
  const entries: [string, Tensor | HostTensor][] = [...(source instanceof Module ? source.stateDict() : source)];
  if (optimizer) for (const [k, v] of optimizer.stateDict()) entries.push([OPTIMIZER_PREFIX + k, v]);
  const out = new Map<string, HostTensor>();
  for (const [name, t] of entries) {
    if (out.has(name)) throw new ArgumentError(`saveSafetensors: two entries are named '${name}'`);
    out.set(name, t instanceof Tensor ? await toHost(t, name) : t);
  }
  return writeSafetensors(out, metadata);
}
