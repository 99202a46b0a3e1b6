// The review queue (#/review): the batches waiting for a QA decision, newest first, paged, with
// the released and rejected ones a tab away (GET /api/v1/batches, docs/api.md "Listing and
// paging"). The filters live in the page's query (#/review?state=held&instrument=tq-01&from=...)
// so that a reload, a bookmark or the back button shows the same list.
import { api, Page } from "../lib/api";
import { Child, h, replace } from "../lib/dom";
import { link, navigate, RouteContext, seg } from "../lib/router";
import { button, errorBox, field, formatTime, input, pageHeader, pager, table } from "../lib/ui";

/// A batch as GET /api/v1/batches lists it (docs/openapi.yaml BatchSummary).
export interface BatchSummary {
  id: number;
  state: "held" | "released" | "rejected";
  connector: string;
  instrument: string;
  format: string;
  source_name: string;
  received_at: string;
  sample_count: number;
  result_count: number;
  waiting: number;
  /// The meanings signed so far, oldest first ("reviewed").
  signed: string[];
}

const STATES: Array<{ value: BatchSummary["state"]; label: string; none: string; noMatch: string }> = [
  {
    value: "held",
    label: "Waiting for review",
    none: "No batch is waiting for review.",
    noMatch: "No batch waiting for review matches these filters.",
  },
  { value: "released", label: "Released", none: "No batch has been released yet.", noMatch: "No released batch matches these filters." },
  { value: "rejected", label: "Rejected", none: "No batch has been rejected.", noMatch: "No rejected batch matches these filters." },
];

// ---- shared with the dashboard and the result search -----------------------------------------

/// The start of a local calendar day ("2026-12-07") as a UTC ISO time for ?from=, or undefined.
export function dayStartIso(day: string): string | undefined {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(day)) return undefined;
  const d = new Date(`${day}T00:00:00`);
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
}

/// The last millisecond of a local calendar day as a UTC ISO time for ?to= (inclusive).
export function dayEndIso(day: string): string | undefined {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(day)) return undefined;
  const d = new Date(`${day}T23:59:59.999`);
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
}

/// A date field's problem in words, or null (the browser's date input allows partial values).
export function dateRangeProblem(from: string, to: string): string | null {
  if (from && !dayStartIso(from)) return "Enter the From date as a full date (year, month and day).";
  if (to && !dayEndIso(to)) return "Enter the To date as a full date (year, month and day).";
  if (from && to && from > to) return "The From date is after the To date.";
  return null;
}

/// The link text of a batch: its source name, or "Batch <id>" when it has none.
export function batchLink(b: { id: number; source_name: string }): HTMLAnchorElement {
  return link(`/batches/${seg(b.id)}`, b.source_name || `Batch ${b.id}`);
}

/// A result disposition or batch state as a badge with words.
export function stateBadge(state: string): HTMLElement {
  const kind =
    state === "held" || state === "hold"
      ? "warn"
      : state === "rejected" || state === "reject"
        ? "bad"
        : state === "released" || state === "release"
          ? "ok"
          : "";
  return h("span", { class: kind ? `badge ${kind}` : "badge" }, state);
}

/// Builds a hash path with the non-empty parameters of `query`.
export function pathWith(path: string, query: Record<string, string>): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v) params.set(k, v);
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}

/// A growing table of a paged list: the first page, then "Show more" appends the next one and
/// moves the focus to the first row it added.
export function pagedTable<T>(
  container: HTMLElement,
  first: Page<T>,
  build: (rows: T[]) => HTMLElement,
  focusSelector: string,
): void {
  const rows = [...first.items];
  const show = (next: string | null, focusFrom: number | null) => {
    const more = pager(next, async (url) => {
      const status = h("p", { class: "loading" }, "Loading…");
      container.appendChild(status);
      try {
        const page = await api.get<Page<T>>(url);
        const before = rows.length;
        rows.push(...page.items);
        show(page.next, before);
      } catch (e) {
        // The rows stay; the error is said and "Show more" offered again.
        show(url, null);
        container.insertBefore(errorBox(e), container.lastChild);
        container.querySelector<HTMLElement>(".pager button")?.focus();
      }
    });
    replace(container, build(rows), more);
    if (focusFrom !== null) {
      const targets = container.querySelectorAll<HTMLElement>(focusSelector);
      (targets[focusFrom] ?? more?.querySelector("button"))?.focus();
    }
  };
  show(first.next, null);
}

/// Shows "Loading…" in `container` while `fill` runs (it fills the container itself), or the
/// error in words (role="alert") when it fails.
export async function loadInto(container: HTMLElement, fill: () => Promise<void>): Promise<void> {
  container.setAttribute("aria-busy", "true");
  replace(container, h("p", { class: "loading" }, "Loading…"));
  try {
    await fill();
  } catch (e) {
    replace(container, errorBox(e));
  } finally {
    container.removeAttribute("aria-busy");
  }
}

// ---- the page ------------------------------------------------------------------------------

interface Filters {
  state: BatchSummary["state"];
  instrument: string;
  from: string;
  to: string;
}

function filtersOf(query: URLSearchParams): Filters {
  const state = STATES.find((s) => s.value === (query.get("state") ?? "held"))?.value ?? "held";
  return {
    state,
    instrument: query.get("instrument") ?? "",
    from: query.get("from") ?? "",
    to: query.get("to") ?? "",
  };
}

function signaturesCell(b: BatchSummary): Child {
  if (!b.signed || b.signed.length === 0) return "—";
  return b.signed.join(", ");
}

function batchTable(rows: BatchSummary[], state: BatchSummary["state"]): HTMLElement {
  return table<BatchSummary>(
    [
      { label: "Batch", cell: (b) => batchLink(b) },
      { label: "Instrument", cell: (b) => b.instrument || "—" },
      { label: "Received", cell: (b) => formatTime(b.received_at) },
      { label: "Samples", cell: (b) => b.sample_count, class: "num" },
      { label: "Results", cell: (b) => b.result_count, class: "num" },
      {
        label: "Waiting",
        cell: (b) => (b.waiting > 0 ? h("span", { class: "badge warn" }, String(b.waiting)) : "0"),
        class: "num",
      },
      { label: "Signatures so far", cell: signaturesCell },
      ...(state === "held" ? [] : [{ label: "State", cell: (b: BatchSummary) => stateBadge(b.state) }]),
    ],
    rows,
    { caption: STATES.find((s) => s.value === state)?.label },
  );
}

function stateTabs(f: Filters): HTMLElement {
  return h(
    "nav",
    { class: "tabs review-states", "aria-label": "Batch state" },
    STATES.map((s) =>
      link(
        pathWith("/review", { state: s.value === "held" ? "" : s.value, instrument: f.instrument, from: f.from, to: f.to }),
        s.label,
        s.value === f.state ? { class: "tab active", "aria-current": "page" } : { class: "tab" },
      ),
    ),
  );
}

function filterForm(f: Filters): HTMLFormElement {
  const instrument = input({ name: "instrument", value: f.instrument, list: "review-instruments", autocomplete: "off" });
  const from = input({ type: "date", name: "from", value: f.from });
  const to = input({ type: "date", name: "to", value: f.to });
  const errors = h("div", { class: "form-errors" });
  const el = h(
    "form",
    { class: "filters review-filters", "aria-label": "Filter the batches", novalidate: true },
    field("Instrument", instrument),
    field("From", from),
    field("To", to),
    h(
      "div",
      { class: "review-filter-buttons" },
      button("Filter", null, { kind: "primary", type: "submit" }),
      button("Reset", () => navigate(pathWith("/review", { state: f.state === "held" ? "" : f.state }))),
    ),
    h("datalist", { id: "review-instruments" }),
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
      pathWith("/review", {
        state: f.state === "held" ? "" : f.state,
        instrument: instrument.value.trim(),
        from: from.value,
        to: to.value,
      }),
    );
  });
  return el;
}

/// Offers the instruments of the rows shown as suggestions in the Instrument field.
function suggestInstruments(form: HTMLFormElement, rows: BatchSummary[]): void {
  const list = form.querySelector("datalist");
  if (!list) return;
  const names = Array.from(new Set(rows.map((b) => b.instrument).filter(Boolean))).sort();
  replace(list, names.map((n) => h("option", { value: n })));
}

async function loadList(f: Filters, container: HTMLElement, form: HTMLFormElement): Promise<void> {
  const state = STATES.find((s) => s.value === f.state) ?? STATES[0];
  const filtered = f.instrument || f.from || f.to;
  const page = await api.get<Page<BatchSummary>>("/batches", {
    state: f.state,
    instrument: f.instrument,
    from: dayStartIso(f.from),
    to: dayEndIso(f.to),
  });
  if (page.items.length === 0) {
    replace(container, h("p", { class: "empty" }, filtered ? state.noMatch : state.none));
    return;
  }
  suggestInstruments(form, page.items);
  pagedTable(container, page, (rows) => batchTable(rows, f.state), "tbody tr td:first-child a");
}

export async function render(ctx: RouteContext): Promise<void> {
  const f = filtersOf(ctx.query);
  const form = filterForm(f);
  const list = h("div", { class: "review-list" });
  replace(ctx.main, pageHeader("Review queue"), stateTabs(f), form, list);
  const problem = dateRangeProblem(f.from, f.to);
  if (problem) {
    replace(list, errorBox(problem));
    return;
  }
  await loadInto(list, () => loadList(f, list, form));
}
