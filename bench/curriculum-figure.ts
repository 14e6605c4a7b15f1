// Learning curves of the copy curriculum (lib/train/curriculum.ts) as an SVG: the longest delay
// solved against the data seen (input steps) and against wall time, one line per run. Shared by
// `loopgrad train copy --curriculum --svg` and scripts/curriculum-curves.ts.
import { type Point, type Series, renderSvg } from './svg.js';

/** What a curve needs of a curriculum run (a CurriculumReport or its JSON). */
export interface CurriculumRun {
  label: string;
  /** When each delay was solved, in order. */
  solved: readonly { delay: number; steps: number; elapsedMs: number }[];
  /** The last check: how much data and time the run had in all. */
  end: { steps: number; elapsedMs: number };
  /** The delay the run started from (default 1). */
  startDelay?: number;
  /** The data seen at the first check, where the curve against data (a log axis) starts. */
  firstSteps: number;
}

/**
 * A staircase: the longest delay solved is startDelay - 1 until the first solve, and steps up by
 * one at each later solve; it runs on flat to the end of the run. It starts at x = origin.
 */
export function reachedStaircase(run: CurriculumRun, x: (p: { steps: number; elapsedMs: number }) => number, origin: number): Point[] {
  let level = (run.startDelay ?? 1) - 1;
  const points: Point[] = [{ x: origin, y: level }];
  for (const s of run.solved) {
    points.push({ x: x(s), y: level });
    level = s.delay;
    points.push({ x: x(s), y: level });
  }
  points.push({ x: x(run.end), y: level });
  return points;
}

export function curriculumSvg(runs: readonly CurriculumRun[], title: string, caption: string): string {
  // Data seen spans orders of magnitude between methods (RTRL sees a hundredth of BPTT's in the
  // same time): a log axis, from each run's first check. Wall time: linear from 0.
  const series = (x: (p: { steps: number; elapsedMs: number }) => number, origin: (run: CurriculumRun) => number): Series[] =>
    runs.map((run) => ({ label: run.label, points: reachedStaircase(run, x, origin(run)), markers: false }));
  return renderSvg({
    title,
    caption,
    panels: [
      { title: 'against data seen', xLabel: 'input steps seen (all sequences)', yLabel: 'longest delay solved', xScale: 'log', yScale: 'linear', series: series((p) => p.steps, (run) => run.firstSteps) },
      { title: 'against wall time', xLabel: 'seconds', yLabel: 'longest delay solved', xScale: 'linear', yScale: 'linear', series: series((p) => p.elapsedMs / 1000, () => 0) },
    ],
  });
}
