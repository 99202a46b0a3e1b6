// Result search (#/results): samples by sample id, instrument, receipt date and result
// disposition, newest first and paged (GET /api/v1/samples); each sample opens its own page
// (#/results/<id>, GET /api/v1/samples/{id}) with its results, their findings and its batch.
import { ApiError, api, Page } from "../lib/api";
import { Child, h, replace } from "../lib/dom";
import { link, navigate, RouteContext, seg } from "../lib/router";
import { button, errorBox, field, formatTime, input, pageHeader, select, table } from "../lib/ui";
import { dateRangeProblem, dayEndIso, dayStartIso, loadInto, pagedTable, pathWith, stateBadge } from "./review";

/// A sample as GET /api/v1/samples lists it (docs/openapi.yaml SampleSummary).
interface SampleSummary {
  id: number;
  message_id: number;
  sample_id: string;
  kind: string;
  instrument: string;
  connector: string;
  received_at: string;
  result_count: number;
  states: string[];
}

interface Finding {
  rule: string;
  severity: string;
  message: string;
  action: string;
}

interface Result {
  id: number;
  instrument_code: string;
  lis_code: string;
  lis_name: string;
  value: string;
  units: string;
  reference_range: string;
  flags: string;
  status: string;
  measured_at: string;
  disposition: string;
  findings: Finding[];
}

interface SampleDetail extends SampleSummary {
  results: Result[];
}

const DISPOSITIONS: Array<[string, string]> = [
  ["", "Any"],
  ["hold", "Held"],
  ["release", "Released"],
  ["reject", "Rejected"],
];

interface Filters {
  sample_id: string;
  instrument: string;
  from: string;
  to: string;
  state: string;
}

function filtersOf(query: URLSearchParams): Filters {
  const state = query.get("state") ?? "";
  return {
    sample_id: query.get("sample_id") ?? "",
    instrument: query.get("instrument") ?? "",
    from: query.get("from") ?? "",
    to: query.get("to") ?? "",
    state: DISPOSITIONS.some(([v]) => v === state) ? state : "",
  };
}

function filterForm(f: Filters): HTMLFormElement {
  const sampleId = input({ name: "sample_id", value: f.sample_id, autocomplete: "off", spellcheck: "false" });
  const instrument = input({ name: "instrument", value: f.instrument, autocomplete: "off" });
  const from = input({ type: "date", name: "from", value: f.from });
  const to = input({ type: "date", name: "to", value: f.to });
  const state = select(DISPOSITIONS, f.state);
  const errors = h("div", { class: "form-errors" });
  const el = h(
    "form",
    { class: "filters results-filters", "aria-label": "Search samples", novalidate: true },
    field("Sample ID", sampleId),
    field("Instrument", instrument),
    field("From", from),
    field("To", to),
    field("Result state", state),
    h(
      "div",
      { class: "results-filter-buttons" },
      button("Search", null, { kind: "primary", type: "submit" }),
      button("Reset", () => navigate("/results")),
    ),
  );
  el.appendChild(errors);
  el.addEventListener("submit", (e) => {
    e.preventDefault();
    const problem = dateRangeProblem(from.value, to.value);
    if (problem) {
      replace(errors, errorBox(problem));
      return;
    }
    navigate(
      pathWith("/results", {
        sample_id: sampleId.value.trim(),
        instrument: instrument.value.trim(),
        from: from.value,
        to: to.value,
        state: state.value,
      }),
    );
  });
  return el;
}

function statesCell(states: string[]): Child {
  if (states.length === 0) return "—";
  return h("span", { class: "results-states" }, states.map((s) => stateBadge(s)));
}

function sampleTable(rows: SampleSummary[]): HTMLElement {
  return table<SampleSummary>(
    [
      { label: "Sample", cell: (s) => link(`/results/${seg(s.id)}`, s.sample_id || `Sample ${s.id}`) },
      { label: "Kind", cell: (s) => s.kind || "—" },
      { label: "Instrument", cell: (s) => s.instrument || "—" },
      { label: "Received", cell: (s) => formatTime(s.received_at) },
      { label: "Results", cell: (s) => s.result_count, class: "num" },
      { label: "Result states", cell: (s) => statesCell(s.states) },
      { label: "Batch", cell: (s) => link(`/batches/${seg(s.message_id)}`, `Batch ${s.message_id}`) },
    ],
    rows,
    { caption: "Samples, newest first" },
  );
}

async function loadList(f: Filters, container: HTMLElement): Promise<void> {
  const page = await api.get<Page<SampleSummary>>("/samples", {
    sample_id: f.sample_id,
    instrument: f.instrument,
    from: dayStartIso(f.from),
    to: dayEndIso(f.to),
    state: f.state,
  });
  if (page.items.length === 0) {
    const filtered = Object.values(f).some(Boolean);
    replace(container, h("p", { class: "empty" }, filtered ? "No sample matches these filters." : "No sample has been received yet."));
    return;
  }
  pagedTable(container, page, sampleTable, "tbody tr td:first-child a");
}

export async function render(ctx: RouteContext): Promise<void> {
  const f = filtersOf(ctx.query);
  const list = h("div", { class: "results-list" });
  replace(ctx.main, pageHeader("Results"), filterForm(f), list);
  const problem = dateRangeProblem(f.from, f.to);
  if (problem) {
    replace(list, errorBox(problem));
    return;
  }
  await loadInto(list, () => loadList(f, list));
}

// ---- one sample ----------------------------------------------------------------------------

const SEVERITY_BADGE: Record<string, string> = { error: "bad", warning: "warn", info: "" };

function findingsCell(findings: Finding[]): Child {
  if (findings.length === 0) return "—";
  return h(
    "ul",
    { class: "results-findings" },
    findings.map((f) =>
      h(
        "li",
        null,
        h("span", { class: `badge ${SEVERITY_BADGE[f.severity] ?? ""}` }, f.severity),
        " ",
        h("strong", null, f.rule),
        ": ",
        f.message,
        f.action ? h("span", { class: "muted" }, ` (${f.action})`) : null,
      ),
    ),
  );
}

function resultTable(results: Result[]): HTMLElement {
  return table<Result>(
    [
      { label: "Instrument code", cell: (r) => r.instrument_code || "—" },
      { label: "LIS code", cell: (r) => r.lis_code || h("span", { class: "muted" }, "not mapped") },
      { label: "Name", cell: (r) => r.lis_name || "—" },
      { label: "Value", cell: (r) => r.value || "—", class: "num" },
      { label: "Units", cell: (r) => r.units || "—" },
      { label: "Reference range", cell: (r) => r.reference_range || "—" },
      { label: "Flags", cell: (r) => r.flags || "—" },
      { label: "Status", cell: (r) => r.status || "—" },
      { label: "Measured", cell: (r) => r.measured_at || "—" },
      { label: "Disposition", cell: (r) => stateBadge(r.disposition) },
      { label: "Findings", cell: (r) => findingsCell(r.findings) },
    ],
    results,
    { empty: "This sample has no results.", caption: "Results" },
  );
}

function sampleFacts(s: SampleDetail): HTMLElement {
  const fact = (term: string, value: Child) => [h("dt", null, term), h("dd", null, value)];
  return h(
    "dl",
    { class: "results-facts card" },
    fact("Kind", s.kind || "—"),
    fact("Instrument", s.instrument || "—"),
    fact("Connector", s.connector || "—"),
    fact("Received", formatTime(s.received_at)),
    fact("Batch", link(`/batches/${seg(s.message_id)}`, `Batch ${s.message_id}`)),
    fact("Result states", statesCell(s.states)),
  );
}

/// #/results/:id — one sample with its results and findings.
export async function renderSample(ctx: RouteContext): Promise<void> {
  const body = h("div", { class: "results-sample" });
  replace(ctx.main, h("p", { class: "results-back" }, link("/results", "Back to the result search")), body);
  const id = ctx.params.id;
  if (!/^[1-9][0-9]*$/.test(id)) {
    replace(body, pageHeader("Sample"), errorBox("There is no such sample: the address must end in a sample number."));
    return;
  }
  replace(body, pageHeader("Sample"), h("p", { class: "loading" }, "Loading…"));
  body.setAttribute("aria-busy", "true");
  try {
    const s = await api.get<SampleDetail>(`/samples/${seg(id)}`);
    replace(body, pageHeader(`Sample ${s.sample_id || s.id}`), sampleFacts(s), resultTable(s.results));
  } catch (e) {
    const missing = e instanceof ApiError && e.status === 404;
    replace(body, pageHeader("Sample"), errorBox(missing ? `There is no sample ${id} in your organisation.` : e));
  } finally {
    body.removeAttribute("aria-busy");
  }
}
