// The audit trail (docs/audit.md): GET /audit filtered by time, actor, action and subject, newest
// first and paged; each event's detail (the old and new values and the reason of a change) shown
// as text in a <pre>, never as markup. "Verify the audit trail" walks the hash chain
// (GET /audit/verification) and says in words whether it is intact or where it breaks.
//
// The filter form and the paged table are shared with the login records page.
import { api, Page, Query } from "../lib/api";
import { Child, h, replace } from "../lib/dom";
import { link, RouteContext, seg } from "../lib/router";
import { can } from "../lib/session";
import { button, Column, errorBox, field, formatTime, input, pageHeader, tabs } from "../lib/ui";

// ---- shared with the login records page ------------------------------------------------------

/// Audit trail | Login records, each shown when the session may read it.
export function recordTabs(): HTMLElement | null {
  const items = [
    { label: "Audit trail", path: "/audit", permission: "audit.read" },
    { label: "Login records", path: "/logins", permission: "logins.read" },
  ];
  const allowed = items.filter((t) => can(t.permission));
  return allowed.length ? tabs(allowed) : null;
}

/// A day from a date field as an ISO time in the reader's zone: its start, or its last moment.
export function dayBound(date: string, end: boolean): string | undefined {
  if (!date) return undefined;
  const d = new Date(`${date}T${end ? "23:59:59.999" : "00:00:00"}`);
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
}

export interface FilterSpec {
  name: string; // the query parameter
  label: string;
  hint?: string;
  type?: "date" | "text";
  list?: string[]; // suggestions (a datalist)
}

export interface FilterForm {
  element: HTMLFormElement;
  /// The API query: dates become ISO times (to: the end of the day).
  query: () => Query;
  /// The page's own query (for the address bar): the fields as typed.
  raw: () => URLSearchParams;
}

function filterControl(spec: FilterSpec, value: string): HTMLInputElement {
  const control = input({ type: spec.type ?? "text", name: spec.name, value, autocomplete: "off", spellcheck: "false" });
  if (spec.list) control.setAttribute("list", `${spec.name}-suggestions`);
  return control;
}

/// Labelled filter fields and an "Apply filters" button; values start from the page's query.
export function filterForm(specs: FilterSpec[], initial: URLSearchParams, onApply: () => void): FilterForm {
  const controls = specs.map((s) => filterControl(s, initial.get(s.name) ?? ""));
  const lists = specs
    .filter((s) => s.list)
    .map((s) => h("datalist", { id: `${s.name}-suggestions` }, (s.list ?? []).map((v) => h("option", { value: v }))));
  const element = h(
    "form",
    { class: "filters audit-filters", role: "search", "aria-label": "Filters", novalidate: true },
    specs.map((s, i) => field(s.label, controls[i], s.hint)),
    lists,
    h("div", { class: "field" }, button("Apply filters", null, { kind: "primary", type: "submit" })),
    h("div", { class: "field" }, button("Clear", () => {
      controls.forEach((c) => (c.value = ""));
      onApply();
    })),
  );
  element.addEventListener("submit", (e) => {
    e.preventDefault();
    onApply();
  });
  const query = (): Query => {
    const q: Query = {};
    specs.forEach((s, i) => {
      const v = controls[i].value.trim();
      if (s.type === "date") q[s.name] = dayBound(v, s.name === "to");
      else q[s.name] = v || undefined;
    });
    return q;
  };
  const raw = (): URLSearchParams => {
    const p = new URLSearchParams();
    specs.forEach((s, i) => {
      const v = controls[i].value.trim();
      if (v) p.set(s.name, v);
    });
    return p;
  };
  return { element, query, raw };
}

/// Keeps the filters in the address (a reload or a bookmark shows the same list).
export function rememberFilters(path: string, params: URLSearchParams): void {
  const text = params.toString();
  history.replaceState(null, "", `#${path}${text ? "?" + text : ""}`);
}

/// The latest load of each list: an answer to an earlier filter that arrives late is dropped.
const latest = new WeakMap<HTMLElement, number>();

/// A paged list: the first page from `path` and `query`, then "Show more" appends the next pages.
export async function pagedTable<T>(
  container: HTMLElement,
  columns: Column<T>[],
  path: string,
  query: Query,
  empty: string,
  caption: string,
): Promise<void> {
  const tbody = h("tbody");
  const more = h("div", { class: "pager" });
  const count = h("p", { class: "muted audit-count", "aria-live": "polite" });
  let shown = 0;
  const add = (page: Page<T>) => {
    for (const row of page.items) {
      tbody.appendChild(h("tr", null, columns.map((c) => h("td", { class: c.class }, c.cell(row)))));
    }
    shown += page.items.length;
    replace(count, `${shown} shown${page.next ? "; there are more" : ""}.`);
    replace(more, page.next ? button("Show more", () => void loadMore(page.next as string)) : null);
  };
  const loadMore = async (next: string) => {
    replace(more, h("p", { class: "loading" }, "Loading…"));
    try {
      add(await api.get<Page<T>>(next));
    } catch (e) {
      replace(more, errorBox(e));
    }
  };
  const ticket = (latest.get(container) ?? 0) + 1;
  latest.set(container, ticket);
  container.setAttribute("aria-busy", "true");
  replace(container, h("p", { class: "loading" }, "Loading…"));
  try {
    const first = await api.get<Page<T>>(path, query);
    if (latest.get(container) !== ticket) return;
    if (!first.items.length) {
      replace(container, h("p", { class: "empty" }, empty));
      return;
    }
    const head = h("thead", null, h("tr", null, columns.map((c) => h("th", { scope: "col", class: c.class }, c.label))));
    replace(container, h("div", { class: "table-wrap" }, h("table", null, h("caption", null, caption), head, tbody)), count, more);
    add(first);
  } catch (e) {
    if (latest.get(container) === ticket) replace(container, errorBox(e));
  } finally {
    if (latest.get(container) === ticket) container.removeAttribute("aria-busy");
  }
}

// ---- the audit page --------------------------------------------------------------------------

interface AuditEvent {
  id: number;
  at: string;
  actor: string;
  action: string;
  subject: string;
  detail: unknown;
  hash: string;
}

interface Verification {
  valid: boolean;
  events: number;
  last_id: number;
  head: string | null;
  reason: string;
  broken: { id: number; problem: string; at?: string; action?: string; expected?: string; stored?: string } | null;
}

const ACTIONS = [
  "user.",
  "user.created",
  "user.updated",
  "user.disabled",
  "user.locked",
  "user.password_reset",
  "user.password_changed",
  "user.totp_enrolled",
  "user.totp_removed",
  "user.reauthentication_failed",
  "apikey.",
  "organisation.",
  "signature.",
  "signature.created",
  "signature.refused",
  "mapping_set.",
  "mapping_set.activated",
  "mapping_set.version_created",
  "batch.reevaluated",
  "message.",
  "outbound.",
  "outbound.resent",
  "access.denied",
  "engine.",
];

const FILTERS: FilterSpec[] = [
  { name: "from", label: "From date", type: "date" },
  { name: "to", label: "To date", type: "date" },
  { name: "actor", label: "Actor", hint: "user:alice, apikey:7, engine …" },
  { name: "action", label: "Action", hint: "Exact, or a prefix ending in “.”: user.", list: ACTIONS },
  { name: "subject", label: "Subject", hint: "user:alice, batch:12 …" },
];

/// The members a change touched ("printed_name, roles") and its reason, for the summary line.
function digest(detail: unknown): string {
  if (!detail || typeof detail !== "object" || Array.isArray(detail)) {
    return typeof detail === "string" && detail ? detail.slice(0, 80) : "Detail";
  }
  const d = detail as Record<string, unknown>;
  const changed = new Set<string>();
  for (const side of ["before", "after"]) {
    const part = d[side];
    if (part && typeof part === "object") Object.keys(part).forEach((k) => changed.add(k));
  }
  const keys = changed.size ? Array.from(changed) : Object.keys(d);
  let text = keys.slice(0, 5).join(", ") + (keys.length > 5 ? ", …" : "");
  if (typeof d.reason === "string" && d.reason) text += ` — reason: ${d.reason.slice(0, 60)}`;
  return text || "Detail";
}

function detailCell(e: AuditEvent): Child {
  if (e.detail === null || e.detail === undefined || e.detail === "") return "—";
  const text = typeof e.detail === "string" ? e.detail : JSON.stringify(e.detail, null, 2);
  return h("details", { class: "audit-detail" }, h("summary", null, digest(e.detail)), h("pre", null, text));
}

/// A subject the console has a page for links to it (a batch, a mapping set, a user's list).
function subjectCell(e: AuditEvent): Child {
  if (!e.subject) return "—";
  const batch = /^batch:(\d+)$/.exec(e.subject);
  if (batch) return link(`/batches/${batch[1]}`, e.subject);
  const set = /^mapping-set:(.+)$/.exec(e.subject);
  if (set) return link(`/mappings/${seg(set[1])}`, e.subject);
  return e.subject;
}

const COLUMNS: Column<AuditEvent>[] = [
  { label: "Event", cell: (e) => String(e.id), class: "num" },
  { label: "Time", cell: (e) => formatTime(e.at) },
  { label: "Actor", cell: (e) => e.actor },
  { label: "Action", cell: (e) => h("code", null, e.action) },
  { label: "Subject", cell: subjectCell },
  { label: "Detail", cell: detailCell, class: "audit-detail-cell" },
];

function sentence(text: string): string {
  if (!text) return "";
  const t = text.charAt(0).toUpperCase() + text.slice(1);
  return /[.!?]$/.test(t) ? t : t + ".";
}

function verdict(v: Verification): string {
  if (v.valid) {
    const head = v.head ? ` (last hash ${v.head.slice(0, 16)}…)` : "";
    return `The audit trail is intact: ${v.events} events verified, up to event ${v.last_id}${head}. ${sentence(v.reason)}`;
  }
  const b = v.broken;
  const where = b ? `at event ${b.id} (${b.problem === "content" ? "its content was changed" : "the link to the event before it is broken"})` : "";
  return `The audit trail is broken ${where}: ${v.reason}`;
}

async function verify(status: HTMLElement, errors: HTMLElement, trigger: HTMLButtonElement): Promise<void> {
  trigger.disabled = true;
  replace(errors);
  status.className = "audit-verdict";
  replace(status, "Verifying the audit trail…");
  try {
    const v = await api.get<Verification>("/audit/verification");
    status.className = `audit-verdict ${v.valid ? "intact" : "broken"}`;
    replace(status, verdict(v));
  } catch (e) {
    replace(status);
    replace(errors, errorBox(e));
  } finally {
    trigger.disabled = false;
  }
}

export function render(ctx: RouteContext): void {
  const status = h("div", { role: "status", class: "audit-verdict" });
  const errors = h("div");
  const verifyButton = button("Verify the audit trail", () => void verify(status, errors, verifyButton), { kind: "primary" });
  const list = h("div", { class: "audit-list" });
  const load = () => {
    rememberFilters("/audit", filters.raw());
    void pagedTable(list, COLUMNS, "/audit", filters.query(), "No audit event matches these filters.", "Audit events, newest first");
  };
  const filters = filterForm(FILTERS, ctx.query, load);
  replace(
    ctx.main,
    pageHeader("Audit trail", verifyButton),
    recordTabs(),
    status,
    errors,
    h("p", { class: "muted" }, "Every change LabGate makes is one event, hash-chained to the one before it; nothing here can be changed or deleted."),
    filters.element,
    list,
  );
  load();
}
