/**
 * Summary of a V8 CPU profile (the `.cpuprofile` JSON that `node --cpu-prof` and the inspector's
 * Profiler.stop produce): where the host's time went, for bench/step-probe.ts.
 *
 * A profile is a call tree of nodes plus a sample stream: sample i names the node that was on top of
 * the stack, and timeDeltas[i] is the time since the previous sample, which is charged to it. V8 puts
 * three pseudo-nodes directly under the root: '(idle)' (the thread waited, here on the GPU), '(garbage
 * collector)' and '(program)' (V8 and native work it cannot attribute to a function). Everything else is
 * JavaScript, with native calls (Dawn's bindings) charged to the function that made them.
 */

/** The parts of a V8 CPU profile this summary reads. */
export interface CpuProfile {
  readonly nodes: readonly {
    readonly id: number;
    readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
    readonly children?: readonly number[];
  }[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

/** Milliseconds charged to one function (name, file, line). */
export interface FunctionTime {
  readonly name: string;
  readonly ms: number;
}

export interface CpuProfileSummary {
  /** Milliseconds the samples cover. */
  readonly totalMs: number;
  readonly idleMs: number;
  readonly gcMs: number;
  readonly programMs: number;
  /** JavaScript and the native calls it made: total minus the three above. */
  readonly scriptMs: number;
  /** Functions by their own time (top of the stack), slowest first. */
  readonly self: readonly FunctionTime[];
  /** Functions by inclusive time (anywhere on the stack, counted once per sample), slowest first. */
  readonly inclusive: readonly FunctionTime[];
}

const PSEUDO = new Set(['(root)', '(idle)', '(garbage collector)', '(program)']);

/** "name dir/file.js:line" (line 1-based; V8's is 0-based), or the bare name of a pseudo-node. */
function frameName(frame: CpuProfile['nodes'][number]['callFrame']): string {
  const name = frame.functionName || '(anonymous)';
  if (PSEUDO.has(name) || !frame.url) return name;
  return `${name} ${frame.url.split('/').slice(-2).join('/')}:${frame.lineNumber + 1}`;
}

/** Sorted slowest first, the first `top` of them. */
function ranked(times: Map<string, number>, top: number): FunctionTime[] {
  return [...times].map(([name, us]) => ({ name, ms: us / 1000 })).sort((a, b) => b.ms - a.ms).slice(0, top);
}

/**
 * Where a profile's time went: the pseudo-nodes' shares and the `top` functions by self and inclusive time.
 * Samples with a frame from one of `ignoreUrls` on their stack are left out (a profiler's own calls:
 * stopping an inspector session is sampled under node:inspector).
 */
export function summarizeCpuProfile(profile: CpuProfile, top = 25, ignoreUrls: readonly string[] = []): CpuProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

  // Microseconds per node on top of the stack.
  const onTop = new Map<number, number>();
  profile.samples.forEach((id, i) => onTop.set(id, (onTop.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const ignored = (id: number): boolean => {
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) if (ignoreUrls.includes(byId.get(at)!.callFrame.url)) return true;
    return false;
  };

  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  const pseudo = new Map<string, number>();
  let total = 0;
  for (const [id, us] of onTop) {
    if (ignored(id)) continue;
    total += us;
    const name = frameName(byId.get(id)!.callFrame);
    if (PSEUDO.has(name)) {
      pseudo.set(name, (pseudo.get(name) ?? 0) + us);
      continue;
    }
    self.set(name, (self.get(name) ?? 0) + us);
    // Each function once per stack, however deep its recursion.
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const frame = frameName(byId.get(at)!.callFrame);
      if (PSEUDO.has(frame) || seen.has(frame)) continue;
      seen.add(frame);
      inclusive.set(frame, (inclusive.get(frame) ?? 0) + us);
    }
  }
  const ms = (name: string) => (pseudo.get(name) ?? 0) / 1000;
  const idleMs = ms('(idle)');
  const gcMs = ms('(garbage collector)');
  const programMs = ms('(program)') + ms('(root)');
  const totalMs = total / 1000;
  return { totalMs, idleMs, gcMs, programMs, scriptMs: totalMs - idleMs - gcMs - programMs, self: ranked(self, top), inclusive: ranked(inclusive, top) };
}
