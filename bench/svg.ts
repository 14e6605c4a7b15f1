// A small, dependency-free SVG plot writer: a grid of panels, each with its
// own axes (log or linear), data series drawn as lines with markers, and
// reference lines (power laws y = c·x^slope, which are straight on log-log
// axes, or horizontal / vertical guides). The result is one self-contained
// SVG string; nothing here touches the file system.
//
// Used by `loopgrad compare` for its scaling plot, and meant to be reused for
// learning curves and diagnostics (linear x, log y, and so on).

export type AxisScale = 'log' | 'linear';

export interface Point {
  readonly x: number;
  readonly y: number;
}

export interface Series {
  readonly label: string;
  readonly points: readonly Point[];
  /** Any CSS colour; default: the next colour of the palette. */
  readonly color?: string;
  /** Dash pattern (stroke-dasharray), e.g. "6 3"; default solid. */
  readonly dash?: string;
  /** Draw a small circle at every point (default true). */
  readonly markers?: boolean;
}

/**
 * A guide line. `power`: y = anchor.y · (x / anchor.x)^slope across the panel's x range
 * (a straight line of that slope on log-log axes). `horizontal` / `vertical`: constant y or x.
 */
export type ReferenceLine =
  | { readonly kind: 'power'; readonly slope: number; readonly anchor: Point; readonly label?: string; readonly color?: string; readonly dash?: string }
  | { readonly kind: 'horizontal'; readonly y: number; readonly label?: string; readonly color?: string; readonly dash?: string }
  | { readonly kind: 'vertical'; readonly x: number; readonly label?: string; readonly color?: string; readonly dash?: string };

export interface Panel {
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  readonly xScale?: AxisScale; // default 'log'
  readonly yScale?: AxisScale; // default 'log'
  readonly series: readonly Series[];
  readonly references?: readonly ReferenceLine[];
  /** Tick positions (otherwise chosen from the range: powers of ten or 1-2-5 steps). */
  readonly xTicks?: readonly number[];
  readonly yTicks?: readonly number[];
  /** Legend corner; default: the corner that hides the fewest points. */
  readonly legend?: 'top-left' | 'top-right' | 'bottom-left' | 'bottom-right' | 'none';
  /** Force the axis ranges (otherwise taken from the data, padded). */
  readonly xRange?: readonly [number, number];
  readonly yRange?: readonly [number, number];
}

export interface Figure {
  readonly title?: string;
  /** A line of small print under the panels (e.g. the command that made the data). */
  readonly caption?: string;
  readonly panels: readonly Panel[];
  /** Panels per row (default: 2, or 1 for a single panel). */
  readonly columns?: number;
  readonly panelWidth?: number; // default 420
  readonly panelHeight?: number; // default 300
}

export const palette: readonly string[] = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#e377c2', '#17becf'];

const MARGIN = { left: 64, right: 14, top: 28, bottom: 44 };
const FONT = 'font-family="Helvetica, Arial, sans-serif"';

/** Escapes text for use inside SVG elements and attribute values. */
export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : c === '"' ? '&quot;' : '&#39;'));
}

/** Compact number for tick labels: 1e-3 .. 1e6 plainly, otherwise as a power of ten or with an exponent. */
export function formatTick(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  const e = Math.round(Math.log10(a));
  if ((a >= 1e6 || a < 1e-3) && Math.abs(a - 10 ** e) <= 1e-9 * a) return `${v < 0 ? '-' : ''}1e${e}`;
  if (a >= 1e6 || a < 1e-3) return v.toExponential(1).replace('e+', 'e');
  return String(Number(v.toPrecision(4)));
}

interface Axis {
  scale: AxisScale;
  lo: number;
  hi: number;
  /** Pixel position of the low and high ends. */
  p0: number;
  p1: number;
}

function toPixel(axis: Axis, v: number): number {
  const t = axis.scale === 'log'
    ? (Math.log10(v) - Math.log10(axis.lo)) / (Math.log10(axis.hi) - Math.log10(axis.lo))
    : (v - axis.lo) / (axis.hi - axis.lo);
  return axis.p0 + t * (axis.p1 - axis.p0);
}

function usable(scale: AxisScale, v: number): boolean {
  return Number.isFinite(v) && (scale === 'linear' || v > 0);
}

/** The data range of one axis, padded a little so points do not sit on the frame. */
function dataRange(scale: AxisScale, values: readonly number[], forced: readonly [number, number] | undefined, what: string): [number, number] {
  if (forced !== undefined) {
    const [lo, hi] = forced;
    if (!(hi > lo) || !usable(scale, lo) || !usable(scale, hi)) throw new Error(`svg: ${what} range [${lo}, ${hi}] does not suit a ${scale} axis`);
    return [lo, hi];
  }
  const ok = values.filter((v) => usable(scale, v));
  if (ok.length === 0) return scale === 'log' ? [1, 10] : [0, 1];
  let lo = Math.min(...ok), hi = Math.max(...ok);
  if (scale === 'log') {
    if (hi / lo < 1.0001) { lo /= 2; hi *= 2; }
    const pad = (Math.log10(hi) - Math.log10(lo)) * 0.06;
    return [10 ** (Math.log10(lo) - pad), 10 ** (Math.log10(hi) + pad)];
  }
  if (hi - lo < 1e-12 * Math.max(1, Math.abs(hi))) { lo -= 1; hi += 1; }
  const pad = (hi - lo) * 0.06;
  return [lo - pad, hi + pad];
}

/** Tick values: powers of ten (with 2 and 5 when the range is short) on log axes, 1-2-5 steps on linear ones. */
export function ticks(scale: AxisScale, lo: number, hi: number): number[] {
  const out: number[] = [];
  if (scale === 'log') {
    const e0 = Math.floor(Math.log10(lo)), e1 = Math.ceil(Math.log10(hi));
    const decades = e1 - e0;
    const mantissas = decades <= 2 ? [1, 2, 5] : [1];
    const stride = Math.max(1, Math.ceil(decades / 7));
    for (let e = e0; e <= e1; e += stride) {
      for (const m of mantissas) {
        const v = m * 10 ** e;
        if (v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9)) out.push(Number(v.toPrecision(12)));
      }
    }
    return out;
  }
  const raw = (hi - lo) / 6;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

function referenceSegment(ref: ReferenceLine, x: Axis, y: Axis): [number, number, number, number] | null {
  if (ref.kind === 'horizontal') {
    if (!usable(y.scale, ref.y) || ref.y < y.lo || ref.y > y.hi) return null;
    const py = toPixel(y, ref.y);
    return [x.p0, py, x.p1, py];
  }
  if (ref.kind === 'vertical') {
    if (!usable(x.scale, ref.x) || ref.x < x.lo || ref.x > x.hi) return null;
    const px = toPixel(x, ref.x);
    return [px, y.p0, px, y.p1];
  }
  const { anchor, slope } = ref;
  if (!usable('log', anchor.x) || !usable('log', anchor.y)) return null;
  // Sample the curve across the x range; clip it to the y range by walking in log space.
  const f = (v: number) => anchor.y * (v / anchor.x) ** slope;
  const x0 = x.lo > 0 ? x.lo : anchor.x, x1 = x.hi;
  let a = x0, b = x1;
  const inY = (v: number) => v >= y.lo && v <= y.hi;
  // Shrink [a, b] until both ends fall inside the y range (bisection on each end).
  const clip = (inside: number, outside: number) => {
    let i = inside, o = outside;
    for (let it = 0; it < 60; it++) {
      const m = x.scale === 'log' ? Math.sqrt(i * o) : (i + o) / 2;
      if (inY(f(m))) i = m; else o = m;
    }
    return i;
  };
  if (!inY(f(anchor.x))) return null;
  if (!inY(f(a))) a = clip(anchor.x, a);
  if (!inY(f(b))) b = clip(anchor.x, b);
  return [toPixel(x, a), toPixel(y, f(a)), toPixel(x, b), toPixel(y, f(b))];
}

function num(v: number): string {
  return (Math.round(v * 10) / 10).toString();
}

interface LegendItem { label: string; color: string; dash: string | undefined; marker: boolean }
type Corner = 'top-left' | 'top-right' | 'bottom-left' | 'bottom-right';

/** Data points and samples along the lines between them, in pixels (to see what a legend would hide). */
function dataPixels(panel: Panel, x: Axis, y: Axis): (readonly [number, number])[] {
  const pixels: (readonly [number, number])[] = [];
  for (const s of panel.series) {
    const pts = s.points.filter((p) => usable(x.scale, p.x) && usable(y.scale, p.y)).slice().sort((a, b) => a.x - b.x)
      .map((p) => [toPixel(x, p.x), toPixel(y, p.y)] as const);
    pts.forEach(([px, py], j) => {
      pixels.push([px, py]);
      if (j + 1 < pts.length) for (let f = 1; f < 8; f++) pixels.push([px + ((pts[j + 1][0] - px) * f) / 8, py + ((pts[j + 1][1] - py) * f) / 8]);
    });
  }
  return pixels;
}

function renderPanel(panel: Panel, left: number, top: number, width: number, height: number, colourStart: number): string {
  const xScale = panel.xScale ?? 'log', yScale = panel.yScale ?? 'log';
  const xs: number[] = [], ys: number[] = [];
  for (const s of panel.series) for (const p of s.points) { xs.push(p.x); ys.push(p.y); }
  for (const r of panel.references ?? []) {
    if (r.kind === 'horizontal') ys.push(r.y);
    else if (r.kind === 'vertical') xs.push(r.x);
  }
  const [xlo, xhi] = dataRange(xScale, xs, panel.xRange, 'x');
  const [ylo, yhi] = dataRange(yScale, ys, panel.yRange, 'y');
  const plotLeft = left + MARGIN.left, plotRight = left + width - MARGIN.right;
  const plotTop = top + MARGIN.top, plotBottom = top + height - MARGIN.bottom;
  const xAxis: Axis = { scale: xScale, lo: xlo, hi: xhi, p0: plotLeft, p1: plotRight };
  const yAxis: Axis = { scale: yScale, lo: ylo, hi: yhi, p0: plotBottom, p1: plotTop };

  // The legend: references first, then series, in the order given.
  const legend: LegendItem[] = [];
  for (const r of panel.references ?? []) {
    if (r.label !== undefined) legend.push({ label: r.label, color: r.color ?? '#888', dash: r.dash ?? '5 4', marker: false });
  }
  panel.series.forEach((s, i) => {
    legend.push({ label: s.label, color: s.color ?? palette[(colourStart + i) % palette.length], dash: s.dash, marker: s.markers ?? true });
  });
  const placement = panel.legend ?? 'auto';
  const boxWidth = legend.length === 0 ? 0 : 30 + 5.6 * Math.max(...legend.map((item) => item.label.length)), boxHeight = 8 + 14 * legend.length;
  const cornerAt = (c: Corner): [number, number] => [
    c.endsWith('left') ? plotLeft + 4 : plotRight - 4 - boxWidth,
    c.startsWith('top') ? plotTop + 4 : plotBottom - 4 - boxHeight,
  ];
  let corner: Corner = placement === 'auto' || placement === 'none' ? 'top-left' : placement;
  if (placement === 'auto' && legend.length > 0) {
    const covered = (c: Corner) => {
      const [bx, by] = cornerAt(c);
      return dataPixels(panel, xAxis, yAxis).filter(([px, py]) => px >= bx - 4 && px <= bx + boxWidth + 4 && py >= by - 4 && py <= by + boxHeight + 4).length;
    };
    const corners: Corner[] = ['top-left', 'top-right', 'bottom-right', 'bottom-left'];
    const counts = corners.map(covered);
    const best = Math.min(...counts);
    corner = corners[counts.indexOf(best)];
    if (best > 0 && panel.yRange === undefined) {
      // No free corner: raise the top of the y axis so that the data stay below the legend.
      const plotHeight = plotBottom - plotTop, free = plotHeight - boxHeight - 10;
      if (free > plotHeight * 0.4) {
        const stretch = plotHeight / free;
        if (yScale === 'log') yAxis.hi = 10 ** (Math.log10(ylo) + (Math.log10(yhi) - Math.log10(ylo)) * stretch);
        else yAxis.hi = ylo + (yhi - ylo) * stretch;
        corner = 'top-left';
      }
    }
  }

  const parts: string[] = [];
  parts.push(`<text x="${num((plotLeft + plotRight) / 2)}" y="${num(top + 18)}" text-anchor="middle" font-size="13" font-weight="bold" ${FONT}>${escapeXml(panel.title)}</text>`);
  parts.push(`<rect x="${num(plotLeft)}" y="${num(plotTop)}" width="${num(plotRight - plotLeft)}" height="${num(plotBottom - plotTop)}" fill="#fff" stroke="#444" stroke-width="1"/>`);
  const inside = (axis: Axis, t: number) => usable(axis.scale, t) && t >= axis.lo && t <= axis.hi;
  const xTicks = panel.xTicks ? panel.xTicks.filter((t) => inside(xAxis, t)) : ticks(xScale, xAxis.lo, xAxis.hi);
  const yTicks = panel.yTicks ? panel.yTicks.filter((t) => inside(yAxis, t)) : ticks(yScale, yAxis.lo, yAxis.hi);
  for (const t of xTicks) {
    const px = num(toPixel(xAxis, t));
    parts.push(`<line x1="${px}" y1="${num(plotTop)}" x2="${px}" y2="${num(plotBottom)}" stroke="#e4e4e4" stroke-width="1"/>`);
    parts.push(`<text x="${px}" y="${num(plotBottom + 14)}" text-anchor="middle" font-size="10" ${FONT}>${escapeXml(formatTick(t))}</text>`);
  }
  for (const t of yTicks) {
    const py = num(toPixel(yAxis, t));
    parts.push(`<line x1="${num(plotLeft)}" y1="${py}" x2="${num(plotRight)}" y2="${py}" stroke="#e4e4e4" stroke-width="1"/>`);
    parts.push(`<text x="${num(plotLeft - 4)}" y="${py}" dy="3" text-anchor="end" font-size="10" ${FONT}>${escapeXml(formatTick(t))}</text>`);
  }
  parts.push(`<text x="${num((plotLeft + plotRight) / 2)}" y="${num(plotBottom + 32)}" text-anchor="middle" font-size="11" ${FONT}>${escapeXml(panel.xLabel)}${xScale === 'log' ? ' (log)' : ''}</text>`);
  const yMid = (plotTop + plotBottom) / 2, yLabelX = left + 14;
  parts.push(`<text x="${num(yLabelX)}" y="${num(yMid)}" text-anchor="middle" font-size="11" transform="rotate(-90 ${num(yLabelX)} ${num(yMid)})" ${FONT}>${escapeXml(panel.yLabel)}${yScale === 'log' ? ' (log)' : ''}</text>`);
  // Reference lines under the data.
  for (const r of panel.references ?? []) {
    const seg = referenceSegment(r, xAxis, yAxis);
    if (seg === null) continue;
    parts.push(`<line x1="${num(seg[0])}" y1="${num(seg[1])}" x2="${num(seg[2])}" y2="${num(seg[3])}" stroke="${escapeXml(r.color ?? '#888')}" stroke-width="1.2" stroke-dasharray="${escapeXml(r.dash ?? '5 4')}" opacity="0.8"/>`);
  }
  panel.series.forEach((s, i) => {
    const color = s.color ?? palette[(colourStart + i) % palette.length];
    const pts = s.points.filter((p) => usable(xScale, p.x) && usable(yScale, p.y)).slice().sort((a, b) => a.x - b.x);
    if (pts.length > 1) {
      const d = pts.map((p, j) => `${j === 0 ? 'M' : 'L'}${num(toPixel(xAxis, p.x))},${num(toPixel(yAxis, p.y))}`).join(' ');
      parts.push(`<path d="${d}" fill="none" stroke="${escapeXml(color)}" stroke-width="1.8"${s.dash ? ` stroke-dasharray="${escapeXml(s.dash)}"` : ''}/>`);
    }
    if (s.markers ?? true) {
      for (const p of pts) parts.push(`<circle cx="${num(toPixel(xAxis, p.x))}" cy="${num(toPixel(yAxis, p.y))}" r="3" fill="${escapeXml(color)}"/>`);
    }
  });
  if (placement === 'none' || legend.length === 0) return parts.join('\n');
  const [boxX, boxY] = cornerAt(corner);
  parts.push(`<rect x="${num(boxX)}" y="${num(boxY)}" width="${num(boxWidth)}" height="${num(boxHeight)}" fill="#fff" fill-opacity="0.85" stroke="#ccc" stroke-width="0.5"/>`);
  legend.forEach((item, i) => {
    const ly = boxY + 11 + i * 14, lx = boxX + 4;
    parts.push(`<line x1="${num(lx)}" y1="${num(ly)}" x2="${num(lx + 18)}" y2="${num(ly)}" stroke="${escapeXml(item.color)}" stroke-width="1.8"${item.dash ? ` stroke-dasharray="${escapeXml(item.dash)}"` : ''}/>`);
    if (item.marker) parts.push(`<circle cx="${num(lx + 9)}" cy="${num(ly)}" r="2.5" fill="${escapeXml(item.color)}"/>`);
    parts.push(`<text x="${num(lx + 23)}" y="${num(ly)}" dy="3.5" font-size="10" ${FONT}>${escapeXml(item.label)}</text>`);
  });
  return parts.join('\n');
}

/** Renders a figure of one or more panels as a self-contained SVG document. */
export function renderSvg(figure: Figure): string {
  const panels = figure.panels;
  if (panels.length === 0) throw new Error('svg: a figure needs at least one panel');
  const columns = figure.columns ?? (panels.length === 1 ? 1 : 2);
  if (!Number.isInteger(columns) || columns < 1) throw new Error(`svg: columns must be a positive integer, got ${columns}`);
  const pw = figure.panelWidth ?? 420, ph = figure.panelHeight ?? 300;
  if (!(pw >= 150 && ph >= 120)) throw new Error(`svg: panel ${pw}x${ph} is too small (at least 150x120)`);
  const rows = Math.ceil(panels.length / columns);
  const head = figure.title ? 30 : 6;
  const foot = figure.caption ? 22 : 4;
  const width = columns * pw, height = head + rows * ph + foot;
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`);
  parts.push(`<rect width="${width}" height="${height}" fill="#fafafa"/>`);
  if (figure.title) parts.push(`<text x="${width / 2}" y="20" text-anchor="middle" font-size="15" font-weight="bold" ${FONT}>${escapeXml(figure.title)}</text>`);
  // Every panel starts the palette afresh, so the i-th series has the same colour in each panel.
  panels.forEach((panel, i) => {
    const col = i % columns, row = Math.floor(i / columns);
    parts.push('<g>', renderPanel(panel, col * pw, head + row * ph, pw, ph, 0), '</g>');
  });
  if (figure.caption) parts.push(`<text x="8" y="${height - 8}" font-size="10" fill="#555" ${FONT}>${escapeXml(figure.caption)}</text>`);
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}
