/**
 * Progress display for long runs. On a terminal, one bar redrawn in place (`\r`, clear to end of line);
 * anywhere else (a pipe, a CI log, a file) the same information as plain lines, one per quarter of the run, so logs stay readable. Platform-neutral: the caller supplies the sink.
 */

export interface ProgressSink {
  write(text: string): void;
  /** Whether the sink is an interactive terminal (redraw in place) or a log (append lines). */
  readonly isTTY: boolean;
  /** Terminal width in characters (TTY only). */
  readonly columns?: number;
}

/** `12.3 s`, `4 min 05 s`. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const m = Math.floor(seconds / 60);
  return `${m} min ${String(Math.round(seconds - m * 60)).padStart(2, '0')} s`;
}

/** The bar itself: `[#####.....]` with `width` cells for `fraction` in [0, 1]. */
export function renderBar(fraction: number, width: number): string {
  const f = Math.min(1, Math.max(0, Number.isFinite(fraction) ? fraction : 0));
  const filled = Math.round(f * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`;
}

export class ProgressBar {
  private done = 0;
  private readonly started: number;
  private lastLine = '';
  private lastLoggedQuarter = -1;

  /**
   * `label` prefixes every line; `total` steps make 100%; `now` returns milliseconds (injectable for
   * tests, `performance.now` by default).
   */
  constructor(
    private readonly sink: ProgressSink,
    private readonly label: string,
    private readonly total: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.started = now();
  }

  /** Marks `done` of `total` steps complete, with a short status (e.g. `loss 0.41`). */
  update(done: number, status = ''): void {
    this.done = Math.min(this.total, Math.max(0, done));
    const fraction = this.total > 0 ? this.done / this.total : 1;
    const elapsed = (this.now() - this.started) / 1000;
    const eta = fraction > 0 && fraction < 1 ? ` eta ${formatDuration((elapsed / fraction) * (1 - fraction))}` : '';
    const pct = `${Math.floor(fraction * 100)}%`.padStart(4);
    if (this.sink.isTTY) {
      const cols = this.sink.columns ?? 80;
      const head = `${this.label} `;
      const tail = ` ${pct} ${status}${eta}`;
      const barWidth = Math.max(10, Math.min(40, cols - head.length - tail.length - 1));
      const line = `${head}${renderBar(fraction, barWidth)}${tail}`.slice(0, cols - 1);
      if (line !== this.lastLine) this.sink.write(`\r${line}\x1b[K`);
      this.lastLine = line;
      return;
    }
    // Logs: one line per quarter (and the last), never a line per mini-batch.
    const quarter = Math.floor(fraction * 4);
    if (quarter === this.lastLoggedQuarter) return;
    this.lastLoggedQuarter = quarter;
    this.sink.write(`${this.label} ${pct} ${status}${eta}`.trimEnd() + '\n');
  }

  /** Ends the bar with a final status line (the bar line is kept on a terminal). */
  finish(status: string): void {
    const elapsed = (this.now() - this.started) / 1000;
    const line = `${this.label} ${status} (${formatDuration(elapsed)})`;
    this.sink.write(this.sink.isTTY ? `\r${line}\x1b[K\n` : `${line}\n`);
  }
}
