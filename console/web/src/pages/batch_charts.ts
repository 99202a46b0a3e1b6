// The batch view's charts, drawn from GET /api/v1/batches/{id}/charts: each analyte's calibration
// curve, the Levey-Jennings chart of each QC level and the internal-standard response across the
// injections. Pure functions from the API's data to an <svg>; the page adds the tables.
import { svg } from "../lib/dom";
import {
  axisBottom,
  axisLeft,
  chartSvg,
  decadeDomain,
  extent,
  formatNumber,
  Frame,
  frameOf,
  hLine,
  legend,
  linearScale,
  logScale,
  logTicks,
  niceDomain,
  niceTicks,
  pathData,
  Scale,
} from "../lib/charts";

// ---- The API's shapes (GET /api/v1/batches/{id}/charts) --------------------------------------

export interface Finding {
  rule: string;
  severity: string;
  message: string;
  measured?: string;
  limit?: string;
  unit?: string;
  action: string;
  analyte?: string;
}

export interface CalibrationPoint {
  sample_id: string;
  level: string | number | null;
  expected: number | null;
  response: number | null;
  calculated: number | null;
  accuracy: number | null; // back-calculated, % of expected
  excluded: boolean;
}

export interface Calibration {
  model: string;
  weighting: string;
  origin: string | boolean | null;
  fitted?: boolean; // false: no curve could be fitted, `error` says why
  error?: string;
  coefficients: number[]; // response = c0 + c1·x + c2·x²
  r_squared: number | null;
  points: CalibrationPoint[];
}

export interface IsPoint {
  sample_id: string;
  kind: string;
  injection: number | null;
  area: number | null;
}

export interface QcPoint {
  batch: number;
  received_at: string;
  sample_id: string;
  value: number | null;
  z: number | null;
  this_batch: boolean;
  excluded?: boolean; // left out of the QC statistics by the analyst
  violations: string[];
}

export interface QcLevel {
  level: string;
  lot: string;
  mean: number | null;
  sd: number | null;
  points: QcPoint[];
}

export interface AnalyteCharts {
  analyte: string;
  lis_code: string;
  lis_name: string;
  units: string;
  internal_standard: string;
  calibration: Calibration | null;
  internal_standard_response: IsPoint[];
  qc: QcLevel[];
  findings: Finding[];
}

export interface BatchCharts {
  batch: number;
  rules_version?: string;
  analytes: AnalyteCharts[];
}

// ---- Calibration curve ----------------------------------------------------------------------

/// The fitted response at concentration x.
export function curveAt(coefficients: number[], x: number): number {
  return coefficients.reduce((sum, c, i) => sum + c * Math.pow(x, i), 0);
}

export function describeCurve(c: Calibration): string {
  const origin = c.origin === null || c.origin === "" || c.origin === false ? "" : `, origin ${c.origin === true ? "forced" : c.origin}`;
  const w = c.weighting.replace(/([xy])2$/, "$1²");
  const weighting = w && w !== "none" ? `, weighting ${w}` : ", unweighted";
  const r2 = c.r_squared === null ? "" : `, R² ${c.r_squared.toFixed(4)}`;
  return `${c.model || "unknown model"}${weighting}${origin}${r2}`;
}

function calibratorTitle(p: CalibrationPoint, units: string): string {
  const accuracy = p.accuracy === null ? "accuracy not known" : `accuracy ${p.accuracy.toFixed(1)} %`;
  return (
    `Calibrator ${p.sample_id}${p.level !== null && p.level !== "" ? `, level ${p.level}` : ""}` +
    `: expected ${formatNumber(p.expected)} ${units}, response ${formatNumber(p.response)}, ` +
    `back-calculated ${formatNumber(p.calculated)} ${units}, ${accuracy}${p.excluded ? " — excluded from the fit" : ""}`
  );
}

interface Axes {
  x: Scale;
  y: Scale;
  curveXs: number[]; // where the curve is sampled
  xTicks?: number[];
  yTicks?: number[];
}

function linearAxes(c: Calibration, drawn: CalibrationPoint[], frame: Frame, canFit: boolean): Axes {
  const xs = extent(drawn.map((p) => p.expected)) ?? [0, 1];
  const xDomain = niceDomain(Math.min(0, xs[0]), xs[1] * 1.04);
  const curveXs = canFit ? Array.from({ length: 81 }, (_, i) => xDomain[0] + ((xDomain[1] - xDomain[0]) * i) / 80) : [];
  const ys = extent([...drawn.map((p) => p.response), ...curveXs.map((v) => curveAt(c.coefficients, v))]) ?? [0, 1];
  return {
    x: linearScale(xDomain, [frame.left, frame.right]),
    y: linearScale(niceDomain(Math.min(0, ys[0]), ys[1]), [frame.bottom, frame.top]),
    curveXs,
  };
}

function logAxes(c: Calibration, drawn: CalibrationPoint[], frame: Frame, canFit: boolean): Axes {
  const xs = extent(drawn.map((p) => p.expected)) ?? [1, 10];
  const xDomain = decadeDomain(xs[0], xs[1]);
  const lx = [Math.log10(xs[0] / 1.5), Math.log10(xs[1] * 1.5)];
  const curveXs = canFit ? Array.from({ length: 81 }, (_, i) => Math.pow(10, lx[0] + ((lx[1] - lx[0]) * i) / 80)) : [];
  const curveYs = curveXs.map((v) => curveAt(c.coefficients, v)).filter((v) => v > 0);
  const ys = extent([...drawn.map((p) => p.response), ...curveYs]) ?? [1, 10];
  const yDomain = decadeDomain(ys[0], ys[1]);
  return {
    x: logScale(xDomain, [frame.left, frame.right]),
    y: logScale(yDomain, [frame.bottom, frame.top]),
    curveXs: curveXs.filter((v) => v >= xDomain[0] && v <= xDomain[1]),
    xTicks: logTicks(xDomain[0], xDomain[1]),
    yTicks: logTicks(yDomain[0], yDomain[1]),
  };
}

/// Calibrators as points (excluded ones hollow: circle.point.excluded), the fitted curve as
/// path.curve, x = expected concentration, y = response (area ratio to the IS); `log`: both axes
/// logarithmic (points and curve values that are not positive are left out).
export function calibrationChart(a: AnalyteCharts, c: Calibration, o: { log?: boolean } = {}): SVGSVGElement {
  const frame = frameOf({ margin: { top: 30, right: 20, bottom: 46, left: 70 } });
  const drawn = c.points.filter(
    (p) => p.expected !== null && p.response !== null && (!o.log || (p.expected > 0 && p.response > 0)),
  );
  const canFit = c.fitted !== false && c.coefficients.length >= 2 && c.coefficients.every((v) => Number.isFinite(v));
  const { x, y, curveXs, xTicks, yTicks } = (o.log ? logAxes : linearAxes)(c, drawn, frame, canFit);
  const curve = curveXs.map((v): [number, number] | null => {
    const r = curveAt(c.coefficients, v);
    return o.log && r <= 0 ? null : [x(v), y(r)];
  });
  const fmt = o.log ? (v: number) => formatNumber(v) : undefined;
  const excluded = c.points.filter((p) => p.excluded).length;
  const label =
    `Calibration curve of ${a.analyte}: ${c.points.length} calibrators` +
    `${excluded ? `, ${excluded} excluded` : ""}; ${describeCurve(c)}${o.log ? "; logarithmic axes" : ""}`;
  return chartSvg(
    label,
    frame,
    "calibration-chart",
    axisLeft(y, frame, { ticks: yTicks, format: fmt, label: a.internal_standard ? "response (area ratio to IS)" : "response", grid: true }),
    axisBottom(x, frame, { ticks: xTicks, format: fmt, label: `expected concentration${a.units ? ` (${a.units})` : ""}${o.log ? ", log" : ""}`, grid: true }),
    canFit ? svg("path", { class: "curve", d: pathData(curve) }) : null,
    drawn.map((p) =>
      svg(
        "circle",
        { class: p.excluded ? "point excluded" : "point", cx: x(p.expected as number), cy: y(p.response as number), r: 4.5 },
        svg("title", null, calibratorTitle(p, a.units)),
      ),
    ),
    legend(
      [
        { name: "calibrator", className: "cal-used", shape: "dot" },
        { name: "excluded calibrator", className: "cal-excluded", shape: "dot" },
        { name: "fitted curve", className: "cal-curve" },
      ],
      frame,
    ),
  );
}

// ---- Levey-Jennings -------------------------------------------------------------------------

/// A Westgard rule as QC people write it: "1_3s" → "1-3s", "10_x" → "10x", "R_4s" → "R-4s".
export function westgardName(rule: string): string {
  const r = rule.replace(/^qc\.westgard\./, "");
  return r.endsWith("_x") ? r.replace("_x", "x") : r.replace(/_/g, "-");
}

/// Westgard rules that only warn (docs/rules.md: qc.westgard.1_2s is a WARN); the others reject.
const WARNING_RULES = new Set(["1_2s"]);

function qcTitle(p: QcPoint, units: string): string {
  const z = p.z === null ? "" : ` (z ${p.z >= 0 ? "+" : ""}${p.z.toFixed(2)})`;
  const when = new Date(p.received_at);
  const time = Number.isNaN(when.getTime()) ? p.received_at : when.toLocaleString();
  const violations = p.violations.length ? ` — violates ${p.violations.map(westgardName).join(", ")}` : "";
  const excluded = p.excluded ? " (excluded from the QC statistics)" : "";
  return `${p.this_batch ? "This batch" : `Batch ${p.batch}`}, ${time}, sample ${p.sample_id}: ${formatNumber(p.value)} ${units}${z}${excluded}${violations}`;
}

function sdLines(mean: number, sd: number, y: (v: number) => number, frame: Frame): SVGGElement[] {
  const lines = [hLine(y(mean), frame, "mean", "mean")];
  for (const k of [1, 2, 3]) {
    lines.push(hLine(y(mean + k * sd), frame, `sd-${k} plus`, `+${k} SD`));
    lines.push(hLine(y(mean - k * sd), frame, `sd-${k} minus`, `−${k} SD`));
  }
  return lines;
}

/// The QC values of one level in order (oldest first) against the target mean and ±1/2/3 SD
/// (line.mean, line.sd-1/2/3, both sides); this batch's values circle.point.this-batch, values
/// that broke a Westgard rule .violation with the rule's name beside them.
export function leveyJenningsChart(a: AnalyteCharts, q: QcLevel): SVGSVGElement {
  const frame = frameOf({ margin: { top: 30, right: 56, bottom: 46, left: 70 } });
  const n = q.points.length;
  const hasTarget = q.mean !== null && q.sd !== null && q.sd > 0;
  const values = q.points.map((p) => p.value);
  let domain: [number, number];
  if (hasTarget) {
    const mean = q.mean as number;
    const sd = q.sd as number;
    const ext = extent([...values, mean - 3.5 * sd, mean + 3.5 * sd]) as [number, number];
    domain = [ext[0], ext[1]];
  } else {
    const ext = extent(values) ?? [0, 1];
    domain = niceDomain(ext[0], ext[1]);
  }
  const x = linearScale([-0.5, Math.max(n, 1) - 0.5], [frame.left, frame.right]);
  const y = linearScale(domain, [frame.bottom, frame.top]);
  // One tick per batch (at its first value), thinned to about a dozen.
  const starts = q.points.map((_, i) => i).filter((i) => i === 0 || q.points[i].batch !== q.points[i - 1].batch);
  const every = Math.max(1, Math.ceil(starts.length / 12));
  const ticks = starts.filter((_, k) => k % every === 0);
  const violations = q.points.filter((p) => p.violations.length > 0).length;
  const thisBatch = q.points.map((p, i) => (p.this_batch ? i : -1)).filter((i) => i >= 0);
  const label =
    `Levey-Jennings chart of ${a.analyte} ${q.level}${q.lot ? `, lot ${q.lot}` : ""}: ${n} values` +
    (hasTarget ? `, target ${formatNumber(q.mean)} ± ${formatNumber(q.sd)} ${a.units}` : ", no target") +
    (violations ? `, ${violations} with a Westgard violation` : ", no Westgard violation");
  return chartSvg(
    label,
    frame,
    "lj-chart",
    thisBatch.length
      ? svg("rect", {
          class: "this-batch-band",
          x: x(Math.min(...thisBatch) - 0.5),
          y: frame.top,
          width: x(Math.max(...thisBatch) + 0.5) - x(Math.min(...thisBatch) - 0.5),
          height: frame.bottom - frame.top,
        })
      : null,
    axisLeft(y, frame, {
      ticks: hasTarget ? [-3, -2, -1, 0, 1, 2, 3].map((k) => (q.mean as number) + k * (q.sd as number)) : niceTicks(domain[0], domain[1], 5),
      format: hasTarget ? (v) => formatNumber(v, 4) : undefined,
      label: a.units ? `value (${a.units})` : "value",
    }),
    axisBottom(x, frame, {
      ticks,
      format: (i) => String(q.points[i]?.batch ?? ""),
      label: "batch (oldest first)",
    }),
    hasTarget ? sdLines(q.mean as number, q.sd as number, y, frame) : null,
    svg("path", { class: "trace", d: pathData(q.points.map((p, i) => (p.value === null ? null : [x(i), y(p.value)]))) }),
    q.points.map((p, i) => {
      if (p.value === null) return null;
      const warningOnly = p.violations.length > 0 && p.violations.every((v) => WARNING_RULES.has(v));
      const classes = [
        "point",
        p.this_batch ? "this-batch" : "earlier",
        p.excluded ? "not-used" : "",
        p.violations.length ? "violation" : "",
        warningOnly ? "warning-rule" : "",
      ];
      return svg(
        "g",
        { class: "qc-value" },
        svg("circle", { class: classes.filter(Boolean).join(" "), cx: x(i), cy: y(p.value), r: p.this_batch ? 5 : 4 }, svg("title", null, qcTitle(p, a.units))),
        p.violations.length
          ? svg("text", { class: `violation-label${warningOnly ? " warning-rule" : ""}`, x: x(i), y: y(p.value) - 9, "text-anchor": "middle" }, p.violations.map(westgardName).join(" "))
          : null,
      );
    }),
    legend(
      [
        { name: "earlier batches", className: "qc-earlier", shape: "dot" },
        { name: "this batch", className: "qc-this", shape: "dot" },
        { name: "Westgard rejection", className: "qc-violation", shape: "dot" },
        { name: "Westgard warning", className: "qc-warning", shape: "dot" },
      ],
      frame,
    ),
  );
}

// ---- Internal standard response -------------------------------------------------------------

export function median(values: number[]): number | null {
  if (values.length === 0) return null;
  const s = [...values].sort((p, q) => p - q);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/// The reference the IS response is judged against: the median IS area of the calibrators and
/// QCs (docs/rules.md, peak.is_response), or of every injection when there are none.
export function isReference(points: IsPoint[]): number | null {
  const areas = (kinds: string[] | null) =>
    points.filter((p) => p.area !== null && (kinds === null || kinds.includes(p.kind))).map((p) => p.area as number);
  const calQc = areas(["calibrator", "qc"]);
  return median(calQc.length ? calQc : areas(null));
}

const KIND_NAMES: Record<string, string> = {
  calibrator: "calibrator",
  qc: "QC",
  unknown: "patient",
  patient: "patient",
  blank: "blank",
  double_blank: "double blank",
  system_suitability: "system suitability",
};

export function kindName(kind: string): string {
  return KIND_NAMES[kind] ?? kind.replace(/_/g, " ");
}

/// The IS area of each injection in injection order (circle.point.kind-<kind>), the median of
/// the calibrators and QCs (line.median) and the band 50–150 % of it (rect.is-band).
export function isResponseChart(a: AnalyteCharts, points: IsPoint[]): SVGSVGElement {
  const frame = frameOf({ margin: { top: 30, right: 56, bottom: 46, left: 80 } });
  const ordered = points
    .map((p, i) => ({ p, at: p.injection ?? i + 1 }))
    .filter((e) => e.p.area !== null)
    .sort((l, r) => l.at - r.at);
  const ref = isReference(points);
  const xs = extent(ordered.map((e) => e.at)) ?? [1, 1];
  const ys = extent([...ordered.map((e) => e.p.area), ref === null ? null : ref * 1.6]) ?? [0, 1];
  const x = linearScale([xs[0] - 0.5, xs[1] + 0.5], [frame.left, frame.right]);
  const y = linearScale(niceDomain(0, ys[1]), [frame.bottom, frame.top]);
  const xTicks = niceTicks(xs[0], xs[1], 10).filter((t) => Number.isInteger(t));
  const kinds = Array.from(new Set(ordered.map((e) => e.p.kind)));
  const outside = ref === null ? 0 : ordered.filter((e) => (e.p.area as number) < ref * 0.5 || (e.p.area as number) > ref * 1.5).length;
  const label =
    `Internal standard response of ${a.analyte}${a.internal_standard ? ` (${a.internal_standard})` : ""}: ` +
    `${ordered.length} injections` +
    (ref === null ? "" : `, median of calibrators and QCs ${formatNumber(ref)}, ${outside} outside 50–150 %`);
  return chartSvg(
    label,
    frame,
    "is-chart",
    ref === null
      ? null
      : svg("rect", { class: "is-band", x: frame.left, width: frame.right - frame.left, y: y(ref * 1.5), height: y(ref * 0.5) - y(ref * 1.5) }),
    axisLeft(y, frame, { label: "IS peak area", grid: true }),
    axisBottom(x, frame, { ticks: xTicks.length ? xTicks : undefined, format: (t) => String(t), label: "injection" }),
    ref === null ? null : [hLine(y(ref), frame, "median", "median"), hLine(y(ref * 1.5), frame, "band-edge", "150 %"), hLine(y(ref * 0.5), frame, "band-edge", "50 %")],
    ordered.map(({ p, at }) => {
      const pct = ref ? ` (${(((p.area as number) / ref) * 100).toFixed(0)} % of the median)` : "";
      const off = ref !== null && ((p.area as number) < ref * 0.5 || (p.area as number) > ref * 1.5);
      return svg(
        "circle",
        { class: `point kind-${p.kind}${off ? " outside" : ""}`, cx: x(at), cy: y(p.area as number), r: 4 },
        svg("title", null, `Injection ${p.injection ?? "?"}, ${kindName(p.kind)} ${p.sample_id}: IS area ${formatNumber(p.area, 6)}${pct}`),
      );
    }),
    legend(
      kinds.map((k) => ({ name: kindName(k), className: `kind-${k}`, shape: "dot" as const })),
      frame,
    ),
  );
}
