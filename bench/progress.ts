// A progress bar on stderr for long commands (compare, train, bench ...).
// It draws only when stderr is a terminal and the caller did not ask for
// quiet, so piped output, --json and tests never see it. Work is measured in
// arbitrary units (runs, steps, estimated flops); the bar shows the fraction
// done, the elapsed time, an estimate of the time left, and a short note.

export interface ProgressOptions {
  /** Total units of work (> 0). */
  total: number;
  /** Shown before the bar, e.g. "compare". */
  label?: string;
  /** Never draw (e.g. --quiet). */
  quiet?: boolean;
  /** Where to draw; default process.stderr. Drawing happens only if stream.isTTY. */
  stream?: NodeJS.WriteStream;
  /** Bar width in characters (default 28). */
  width?: number;
  /** Minimum milliseconds between redraws (default 100). */
  intervalMs?: number;
}

export interface Progress {
  /** Whether anything is drawn at all. */
  readonly active: boolean;
  /** Adds `units` of finished work; `note` replaces the text after the bar. */
  advance(units: number, note?: string): void;
  /** Sets the text after the bar without advancing (e.g. what starts now). */
  note(text: string): void;
  /** Clears the bar's line. Call once at the end (also on errors). */
  done(): void;
}

function clock(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}

export function createProgress(options: ProgressOptions): Progress {
  const stream = options.stream ?? process.stderr;
  const active = options.quiet !== true && stream.isTTY === true;
  const total = options.total > 0 && Number.isFinite(options.total) ? options.total : 1;
  const width = options.width ?? 28;
  const interval = options.intervalMs ?? 100;
  const label = options.label ?? '';
  const start = performance.now();
  let done = 0;
  let text = '';
  let lastDraw = -Infinity;
  let finished = false;

  const draw = (force: boolean) => {
    if (!active || finished) return;
    const now = performance.now();
    if (!force && now - lastDraw < interval) return;
    lastDraw = now;
    const fraction = Math.min(1, done / total);
    const filled = Math.round(fraction * width);
    const elapsed = now - start;
    const eta = fraction > 0.02 ? clock((elapsed * (1 - fraction)) / fraction) : '?';
    const head = `${label ? label + ' ' : ''}[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${String(Math.floor(fraction * 100)).padStart(3)}% ${clock(elapsed)} elapsed, ${eta} left`;
    const columns = stream.columns > 20 ? stream.columns : 100;
    let line = text ? `${head}  ${text}` : head;
    if (line.length > columns - 1) line = line.slice(0, Math.max(0, columns - 1));
    stream.write(`\r${line}\x1b[K`);
  };

  return {
    active,
    advance(units: number, note?: string) {
      if (Number.isFinite(units) && units > 0) done += units;
      if (note !== undefined) text = note;
      draw(false);
    },
    note(t: string) {
      text = t;
      draw(true);
    },
    done() {
      if (active && !finished) stream.write('\r\x1b[K');
      finished = true;
    },
  };
}
