// The batch view (#/batches/:id): what the rules found and what QA signed, and per analyte the
// calibration curve, the Levey-Jennings chart of each QC level and the internal-standard response,
// drawn from GET /api/v1/batches/{id} and GET /api/v1/batches/{id}/charts. The button "Sign…"
// opens the signature dialog (src/lib/sign.ts) with the meanings the user may sign.
import { api, ApiError } from "../lib/api";
import { Child, h, replace } from "../lib/dom";
import { formatNumber } from "../lib/charts";
import { link, RouteContext, seg } from "../lib/router";
import { can, currentUser } from "../lib/session";
import { signDialog, SignatureFields } from "../lib/sign";
import { button, errorBox, field, formatTime, notice, pageHeader, select, table } from "../lib/ui";
import {
  AnalyteCharts,
  BatchCharts,
  Calibration,
  CalibrationPoint,
  calibrationChart,
  describeCurve,
  Finding,
  IsPoint,
  isReference,
  isResponseChart,
  kindName,
  leveyJenningsChart,
  QcLevel,
  westgardName,
} from "./batch_charts";

// ---- The API's shapes (GET /api/v1/batches/{id}) ---------------------------------------------

export interface BatchResult {
  id: number;
  instrument_code: string;
  lis_code: string;
  lis_name: string;
  value: string;
  units: string;
  reference_range: string;
  status: string;
  disposition: string;
  qa_state: string;
  waiting: boolean;
  findings: Finding[];
}

export interface BatchSample {
  id: number;
  sample_id: string;
  kind: string;
  results: BatchResult[];
}

export interface Signature {
  id: number;
  subject: string;
  meaning: string;
  signer: string;
  printed_name: string;
  signed_at: string;
  reason: string;
  results: number[];
  record_sha256: string;
  manifestation: string;
}

export interface Batch {
  id: number;
  state: string;
  connector: string;
  instrument: string;
  format: string;
  source_name: string;
  received_at: string;
  sample_count: number;
  result_count: number;
  waiting: number;
  samples: BatchSample[];
  batch_findings: Finding[];
  signatures: Signature[];
  record_sha256: string;
}

// ---- Pieces the report shares ----------------------------------------------------------------

function stateBadge(state: string): HTMLElement {
  const kind = state === "released" ? "ok" : state === "held" ? "warn" : state === "rejected" ? "bad" : "";
  return h("span", { class: `badge ${kind}` }, state || "—");
}

/// A UTC time as recorded ("2026-12-07 09:14:03 UTC"), for signatures: §11.50 shows UTC.
export function utcTime(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC").replace(/Z$/, " UTC");
}

/// A finding's measured value as the rule wrote it ("12.5 %"), or a dash.
function measuredCell(f: Finding): Child {
  return f.measured ? f.measured : "—";
}

export function findingsTable(findings: Finding[], withAnalyte: boolean, empty: string): HTMLElement {
  return table<Finding>(
    [
      ...(withAnalyte ? [{ label: "Analyte", cell: (f: Finding) => f.analyte || "—" }] : []),
      { label: "Rule", cell: (f) => h("code", null, f.rule) },
      { label: "Severity", cell: (f) => severityBadge(f.severity) },
      { label: "Finding", cell: (f) => f.message },
      { label: "Measured", cell: measuredCell, class: "num" },
      { label: "Limit", cell: (f) => f.limit || "—", class: "num" },
      { label: "Action", cell: (f) => f.action },
    ],
    findings,
    { empty },
  );
}

function severityBadge(severity: string): HTMLElement {
  const kind = severity === "error" ? "bad" : severity === "warning" ? "warn" : "";
  return h("span", { class: `badge ${kind}` }, severity);
}

/// A result's findings as short lines: "rule: message (measured; limit)".
function findingLines(findings: Finding[]): Child {
  if (findings.length === 0) return h("span", { class: "muted" }, "none");
  return h(
    "ul",
    { class: "batch-findings-list" },
    findings.map((f) =>
      h(
        "li",
        null,
        h("code", null, f.rule),
        " ",
        f.message,
        f.measured || f.limit ? h("span", { class: "muted" }, ` (measured ${f.measured || "—"}; limit ${f.limit || "—"})`) : null,
      ),
    ),
  );
}

interface ResultRow {
  sample: BatchSample;
  result: BatchResult;
}

export function resultRows(batch: Batch): ResultRow[] {
  return batch.samples.flatMap((sample) => sample.results.map((result) => ({ sample, result })));
}

/// Which results the batch view lists: all, those waiting for a decision, the patients'.
type ResultFilter = "all" | "waiting" | "patients";

function filtered(batch: Batch, show: ResultFilter): ResultRow[] {
  const rows = resultRows(batch);
  if (show === "waiting") return rows.filter((r) => r.result.waiting);
  if (show === "patients") return rows.filter((r) => r.sample.kind === "unknown" || r.sample.kind === "patient");
  return rows;
}

/// The results table with a labelled "Show" select above it (all, waiting, patients).
function resultsPart(batch: Batch): Child {
  const show = select([
    ["all", `All results (${batch.result_count})`],
    ["waiting", `Waiting for a QA decision (${batch.waiting})`],
    ["patients", "Patient samples only"],
  ]);
  const box = h("div", null, resultsTable(batch));
  show.addEventListener("change", () => replace(box, resultsTable(batch, show.value as ResultFilter)));
  return [h("div", { class: "filters" }, field("Show", show)), box];
}

export function resultsTable(batch: Batch, show: ResultFilter = "all"): HTMLElement {
  return table<ResultRow>(
    [
      { label: "Sample", cell: (r) => r.sample.sample_id, class: "batch-nowrap" },
      { label: "Kind", cell: (r) => kindName(r.sample.kind) },
      { label: "Code", cell: (r) => [r.result.lis_code || r.result.instrument_code, r.result.lis_name ? h("div", { class: "muted" }, r.result.lis_name) : null] },
      { label: "Value", cell: (r) => r.result.value, class: "num" },
      { label: "Units", cell: (r) => r.result.units },
      { label: "Disposition", cell: (r) => dispositionBadge(r.result.disposition) },
      { label: "QA state", cell: (r) => [r.result.qa_state || "—", r.result.waiting ? h("span", { class: "badge warn batch-waiting" }, "waiting") : null] },
      { label: "Findings", cell: (r) => findingLines(r.result.findings) },
    ],
    filtered(batch, show),
    { empty: show === "all" ? "The batch has no results." : "No result to show with this choice." },
  );
}

function dispositionBadge(d: string): HTMLElement {
  const kind = d === "release" ? "ok" : d === "hold" ? "warn" : d === "reject" ? "bad" : "";
  return h("span", { class: `badge ${kind}` }, d || "—");
}

/// The signatures so far: meaning, printed name, UTC time, reason. Labelled by `labelId`'s heading.
export function signaturesTable(batch: Batch, labelId: string): HTMLElement {
  const el = table<Signature>(
    [
      { label: "Meaning", cell: (s) => s.meaning },
      { label: "Printed name", cell: (s) => s.printed_name },
      { label: "User name", cell: (s) => s.signer },
      { label: "Signed (UTC)", cell: (s) => h("time", { datetime: s.signed_at }, utcTime(s.signed_at)) },
      { label: "Reason", cell: (s) => s.reason || "—" },
      { label: "Results", cell: (s) => String(s.results.length), class: "num" },
    ],
    batch.signatures,
    { empty: "Nobody has signed this batch yet." },
  );
  el.querySelector("table")?.setAttribute("aria-labelledby", labelId);
  return el;
}

export function summaryList(batch: Batch): HTMLElement {
  const item = (term: string, value: Child) => h("div", null, h("dt", null, term), h("dd", null, value));
  return h(
    "dl",
    { class: "batch-summary" },
    item("State", stateBadge(batch.state)),
    item("Instrument", batch.instrument || "—"),
    item("Connector", batch.connector || "—"),
    item("Source", batch.source_name || "—"),
    item("Format", batch.format || "—"),
    item("Received", formatTime(batch.received_at)),
    item("Samples", String(batch.sample_count)),
    item("Results", String(batch.result_count)),
    item("Waiting for QA", String(batch.waiting)),
  );
}

// ---- Per analyte: charts and their tables -----------------------------------------------------

function calibrationSection(a: AnalyteCharts): Child {
  const c = a.calibration;
  if (!c) return [h("h3", null, "Calibration curve"), h("p", { class: "empty" }, "No calibration curve for this analyte in this batch.")];
  const excluded = c.points.filter((p) => p.excluded);
  return [
    h("h3", null, "Calibration curve"),
    h("p", { class: "muted" }, describeCurve(c), c.fitted !== false && c.coefficients.length ? ` · response = ${curveText(c.coefficients)}` : ""),
    c.fitted === false ? notice(`No curve could be fitted${c.error ? `: ${c.error}` : "."}`, "warning") : null,
    h(
      "div",
      { class: "batch-pair" },
      calibrationBox(a, c),
      h(
        "div",
        null,
        excluded.length
          ? h("p", { class: "batch-excluded" }, "Excluded from the fit: ", excluded.map((p) => `${p.sample_id}${p.level !== null && p.level !== "" ? ` (level ${p.level})` : ""}`).join(", "), ".")
          : h("p", { class: "muted" }, "Every calibrator is in the fit."),
        calibratorTable(a, c.points),
      ),
    ),
  ];
}

/// The chart with a checkbox that redraws it on logarithmic axes (low calibrators crowd the
/// origin of a linear chart when the range spans decades).
function calibrationBox(a: AnalyteCharts, c: Calibration): HTMLElement {
  const box = h("div", { class: "batch-chart" }, calibrationChart(a, c));
  const positive = c.points.some((p) => (p.expected ?? 0) > 0 && (p.response ?? 0) > 0);
  if (!positive) return box;
  const toggle = h("input", { type: "checkbox" });
  toggle.addEventListener("change", () => replace(box, calibrationChart(a, c, { log: toggle.checked })));
  return h("div", null, box, h("label", { class: "batch-toggle" }, toggle, " Logarithmic axes"));
}

function calibratorTable(a: AnalyteCharts, points: CalibrationPoint[]): HTMLElement {
  const pct = (v: number | null) => (v === null ? "—" : `${v.toFixed(1)} %`);
  return table(
      [
        { label: "Calibrator", cell: (p) => p.sample_id },
        ...(points.some((p) => p.level !== null && p.level !== "")
          ? [{ label: "Level", cell: (p: CalibrationPoint) => (p.level === null || p.level === "" ? "—" : String(p.level)) }]
          : []),
        { label: "Expected", cell: (p) => formatNumber(p.expected), class: "num" },
        { label: "Response", cell: (p) => formatNumber(p.response), class: "num" },
        { label: "Back-calc.", cell: (p) => formatNumber(p.calculated), class: "num" },
        { label: "Accuracy", cell: (p) => pct(p.accuracy), class: "num" },
        { label: "In the fit", cell: (p) => (p.excluded ? h("span", { class: "badge bad" }, "excluded") : "yes") },
      ],
    points,
    { empty: "No calibrator.", caption: `Calibrators: concentrations in ${a.units || "the analyte's units"}, accuracy = back-calculated ÷ expected` },
  );
}

function curveText(c: number[]): string {
  const terms = c.map((v, i) => (i === 0 ? formatNumber(v) : `${formatNumber(Math.abs(v))}·x${i === 2 ? "²" : ""}`));
  return terms.reduce((text, term, i) => (i === 0 ? term : `${text} ${c[i] < 0 ? "−" : "+"} ${term}`), "");
}

function qcSection(a: AnalyteCharts): Child {
  if (a.qc.length === 0) return [h("h3", null, "Quality control"), h("p", { class: "empty" }, "No QC values for this analyte.")];
  return [h("h3", null, "Quality control"), h("div", { class: "batch-qc-grid" }, a.qc.map((q) => qcLevel(a, q)))];
}

function qcLevel(a: AnalyteCharts, q: QcLevel): HTMLElement {
  const named = q.points.filter((p) => p.violations.length > 0);
  return h(
    "div",
    { class: "batch-qc-level" },
    h("h4", null, `${q.level}${q.lot ? `, lot ${q.lot}` : ""}`),
    h("div", { class: "batch-chart" }, leveyJenningsChart(a, q)),
    named.length
      ? h(
          "ul",
          { class: "batch-violations" },
          named.map((p) =>
            h("li", { class: p.violations.every((v) => v === "1_2s") ? "batch-warning-rule" : undefined }, h("strong", null, p.violations.map(westgardName).join(", ")), ` — ${p.this_batch ? "this batch" : `batch ${p.batch}`}, sample ${p.sample_id}, ${formatNumber(p.value)} ${a.units}`),
          ),
        )
      : h("p", { class: "muted" }, "No Westgard rule broken."),
    h(
      "details",
      null,
      h("summary", null, "Values"),
      table(
        [
          { label: "Batch", cell: (p) => (p.this_batch ? h("strong", null, `${p.batch} (this)`) : String(p.batch)) },
          { label: "Received", cell: (p) => formatTime(p.received_at) },
          { label: "Sample", cell: (p) => p.sample_id },
          { label: "Value", cell: (p) => formatNumber(p.value), class: "num" },
          { label: "z", cell: (p) => formatNumber(p.z, 3), class: "num" },
          { label: "Violations", cell: (p) => p.violations.map(westgardName).join(", ") || "—" },
        ],
        q.points,
      ),
    ),
  );
}

function isSection(a: AnalyteCharts): Child {
  const points = a.internal_standard_response;
  if (points.length === 0) return [h("h3", null, "Internal standard response"), h("p", { class: "empty" }, "No internal-standard areas for this analyte.")];
  const ref = isReference(points);
  const outside = ref === null ? [] : points.filter((p) => p.area !== null && (p.area < ref * 0.5 || p.area > ref * 1.5));
  return [
    h("h3", null, "Internal standard response"),
    h(
      "div",
      { class: "batch-pair" },
      h("div", { class: "batch-chart" }, isResponseChart(a, points)),
      h(
        "div",
        null,
        h("p", null, ref === null ? "No IS area to compare." : `Median IS area of the calibrators and QCs: ${formatNumber(ref, 6)}. The band shows 50–150 % of it.`),
        outside.length
          ? h("p", { class: "batch-excluded" }, "Outside the band: ", outside.map((p) => `injection ${p.injection ?? "?"} (${kindName(p.kind)} ${p.sample_id})`).join(", "), ".")
          : h("p", { class: "muted" }, "Every injection is inside the band."),
        isValues(points, ref),
      ),
    ),
  ];
}

function isValues(points: IsPoint[], ref: number | null): HTMLElement {
  return h(
      "details",
      null,
      h("summary", null, "Values"),
      table<IsPoint>(
        [
          { label: "Injection", cell: (p) => (p.injection === null ? "—" : String(p.injection)), class: "num" },
          { label: "Sample", cell: (p) => p.sample_id },
          { label: "Kind", cell: (p) => kindName(p.kind) },
          { label: "IS area", cell: (p) => formatNumber(p.area, 6), class: "num" },
          { label: "% of median", cell: (p) => (ref && p.area !== null ? `${((p.area / ref) * 100).toFixed(0)} %` : "—"), class: "num" },
        ],
        points,
      ),
    );
}

export function analyteSection(a: AnalyteCharts, o: { findings: boolean; id?: string }): HTMLElement {
  const names = [a.lis_code, a.lis_name].filter(Boolean).join(" · ");
  return h(
    "section",
    { class: "batch-analyte", "aria-label": a.analyte },
    h("h2", { id: o.id }, a.analyte),
    h("p", { class: "muted" }, names ? `LIS ${names}` : "", a.units ? ` · units ${a.units}` : "", a.internal_standard ? ` · internal standard ${a.internal_standard}` : ""),
    calibrationSection(a),
    isSection(a),
    qcSection(a),
    o.findings ? [h("h3", null, "Findings"), findingsTable(a.findings, false, "No finding for this analyte.")] : null,
  );
}

// ---- Signing ----------------------------------------------------------------------------------

const MEANINGS: Array<{ value: string; label: string; permission: string }> = [
  { value: "reviewed", label: "Reviewed", permission: "results.review" },
  { value: "approved", label: "Approved (releases the results to the LIS)", permission: "results.approve" },
  { value: "rejected", label: "Rejected", permission: "results.approve" },
  { value: "rerun-requested", label: "Re-run requested", permission: "results.approve" },
];

/// The meanings this user may sign, the likeliest first: approval when every waiting result is
/// reviewed already.
function meaningsFor(batch: Batch): Array<{ value: string; label: string }> {
  const allowed = MEANINGS.filter((m) => can(m.permission));
  const waiting = resultRows(batch).filter((r) => r.result.waiting);
  const reviewed = waiting.length > 0 && waiting.every((r) => r.result.qa_state === "reviewed");
  if (reviewed) allowed.sort((l, r) => (l.value === "approved" ? -1 : r.value === "approved" ? 1 : 0));
  return allowed.map(({ value, label }) => ({ value, label }));
}

interface View {
  stale: HTMLElement; // where "the batch changed, reload" appears
  reload: (message?: string) => void;
}

/// The rules of an error finding on a waiting result: approving it needs a reason
/// (docs/signatures.md, `reason`).
function errorRules(batch: Batch): string[] {
  const rules = resultRows(batch)
    .filter((r) => r.result.waiting)
    .flatMap((r) => r.result.findings.filter((f) => f.severity === "error").map((f) => f.rule));
  return Array.from(new Set(rules));
}

/// Why this meaning needs a reason, or null. Checked before sending, so that a one-time code is
/// not spent on a signature the server would refuse for want of a reason.
function reasonNeeded(batch: Batch, meaning: string): string | null {
  if (meaning === "rejected" || meaning === "rerun-requested") return "a rejection or a re-run request needs one";
  const rules = errorRules(batch);
  if (meaning === "approved" && rules.length) return `approving releases results with an error finding (${rules.join(", ")})`;
  return null;
}

async function sign(view: View, batch: Batch, f: SignatureFields): Promise<void> {
  const why = f.reason ? null : reasonNeeded(batch, f.meaning);
  if (why) throw new Error(`Enter a reason: ${why}.`);
  const body: Record<string, unknown> = {
    subject: `batch:${batch.id}`,
    meaning: f.meaning,
    record_sha256: batch.record_sha256,
    password: f.password,
  };
  if (f.reason) body.reason = f.reason;
  if (f.totp) body.totp = f.totp;
  try {
    await api.post("/signatures", body);
  } catch (e) {
    if (e instanceof ApiError && e.status === 409 && typeof e.problem.record_sha256 === "string") {
      replace(
        view.stale,
        h(
          "div",
          { class: "notice warning", role: "alert" },
          "The batch changed since this page loaded: nothing was signed. ",
          button("Reload the batch", () => view.reload(), { kind: "primary" }),
        ),
      );
    }
    throw e;
  }
}

function signButton(view: View, batch: Batch): Child {
  const meanings = meaningsFor(batch);
  // Nothing waits: every meaning would be refused (409), so there is nothing to sign.
  if (meanings.length === 0 || currentUser().kind !== "user" || batch.waiting === 0) return null;
  return button(
    "Sign…",
    async () => {
      const signed = await signDialog({
        title: `Sign batch ${batch.id}`,
        what: [
          h("div", null, h("strong", null, `Batch ${batch.id}`), batch.source_name ? ` · ${batch.source_name}` : "", ` · ${batch.instrument}`),
          h("div", null, `${batch.waiting} of ${batch.result_count} results wait for a QA decision.`),
          h("div", { class: "hint" }, "Record ", h("code", null, batch.record_sha256)),
        ],
        meanings,
        reasonRequired: meanings.every((m) => reasonNeeded(batch, m.value) !== null),
        submit: (f) => sign(view, batch, f),
      });
      if (signed) view.reload("Your signature was recorded.");
    },
    { kind: "primary" },
  );
}

// ---- The page ---------------------------------------------------------------------------------

/// Who signed so far, in one line for the summary ("reviewed by Robin Reviewer, 2026-… UTC").
function signedLine(batch: Batch): HTMLElement {
  if (batch.signatures.length === 0) return h("p", { class: "batch-signed" }, "Not signed yet.");
  return h(
    "p",
    { class: "batch-signed" },
    "Signed: ",
    batch.signatures.map((s, i) => [i ? "; " : "", h("strong", null, s.meaning), ` by ${s.printed_name}, ${utcTime(s.signed_at)}`]),
  );
}

/// Buttons that bring a part of the long page into view (hash links would change the route).
function jumps(names: Array<[string, string]>): HTMLElement {
  return h(
    "nav",
    { class: "batch-jumps", "aria-label": "Parts of this batch" },
    "Go to: ",
    names.map(([text, id]) =>
      button(text, () => {
        const target = document.getElementById(id);
        if (!target) return;
        target.setAttribute("tabindex", "-1");
        target.scrollIntoView({ block: "start" });
        target.focus({ preventScroll: true });
      }),
    ),
  );
}

function page(view: View, batch: Batch, charts: BatchCharts | unknown, message?: string): Child {
  const sigHeading = `batch-signatures-${batch.id}`;
  const analytes = charts instanceof Error || !charts || typeof charts !== "object" || !("analytes" in charts) ? [] : (charts as BatchCharts).analytes;
  const parts: Array<[string, string]> = [
    ...analytes.map((a, i): [string, string] => [a.analyte, `batch-analyte-${i}`]),
    ["Findings", "batch-findings"],
    ["Results", "batch-results"],
    ["Signatures", sigHeading],
  ];
  return [
    pageHeader(
      `Batch ${batch.id}`,
      signButton(view, batch),
      link(`/batches/${seg(batch.id)}/report`, "Report", { class: "btn" }),
    ),
    view.stale,
    message ? notice(message, "success") : null,
    batch.waiting === 0 ? notice("No result of this batch waits for a QA decision.", "info") : null,
    h(
      "section",
      { class: "card batch-head", "aria-label": "Batch" },
      summaryList(batch),
      signedLine(batch),
      h("p", { class: "batch-record" }, "Record ", h("code", null, batch.record_sha256)),
      jumps(parts),
    ),
    chartsPart(charts),
    h("h2", { id: "batch-findings" }, "Findings of the batch"),
    findingsTable(batch.batch_findings, true, "No batch finding (calibration, QC run, system suitability)."),
    h("h2", { id: "batch-results" }, "Results"),
    resultsPart(batch),
    h("h2", { id: sigHeading }, "Signatures"),
    signaturesTable(batch, sigHeading),
  ];
}

function chartsPart(charts: BatchCharts | unknown): Child {
  if (charts instanceof Error || !charts || typeof charts !== "object" || !("analytes" in charts)) {
    return [h("h2", null, "Charts"), h("div", { class: "notice error", role: "alert" }, "The charts could not be loaded: ", charts instanceof ApiError ? charts.detail : String(charts))];
  }
  const list = (charts as BatchCharts).analytes;
  if (list.length === 0) return h("p", { class: "empty" }, "No analyte with calibration, QC or internal-standard data.");
  return list.map((a, i) => analyteSection(a, { findings: true, id: `batch-analyte-${i}` }));
}

/// Both documents of the batch view; the charts' failure does not hide the batch.
export async function loadBatch(id: string): Promise<{ batch: Batch; charts: BatchCharts | Error }> {
  const [batch, charts] = await Promise.all([
    api.get<Batch>(`/batches/${seg(id)}`),
    api.get<BatchCharts>(`/batches/${seg(id)}/charts`).catch((e: unknown) => (e instanceof Error ? e : new Error(String(e)))),
  ]);
  return { batch, charts };
}

export async function render(ctx: RouteContext): Promise<void> {
  const id = ctx.params.id;
  if (!/^[1-9][0-9]*$/.test(id)) {
    replace(ctx.main, pageHeader("Batch"), notice(`"${id}" is not a batch number.`, "error"));
    return;
  }
  const view: View = {
    stale: h("div", { class: "batch-stale" }),
    reload: (message?: string) => void show(message),
  };
  const show = async (message?: string): Promise<void> => {
    const y = window.scrollY;
    replace(ctx.main, pageHeader(`Batch ${id}`), h("p", { class: "loading" }, "Loading…"));
    try {
      const { batch, charts } = await loadBatch(id);
      view.stale = h("div", { class: "batch-stale" });
      replace(ctx.main, page(view, batch, charts, message));
      if (message) {
        window.scrollTo(0, 0);
        ctx.main.querySelector<HTMLElement>("h1")?.setAttribute("tabindex", "-1");
        ctx.main.querySelector<HTMLElement>("h1")?.focus();
      } else if (y) window.scrollTo(0, y);
    } catch (e) {
      replace(ctx.main, pageHeader(`Batch ${id}`), errorBox(e), h("p", null, link("/review", "Back to the review queue")));
    }
  };
  await show();
}
