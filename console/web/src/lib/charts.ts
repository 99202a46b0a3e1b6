// Charts drawn as SVG by our own code: scales, "nice" ticks, axes, a frame with a title, and a
// time-series line chart. Every chart is an <svg role="img"> whose aria-label (and <title>) names
// what it shows; data marks carry classes the browser tests find (circle.point, path.curve, ...).
// Sizes are in viewBox units: CSS scales the chart to its container (.chart { width: 100% }).
import { Child, svg } from "./dom";

/// A linear map from data values to pixels.
export interface Scale {
  (value: number): number;
  domain: [number, number];
  range: [number, number];
}

export function linearScale(domain: [number, number], range: [number, number]): Scale {
  const [d0, d1] = domain;
  const [r0, r1] = range;
  const span = d1 - d0 || 1;
  const f = ((v: number) => r0 + ((v - d0) / span) * (r1 - r0)) as Scale;
  f.domain = domain;
  f.range = range;
  return f;
}

/// A base-10 logarithmic map for positive values (wide calibration ranges: 1 to 1000 ng/mL).
export function logScale(domain: [number, number], range: [number, number]): Scale {
  const inner = linearScale([Math.log10(domain[0]), Math.log10(domain[1])], range);
  const f = ((v: number) => inner(Math.log10(v))) as Scale;
  f.domain = domain;
  f.range = range;
  return f;
}

/// [min, max] (both > 0) widened to whole decades.
export function decadeDomain(min: number, max: number): [number, number] {
  const lo = Math.pow(10, Math.floor(Math.log10(min)));
  const hi = Math.pow(10, Math.ceil(Math.log10(max)));
  return lo === hi ? [lo / 10, hi * 10] : [lo, hi];
}

/// Ticks of a logarithmic axis: each decade, with 2 and 5 between when there are few decades.
export function logTicks(min: number, max: number): number[] {
  const decades = Math.log10(max / min);
  const steps = decades <= 3 ? [1, 2, 5] : [1];
  const ticks: number[] = [];
  for (let p = Math.floor(Math.log10(min)); p <= Math.ceil(Math.log10(max)); p++) {
    for (const m of steps) {
      const v = Number((m * Math.pow(10, p)).toPrecision(6));
      if (v >= min * (1 - 1e-9) && v <= max * (1 + 1e-9)) ticks.push(v);
    }
  }
  return ticks;
}

/// The step of about `count` round intervals (1, 2 or 5 × 10^n) over [min, max].
export function niceStep(min: number, max: number, count = 5): number {
  const span = Math.abs(max - min) || Math.abs(max) || 1;
  const raw = span / Math.max(1, count);
  const power = Math.pow(10, Math.floor(Math.log10(raw)));
  const fraction = raw / power;
  const nice = fraction <= 1.5 ? 1 : fraction <= 3 ? 2 : fraction <= 7 ? 5 : 10;
  return nice * power;
}

/// Round tick values inside [min, max], about `count` of them.
export function niceTicks(min: number, max: number, count = 5): number[] {
  const step = niceStep(min, max, count);
  const first = Math.ceil(min / step - 1e-9) * step;
  const ticks: number[] = [];
  for (let v = first; v <= max + step * 1e-9 && ticks.length < 100; v += step) {
    ticks.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  }
  return ticks;
}

/// [min, max] widened to round numbers (a domain whose ends are ticks).
export function niceDomain(min: number, max: number, count = 5): [number, number] {
  if (min === max) {
    const pad = Math.abs(min) * 0.1 || 1;
    min -= pad;
    max += pad;
  }
  const step = niceStep(min, max, count);
  return [Math.floor(min / step + 1e-9) * step, Math.ceil(max / step - 1e-9) * step];
}

/// The smallest and largest finite value, or null when there is none.
export function extent(values: Array<number | null | undefined>): [number, number] | null {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (v === null || v === undefined || !Number.isFinite(v)) continue;
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  return lo <= hi ? [lo, hi] : null;
}

/// A number as people read it: up to `digits` significant digits, no exponent for everyday sizes.
export function formatNumber(value: number | null | undefined, digits = 4): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return "—";
  if (value === 0) return "0";
  const magnitude = Math.abs(value);
  if (magnitude >= 1e15 || magnitude < 1e-4) return value.toExponential(digits - 1);
  const rounded = Number(value.toPrecision(Math.max(digits, Math.ceil(Math.log10(magnitude + 1)))));
  return magnitude >= 1e4 ? grouped(rounded) : String(rounded);
}

/// Thousands grouped with commas (decimal point as everywhere in the console): 1,250,000.
function grouped(value: number): string {
  return value.toLocaleString("en-US", { maximumFractionDigits: 20 });
}

/// A tick label: as many decimals as the step between ticks needs.
export function tickFormatter(ticks: number[]): (v: number) => string {
  const step = ticks.length > 1 ? Math.abs(ticks[1] - ticks[0]) : Math.abs(ticks[0] ?? 1);
  const big = Math.max(...ticks.map((t) => Math.abs(t)), 0);
  if (big >= 1e15 || (step > 0 && step < 1e-4)) return (v) => (v === 0 ? "0" : v.toExponential(1));
  const decimals = step > 0 ? Math.max(0, -Math.floor(Math.log10(step) + 1e-9)) : 0;
  if (big >= 1e4) return (v) => grouped(Number(v.toFixed(Math.min(decimals, 6))));
  return (v) => v.toFixed(Math.min(decimals, 6));
}

/// The plot area inside a chart's margins.
export interface Frame {
  width: number;
  height: number;
  left: number;
  right: number; // x of the right edge of the plot area
  top: number;
  bottom: number; // y of the bottom edge of the plot area
}

export interface FrameOptions {
  width?: number;
  height?: number;
  margin?: { top: number; right: number; bottom: number; left: number };
}

export function frameOf(o: FrameOptions = {}): Frame {
  const width = o.width ?? 640;
  const height = o.height ?? 300;
  const m = o.margin ?? { top: 14, right: 20, bottom: 46, left: 70 };
  return { width, height, left: m.left, right: width - m.right, top: m.top, bottom: height - m.bottom };
}

/// An empty chart: <svg role="img" aria-label=label> with a <title>, sized by its viewBox.
export function chartSvg(label: string, frame: Frame, className: string, ...children: Child[]): SVGSVGElement {
  return svg(
    "svg",
    {
      class: `chart ${className}`,
      role: "img",
      "aria-label": label,
      viewBox: `0 0 ${frame.width} ${frame.height}`,
      preserveAspectRatio: "xMidYMid meet",
    },
    svg("title", null, label),
    children,
  );
}

export interface AxisOptions {
  ticks?: number[];
  format?: (v: number) => string;
  label?: string;
  grid?: boolean;
}

/// The x axis along the plot's bottom: line, ticks, tick labels, the axis title, grid lines.
export function axisBottom(x: Scale, frame: Frame, o: AxisOptions = {}): SVGGElement {
  const ticks = o.ticks ?? niceTicks(x.domain[0], x.domain[1], 6);
  const format = o.format ?? tickFormatter(ticks);
  return svg(
    "g",
    { class: "axis axis-x", "aria-hidden": "true" },
    ticks.map((t) =>
      svg(
        "g",
        { class: "tick" },
        o.grid ? svg("line", { class: "grid", x1: x(t), x2: x(t), y1: frame.top, y2: frame.bottom }) : null,
        svg("line", { x1: x(t), x2: x(t), y1: frame.bottom, y2: frame.bottom + 5 }),
        svg("text", { x: x(t), y: frame.bottom + 18, "text-anchor": "middle" }, format(t)),
      ),
    ),
    svg("line", { class: "domain", x1: frame.left, x2: frame.right, y1: frame.bottom, y2: frame.bottom }),
    o.label
      ? svg("text", { class: "axis-label", x: (frame.left + frame.right) / 2, y: frame.height - 6, "text-anchor": "middle" }, o.label)
      : null,
  );
}

/// The y axis along the plot's left side.
export function axisLeft(y: Scale, frame: Frame, o: AxisOptions = {}): SVGGElement {
  const ticks = o.ticks ?? niceTicks(y.domain[0], y.domain[1], 5);
  const format = o.format ?? tickFormatter(ticks);
  const midY = (frame.top + frame.bottom) / 2;
  return svg(
    "g",
    { class: "axis axis-y", "aria-hidden": "true" },
    ticks.map((t) =>
      svg(
        "g",
        { class: "tick" },
        o.grid ? svg("line", { class: "grid", x1: frame.left, x2: frame.right, y1: y(t), y2: y(t) }) : null,
        svg("line", { x1: frame.left - 5, x2: frame.left, y1: y(t), y2: y(t) }),
        svg("text", { x: frame.left - 8, y: y(t) + 4, "text-anchor": "end" }, format(t)),
      ),
    ),
    svg("line", { class: "domain", x1: frame.left, x2: frame.left, y1: frame.top, y2: frame.bottom }),
    o.label
      ? svg(
          "text",
          { class: "axis-label", x: 14, y: midY, "text-anchor": "middle", transform: `rotate(-90 14 ${midY})` },
          o.label,
        )
      : null,
  );
}

/// The "d" of a path through the points, skipping gaps (a null breaks the line).
export function pathData(points: Array<[number, number] | null>): string {
  let d = "";
  let pen = false;
  for (const p of points) {
    if (!p || !Number.isFinite(p[0]) || !Number.isFinite(p[1])) {
      pen = false;
      continue;
    }
    d += `${pen ? "L" : "M"}${p[0].toFixed(1)},${p[1].toFixed(1)}`;
    pen = true;
  }
  return d;
}

/// A horizontal reference line across the plot (mean, ±SD, median), with a label at its right end.
export function hLine(y: number, frame: Frame, className: string, label?: string): SVGGElement {
  return svg(
    "g",
    { class: "ref" },
    svg("line", { class: className, x1: frame.left, x2: frame.right, y1: y, y2: y }),
    label ? svg("text", { class: "ref-label", x: frame.right + 3, y: y + 4 }, label) : null,
  );
}

// ---- Time series ---------------------------------------------------------------------------

/// One line of a lineChart: `points` in time order; `className` styles the line and its points
/// (e.g. "received", "refused").
export interface Series {
  name: string;
  className: string;
  points: Array<{ at: Date | string | number; value: number | null }>;
}

export interface LineChartOptions extends FrameOptions {
  /// What the chart shows, in words: the aria-label and <title> ("Throughput of the last hour").
  label: string;
  series: Series[];
  /// The y axis title ("messages per minute").
  yLabel?: string;
  /// The x axis title (default "time").
  xLabel?: string;
  /// Draw a dot per value (default: when a series has at most 90 points).
  dots?: boolean;
}

function timeOf(at: Date | string | number): number {
  return at instanceof Date ? at.getTime() : typeof at === "number" ? at : Date.parse(at);
}

const MINUTE = 60_000;
const TIME_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440].map((m) => m * MINUTE);

/// Ticks on round local clock times (every 1, 2, 5, 10, 15, 30 minutes, 1, 2, 3, 6, 12 hours, days).
export function timeTicks(from: number, to: number, count = 6): number[] {
  const span = Math.max(to - from, MINUTE);
  const step = TIME_STEPS.find((s) => span / s <= count) ?? Math.ceil(span / count / (1440 * MINUTE)) * 1440 * MINUTE;
  const offset = new Date(from).getTimezoneOffset() * MINUTE;
  const first = Math.ceil((from - offset) / step) * step + offset;
  const ticks: number[] = [];
  for (let t = first; t <= to; t += step) ticks.push(t);
  return ticks;
}

function clockLabel(t: number, spanMs: number): string {
  const d = new Date(t);
  if (spanMs > 2 * 1440 * MINUTE) return d.toLocaleDateString(undefined, { month: "short", day: "2-digit" });
  return d.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
}

/// A time series chart: one line (path.line.<className>) per series, a legend, axes with round
/// clock times. Values null make a gap. Returns the <svg>; place it in a container whose width
/// you choose (CSS .chart { width: 100% }).
///
///   lineChart({label: "Messages per minute, last hour", yLabel: "messages",
///              series: [{name: "Received", className: "received",
///                        points: items.map((m) => ({at: m.at, value: m.received}))}]})
export function lineChart(o: LineChartOptions): SVGSVGElement {
  const frame = frameOf({ ...o, margin: o.margin ?? { top: 30, right: 20, bottom: 46, left: 60 } });
  const times = o.series.flatMap((s) => s.points.map((p) => timeOf(p.at)));
  const tx = extent(times) ?? [Date.now() - 60 * MINUTE, Date.now()];
  const ty = extent(o.series.flatMap((s) => s.points.map((p) => p.value))) ?? [0, 1];
  const x = linearScale(tx[0] === tx[1] ? [tx[0] - MINUTE, tx[1] + MINUTE] : tx, [frame.left, frame.right]);
  const y = linearScale(niceDomain(Math.min(0, ty[0]), Math.max(ty[1], 1)), [frame.bottom, frame.top]);
  const span = x.domain[1] - x.domain[0];
  const dots = o.dots ?? o.series.every((s) => s.points.length <= 90);
  return chartSvg(
    o.label,
    frame,
    "line-chart",
    axisLeft(y, frame, { label: o.yLabel, grid: true }),
    axisBottom(x, frame, { ticks: timeTicks(x.domain[0], x.domain[1]), format: (t) => clockLabel(t, span), label: o.xLabel ?? "time" }),
    o.series.map((s) =>
      svg(
        "g",
        { class: `series ${s.className}` },
        svg("path", {
          class: `line ${s.className}`,
          d: pathData(s.points.map((p) => (p.value === null ? null : [x(timeOf(p.at)), y(p.value)]))),
        }),
        dots
          ? s.points
              .filter((p) => p.value !== null)
              .map((p) =>
                svg(
                  "circle",
                  { class: `point ${s.className}`, cx: x(timeOf(p.at)), cy: y(p.value as number), r: 2.5 },
                  svg("title", null, `${s.name}: ${formatNumber(p.value)} at ${new Date(timeOf(p.at)).toLocaleString()}`),
                ),
              )
          : null,
      ),
    ),
    legend(
      o.series.map((s) => ({ name: s.name, className: s.className })),
      frame,
    ),
  );
}

/// A legend along the top of the chart: a swatch and the name per entry.
export function legend(entries: Array<{ name: string; className: string; shape?: "line" | "dot" }>, frame: Frame): SVGGElement {
  let x = frame.left;
  return svg(
    "g",
    { class: "legend", "aria-hidden": "true" },
    entries.map((e) => {
      const at = x;
      x += 28 + e.name.length * 7 + 14;
      return svg(
        "g",
        { class: `legend-item ${e.className}` },
        e.shape === "dot"
          ? svg("circle", { class: `swatch ${e.className}`, cx: at + 10, cy: 12, r: 4 })
          : svg("line", { class: `swatch ${e.className}`, x1: at, x2: at + 20, y1: 12, y2: 12 }),
        svg("text", { x: at + 26, y: 16 }, e.name),
      );
    }),
  );
}
