/**
 * Training losses read back one step late, for `fit` and CLIP pre-training. Each step's readback starts
 * when the step is recorded and is awaited only after the next step is, so the GPU runs one step while
 * JavaScript records the following one instead of the two taking turns; one readback in flight also
 * keeps the queue from running ahead. Losses still come back in step order, each with the caller's
 * note about its step.
 */
import type { Tensor } from '../engine/tensor.js';

export interface SettledLoss<M> {
  readonly value: number;
  readonly meta: M;
}

interface Pending<M> {
  readonly value: Promise<number>;
  readonly loss: Tensor;
  readonly meta: M;
}

export class LaggedLoss<M> {
  private pending: Pending<M> | null = null;

  /**
   * Starts reading `loss` back (taking ownership: it is disposed once read) and returns the previous
   * step's loss, or null at the first step.
   */
  async push(loss: Tensor, meta: M): Promise<SettledLoss<M> | null> {
    const previous = this.pending;
    const value = loss.item();
    value.catch(() => undefined); // handled when settled; not an unhandled rejection meanwhile
    this.pending = { value, loss, meta };
    return previous ? settle(previous) : null;
  }

  /** The last pushed loss, or null when none is waiting (at the end of an epoch). */
  async drain(): Promise<SettledLoss<M> | null> {
    const last = this.pending;
    this.pending = null;
    return last ? settle(last) : null;
  }

  /** Waits for a pending readback and frees its tensor without reporting it (on the way out of an error). */
  async abandon(): Promise<void> {
    const last = this.pending;
    this.pending = null;
    if (!last) return;
    await last.value.catch(() => undefined);
    last.loss.dispose();
  }
}

async function settle<M>(p: Pending<M>): Promise<SettledLoss<M>> {
  try {
    return { value: await p.value, meta: p.meta };
  } finally {
    p.loss.dispose();
  }
}
