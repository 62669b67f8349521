/**
 * The autograd tape. Every differentiable op that sees an input needing a gradient records a `Node` on its
 * output: the op name, one edge per input (to the input's own node, or to the leaf tensor whose `.grad`
 * receives the result), the tensors the rule saved, and the rule itself.
 *
 * Memory. The graph references tensors only through saved views (each holds its own reference to the
 * storage) and leaf parameters. `backward()` walks the nodes in reverse topological order and releases
 * each node's saved views and incoming gradient as soon as the node's rule has run, so peak memory during
 * backward is the activations still unconsumed plus the gradients in flight, and nothing survives it but
 * the leaves' `.grad`. Saved views are created inside whatever `tidy` scope runs the forward pass, so a
 * forward pass that is never differentiated is still freed by its scope.
 */
import { ArgumentError, DisposedError, DTypeError, ShapeError, fmtShape } from '../engine/errors.js';
import { isFloat } from '../engine/dtype.js';
import * as raw from '../engine/ops/index.js';
import { keep, Tensor, type GradNode } from '../engine/tensor.js';
import { sameShape } from '../engine/shape.js';

/** Where an input's gradient goes: into another node, or into a leaf tensor's `.grad`. */
type Edge = { readonly node: Node } | { readonly leaf: Tensor };

/**
 * A backward rule: given the gradient of the op's output, the gradient of each input (null where an input
 * needs none). Returned tensors are owned by the caller; a rule returns distinct tensor objects per input.
 */
export type BackwardRule = (gradOut: Tensor, needs: readonly boolean[]) => (Tensor | null)[];

export class Node implements GradNode {
  /** Set once `backward` has consumed the node: running backward through it again is an error. */
  released = false;
  constructor(
    readonly name: string,
    readonly edges: readonly (Edge | null)[],
    private rule: BackwardRule | null,
    private saved: Tensor[],
  ) {}

  apply(gradOut: Tensor): (Tensor | null)[] {
    const rule = this.rule;
    if (!rule) throw new ArgumentError(`backward: the graph through '${this.name}' was already freed by an earlier backward()`);
    try {
      return rule(gradOut, this.edges.map((e) => e !== null));
    } catch (err) {
      if (err instanceof DisposedError)
        throw new DisposedError(
          `backward: a tensor saved by '${this.name}' was disposed before backward() ran (${err.message}); ` +
            `call backward() inside the tidy scope that ran the forward pass`,
        );
      throw err;
    }
  }

  release(): void {
    for (const t of this.saved) t.dispose();
    this.saved = [];
    this.rule = null;
    this.released = true;
  }
}

let gradEnabled = true;

/** Whether ops record nodes now (false inside `noGrad`). */
export function isGradEnabled(): boolean {
  return gradEnabled;
}

function runWithGradMode<T>(op: string, enabled: boolean, fn: () => T): T {
  const saved = gradEnabled;
  gradEnabled = enabled;
  try {
    const result = fn();
    if (result instanceof Promise) throw new ArgumentError(`${op}: fn returned a Promise; wrap synchronous code only`);
    return result;
  } finally {
    gradEnabled = saved;
  }
}

/** Runs `fn` without recording the graph (inference, optimizer updates). Synchronous only. */
export function noGrad<T>(fn: () => T): T {
  return runWithGradMode('noGrad', false, fn);
}

/** Runs `fn` with recording on again, even inside `noGrad`. Synchronous only. */
export function enableGrad<T>(fn: () => T): T {
  return runWithGradMode('enableGrad', true, fn);
}

/** True when gradients flow into `t`: a leaf with requiresGrad, or the output of a recorded op. */
export function needsGrad(t: unknown): boolean {
  return t instanceof Tensor && (t.requiresGrad || t.gradNode !== null);
}

/** True when any operand will receive a gradient: only then do ops save tensors for the backward pass. */
export function anyNeedsGrad(...xs: readonly unknown[]): boolean {
  return xs.some((x) => needsGrad(x));
}

/** Another reference to `g`, so a rule can hand the same gradient to two inputs as distinct tensors. */
export function alias(g: Tensor): Tensor {
  return g.view(g.shape, g.strides);
}

/** A new reference to `t`'s storage that the tape owns (a saved tensor). */
export function save(t: Tensor): Tensor {
  return t.view(t.shape, t.strides);
}

/**
 * Records `rule` on `out` when grad mode is on and some input needs a gradient; otherwise drops `saved`.
 * `inputs` lists the op's tensor operands in the order the rule returns their gradients.
 */
export function record(name: string, out: Tensor, inputs: readonly unknown[], saved: Tensor[], rule: BackwardRule): Tensor {
  const edges = inputs.map((x): Edge | null => {
    if (!(x instanceof Tensor) || !isGradEnabled()) return null;
    if (x.gradNode instanceof Node) return { node: x.gradNode };
    if (x.requiresGrad) return { leaf: x };
    return null;
  });
  if (edges.every((e) => e === null)) {
    for (const t of saved) t.dispose();
    return out;
  }
  if (!isFloat(out.dtype)) throw new DTypeError(`${name}: gradients need a float output, got ${out.dtype}`);
  out.gradNode = new Node(name, edges, rule, saved);
  out.requiresGrad = true;
  return out;
}

/** Adds `g` into `acc` (both consumed). */
function accumulate(acc: Tensor | undefined, g: Tensor): Tensor {
  if (!acc) return g;
  const sum = raw.add(acc, g);
  acc.dispose();
  g.dispose();
  return sum;
}

/**
 * Back-propagates from `output`: accumulates d(output)/d(leaf) (times `grad`) into every leaf's `.grad`,
 * then frees the graph. `grad` defaults to 1 and is required for non-scalar outputs; it is not consumed.
 */
export function backward(output: Tensor, grad?: Tensor): void {
  output.storage('backward');
  if (!needsGrad(output)) throw new ArgumentError(`backward: tensor ${fmtShape(output.shape)} does not require grad (no recorded op and not a requiresGrad leaf)`);
  if (grad === undefined && output.size !== 1)
    throw new ShapeError(`backward: output ${fmtShape(output.shape)} is not a scalar; pass the gradient of the output`);
  if (grad !== undefined && !sameShape(grad.shape, output.shape))
    throw new ShapeError(`backward: gradient ${fmtShape(grad.shape)} does not match output ${fmtShape(output.shape)}`);
  if (grad !== undefined && grad.dtype !== output.dtype)
    throw new DTypeError(`backward: gradient dtype ${grad.dtype} differs from output dtype ${output.dtype}`);
  const seed = grad ? save(grad) : raw.full(output.shape, 1, { dtype: output.dtype });

  const root = output.gradNode;
  if (!(root instanceof Node)) {
    accumulateLeaf(output, seed);
    return;
  }
  if (root.released) throw new ArgumentError(`backward: the graph through '${root.name}' was already freed by an earlier backward()`);
  // Topological order by iterative DFS (deep graphs must not overflow the stack).
  const order: Node[] = [];
  const visited = new Set<Node>();
  const stack: { node: Node; next: number }[] = [{ node: root, next: 0 }];
  visited.add(root);
  while (stack.length) {
    const top = stack[stack.length - 1]!;
    const edge = top.node.edges[top.next++];
    if (top.next > top.node.edges.length) {
      order.push(top.node);
      stack.pop();
      continue;
    }
    if (edge && 'node' in edge && !visited.has(edge.node)) {
      if (edge.node.released) throw new ArgumentError(`backward: the graph through '${edge.node.name}' was already freed by an earlier backward()`);
      visited.add(edge.node);
      stack.push({ node: edge.node, next: 0 });
    }
  }

  const grads = new Map<Node, Tensor>([[root, seed]]);
  try {
    for (let i = order.length - 1; i >= 0; i--) {
      const node = order[i]!;
      const g = grads.get(node);
      grads.delete(node);
      if (!g) {
        node.release();
        continue;
      }
      let inputGrads: (Tensor | null)[];
      try {
        inputGrads = node.apply(g);
      } finally {
        g.dispose();
        node.release();
      }
      node.edges.forEach((edge, k) => {
        const gi = inputGrads[k];
        if (!gi) return;
        if (!edge) return gi.dispose();
        if ('leaf' in edge) accumulateLeaf(edge.leaf, gi);
        else grads.set(edge.node, accumulate(grads.get(edge.node), gi));
      });
    }
  } finally {
    for (const g of grads.values()) g.dispose();
    for (const node of order) node.release();
  }
}

/** Adds `g` (consumed) into `leaf.grad`, which escapes every tidy scope: it lives until zeroGrad or dispose. */
function accumulateLeaf(leaf: Tensor, g: Tensor): void {
  if (leaf.disposed) return g.dispose();
  const owned = raw.contiguous(g);
  g.dispose();
  const next = leaf.grad && !leaf.grad.disposed ? accumulate(leaf.grad, owned) : owned;
  leaf.grad = keep(next);
}

/** A view of `t` that is cut from the graph (no gradient flows through it). */
export function detach(t: Tensor): Tensor {
  return t.view(t.shape, t.strides);
}

/** Disposes and clears the `.grad` of each tensor. */
export function zeroGrad(params: Iterable<Tensor>): void {
  for (const p of params) {
    p.grad?.dispose();
    p.grad = null;
  }
}
