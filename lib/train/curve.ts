// A learning curve in bounded memory. Every batch's loss is added; once more
// than `cap` points are held, adjacent points are merged into their mean (each
// point then stands for twice as many iterations), so any run length keeps at
// most `cap` points. The first iteration stays a point of its own, every point
// carries the exact iteration number of the last batch it covers, and the last
// point ends at the last iteration added.
import { ConfigError } from '../mat/errors.js';

export interface CurvePoint {
  /** The last iteration (1-based) the point covers. */
  step: number;
  /** Mean loss over the iterations the point covers. */
  loss: number;
}

export const DEFAULT_CURVE_CAP = 2048;

export class BoundedCurve {
  readonly cap: number;
  /** Iterations each merged point covers (a power of two). */
  width = 1;
  private first: CurvePoint | null = null;
  private readonly points: CurvePoint[] = [];
  private sum = 0;
  private count = 0;
  private lastStep = 0;
  private lastLoss = 0;

  constructor(cap = DEFAULT_CURVE_CAP) {
    if (!Number.isInteger(cap) || cap < 4) throw new ConfigError('BoundedCurve', `cap must be an integer >= 4, got ${cap}`, { option: 'cap', value: cap });
    this.cap = cap;
  }

  add(step: number, loss: number): void {
    if (this.first === null) { this.first = { step, loss }; return; }
    this.sum += loss;
    this.count++;
    this.lastStep = step;
    this.lastLoss = loss;
    if (this.count < this.width) return;
    this.points.push({ step, loss: this.sum / this.count });
    this.sum = 0;
    this.count = 0;
    // first + points + a pending point must fit in cap.
    if (this.points.length + 2 > this.cap) this.compact();
  }

  private compact(): void {
    const merged: CurvePoint[] = [];
    const n = this.points.length;
    for (let i = 0; i + 1 < n; i += 2) {
      const a = this.points[i], b = this.points[i + 1];
      merged.push({ step: b.step, loss: (a.loss + b.loss) / 2 }); // equal widths: the mean of means is the mean
    }
    if (n % 2 === 1) {
      // The odd one out becomes the start of the next, wider point.
      const odd = this.points[n - 1];
      this.sum = odd.loss * this.width;
      this.count = this.width;
    }
    this.points.length = 0;
    this.points.push(...merged);
    this.width *= 2;
  }

  /** Points held (at most cap). */
  get length(): number {
    return (this.first === null ? 0 : 1) + this.points.length + (this.count > 0 ? 1 : 0);
  }

  toArray(): CurvePoint[] {
    const out: CurvePoint[] = this.first === null ? [] : [{ ...this.first }];
    for (const p of this.points) out.push({ ...p });
    if (this.count > 0) out.push({ step: this.lastStep, loss: this.count === 1 ? this.lastLoss : this.sum / this.count });
    return out;
  }
}
