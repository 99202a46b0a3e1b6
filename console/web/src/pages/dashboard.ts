// The dashboard (#/): the held backlog and the traffic of the last hour (GET /api/v1/overview),
// the batches waiting for review (GET /api/v1/batches?state=held), the codes without a mapping
// (GET /api/v1/unmapped-codes), each connector's state and counts (GET /api/v1/connectors) and
// each destination's state, queue and dead letters (GET /api/v1/destinations). Each section is
// shown only when the session holds its permission; a 403 all the same says so quietly.
//
// Refreshed every 15 s in place: a section's content is swapped only once its new data arrived,
// the focused link or summary and the open <details> are found again in the new content, and the
// scroll position stays. The refresh pauses after 10 minutes without keyboard or pointer use, so
// that an unattended screen does not keep the session alive past its idle timeout
// (security.session.idle_seconds, docs/api.md "Using a session or an API key").
import { ApiError, api, Page } from "../lib/api";
import { lineChart } from "../lib/charts";
import { Child, h, replace } from "../lib/dom";
import { link, RouteContext, seg } from "../lib/router";
import { can } from "../lib/session";
import { button, errorBox, formatTime, pageHeader, select, table } from "../lib/ui";
import { BatchSummary, batchLink } from "./review";

const REFRESH_MS = 15_000;
const IDLE_PAUSE_MS = 10 * 60_000;

// ---- what the API answers -------------------------------------------------------------------

/// GET /api/v1/overview (connectors.read).
interface Overview {
  generated_at: string;
  minutes: number;
  throughput: ThroughputMinute[];
  held: { batches: number; results: number; oldest_received_at: string | null };
  dead_letters: number;
}

interface ThroughputMinute {
  at: string;
  received: number;
  refused: number;
  results: number;
  delivered: number;
}

/// A connector: name, kind, state and counters that depend on its kind.
type Connector = { name: string; kind: string; state: string } & Record<string, unknown>;

interface Destination {
  name: string;
  kind: string;
  state: string;
  queue_depth?: number;
  delivered?: number;
  dead_letter?: number;
  last_error?: string;
}

interface UnmappedCode {
  instrument: string;
  code: string;
  results: number;
  first_seen: string;
  last_seen: string;
  waiting: number;
}

// ---- refreshing in place --------------------------------------------------------------------

interface Section {
  el: HTMLElement;
  load: () => Promise<Child>;
}

/// What identifies a focusable element again after its section was rebuilt.
function keyOf(el: Element): string | null {
  return el.getAttribute("data-key") ?? el.getAttribute("href");
}

function findKey(root: HTMLElement, key: string): HTMLElement | null {
  for (const el of Array.from(root.querySelectorAll<HTMLElement>("[data-key], a[href]"))) {
    if (keyOf(el) === key) return el;
  }
  return null;
}

function sameChildren(a: Element, b: Element): boolean {
  if (a.childNodes.length !== b.childNodes.length) return false;
  return Array.from(a.childNodes).every((n, i) => n.isEqualNode(b.childNodes[i]));
}

/// Replaces a section's content keeping the focus, the open <details> and the scroll position.
/// Content that did not change is left alone (no new role="alert" announced every 15 s).
function swap(el: HTMLElement, content: Child): void {
  const fresh = h("div", null, content);
  if (sameChildren(el, fresh)) return;
  const active = document.activeElement;
  const focusKey = active && el.contains(active) ? keyOf(active) : null;
  const open = Array.from(el.querySelectorAll("details[open]"))
    .map((d) => d.getAttribute("data-key"))
    .filter((k): k is string => k !== null);
  const x = window.scrollX;
  const y = window.scrollY;
  replace(el, Array.from(fresh.childNodes));
  for (const key of open) findKey(el, key)?.setAttribute("open", "");
  if (focusKey) findKey(el, focusKey)?.focus({ preventScroll: true });
  window.scrollTo(x, y);
}

/// A 403 is said quietly (the roles do not include this section); anything else is an error.
function sectionError(e: unknown, what: string): HTMLElement {
  if (e instanceof ApiError && e.status === 403) {
    return h("p", { class: "muted" }, `Your roles do not include ${what}.`);
  }
  return errorBox(e);
}

async function refresh(section: Section, what: string): Promise<void> {
  try {
    swap(section.el, await section.load());
  } catch (e) {
    swap(section.el, sectionError(e, what));
  }
}

let lastActivity = Date.now();
let activityWatched = false;

function watchActivity(): void {
  if (activityWatched) return;
  activityWatched = true;
  const mark = () => {
    lastActivity = Date.now();
  };
  for (const type of ["keydown", "pointerdown", "pointermove", "wheel", "touchstart"]) {
    document.addEventListener(type, mark, { passive: true });
  }
}

// ---- small pieces ---------------------------------------------------------------------------

function stateBadge(state: string): HTMLElement {
  const good = ["listening", "ready", "watching", "running", "idle", "delivering", "connected"];
  const warn = ["retrying", "starting", "unknown"];
  const kind = good.includes(state) ? "ok" : warn.includes(state) ? "warn" : "bad";
  return h("span", { class: `badge ${kind}` }, state || "unknown");
}

function words(key: string): string {
  const text = key.replace(/_/g, " ");
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function count(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}

function tile(label: string, value: Child, extra?: Child): HTMLElement {
  return h("div", { class: "dashboard-tile" }, h("span", { class: "dashboard-tile-label" }, label), h("span", { class: "dashboard-tile-value" }, value), extra);
}

// ---- the throughput chart -------------------------------------------------------------------

interface Series {
  key: keyof Omit<ThroughputMinute, "at">;
  label: string;
}

// Messages and results on their own scales: a batch brings dozens of results in one message.
const MESSAGE_SERIES: Series[] = [
  { key: "received", label: "Messages received" },
  { key: "refused", label: "Messages refused" },
  { key: "delivered", label: "Messages delivered" },
];
const RESULT_SERIES: Series[] = [{ key: "results", label: "Results stored" }];
const SERIES: Series[] = [...MESSAGE_SERIES, ...RESULT_SERIES];

/// The throughput per minute, one line per series, drawn by charts.ts lineChart.
function throughputChart(points: ThroughputMinute[], minutes: number, series: Series[], what: string): SVGSVGElement {
  return lineChart({
    label: `${what} per minute over the last ${minutes} minutes: ${series.map((s) => s.label.toLowerCase()).join(", ")}`,
    yLabel: `${what.toLowerCase()} per minute`,
    width: 1000,
    height: 230,
    margin: { top: 30, right: 44, bottom: 46, left: 60 }, // room for the last time label
    dots: false, // 60 to 1440 minutes: the lines alone; the numbers are in the table below
    series: series.map((s) => ({
      name: s.label,
      className: s.key,
      points: points.map((p) => ({ at: p.at, value: p[s.key] })),
    })),
  });
}

/// The totals of the period, in words beside the chart.
function totals(points: ThroughputMinute[], series: Series[]): HTMLElement {
  return h(
    "p",
    { class: "dashboard-totals" },
    "In this period: ",
    series.map((s, i) => [i > 0 ? ", " : null, `${s.label.toLowerCase()} `, h("strong", null, String(points.reduce((sum, p) => sum + p[s.key], 0)))]),
    ".",
  );
}

/// The minutes with traffic as a table: the chart's numbers for those who do not see it.
function minuteTable(points: ThroughputMinute[]): HTMLElement {
  const busy = points.filter((p) => SERIES.some((s) => p[s.key] > 0));
  return h(
    "details",
    { class: "dashboard-numbers", "data-key": "throughput-numbers" },
    h("summary", { "data-key": "throughput-numbers-summary" }, "The numbers per minute"),
    table<ThroughputMinute>(
      [{ label: "Minute", cell: (p) => formatTime(p.at) }, ...SERIES.map((s) => ({ label: s.label, cell: (p: ThroughputMinute) => p[s.key], class: "num" }))],
      busy,
      { empty: "No traffic in this period." },
    ),
  );
}

// ---- the sections ---------------------------------------------------------------------------

async function loadOverview(minutes: number): Promise<Child> {
  const o = await api.get<Overview>("/overview", { minutes });
  const held = o.held;
  return [
    h(
      "div",
      { class: "dashboard-tiles" },
      tile("Batches held", String(held.batches), can("results.read") ? link("/review", "Open the queue") : null),
      tile("Results held", String(held.results)),
      tile("Oldest held since", held.oldest_received_at ? formatTime(held.oldest_received_at) : "none held"),
      tile(
        "Dead letters",
        String(o.dead_letters),
        o.dead_letters > 0 && can("destinations.read") ? link("/dead-letters", "See the dead letters") : null,
      ),
    ),
    h("h3", null, `Throughput, last ${o.minutes >= 120 ? `${o.minutes / 60} hours` : `${o.minutes} minutes`}`),
    o.throughput.every((p) => SERIES.every((s) => p[s.key] === 0))
      ? h("p", { class: "muted" }, "Nothing was received, stored or delivered in this period.")
      : null,
    throughputChart(o.throughput, o.minutes, MESSAGE_SERIES, "Messages"),
    totals(o.throughput, MESSAGE_SERIES),
    throughputChart(o.throughput, o.minutes, RESULT_SERIES, "Results"),
    totals(o.throughput, RESULT_SERIES),
    minuteTable(o.throughput),
  ];
}

async function loadHeld(): Promise<Child> {
  const page = await api.get<Page<BatchSummary>>("/batches", { state: "held", limit: 5 });
  if (page.items.length === 0) return h("p", { class: "empty" }, "No batch is waiting for review.");
  return [
    table<BatchSummary>(
      [
        { label: "Batch", cell: (b) => batchLink(b) },
        { label: "Instrument", cell: (b) => b.instrument || "—" },
        { label: "Received", cell: (b) => formatTime(b.received_at) },
        { label: "Waiting", cell: (b) => b.waiting, class: "num" },
      ],
      page.items,
      { caption: "The newest batches held" },
    ),
    h("p", null, link("/review", page.next ? "All held batches" : "Open the queue")),
  ];
}

async function loadUnmapped(): Promise<Child> {
  const page = await api.get<Page<UnmappedCode>>("/unmapped-codes");
  const waiting = page.items.filter((c) => c.waiting > 0).sort((a, b) => b.waiting - a.waiting);
  if (page.items.length === 0) return h("p", { class: "empty" }, "Every code received has a mapping.");
  const total = waiting.reduce((s, c) => s + c.waiting, 0);
  return [
    h(
      "p",
      null,
      `${count(page.items.length, "code", "codes")} arrived without a mapping; `,
      waiting.length ? `${count(total, "result waits", "results wait")} on them.` : "no result waits on them now.",
    ),
    waiting.length
      ? table<UnmappedCode>(
          [
            { label: "Code", cell: (c) => c.code },
            { label: "Instrument", cell: (c) => c.instrument || "—" },
            { label: "Results waiting", cell: (c) => c.waiting, class: "num" },
            { label: "Last seen", cell: (c) => formatTime(c.last_seen) },
          ],
          waiting.slice(0, 5),
          { caption: "Codes with the most results waiting" },
        )
      : null,
    h("p", null, link("/unmapped", "See the unmapped codes")),
  ];
}

/// A connector's counters, whatever its kind: every count it reports, in words (not the size of
/// the file being read).
function counters(c: Connector): Child {
  const numbers = Object.entries(c).filter(([k, v]) => typeof v === "number" && !k.endsWith("_bytes")) as Array<[string, number]>;
  if (numbers.length === 0) return "—";
  return h(
    "dl",
    { class: "dashboard-counters" },
    numbers.map(([k, v]) => [h("dt", null, words(k)), h("dd", null, String(v))]),
  );
}

async function loadConnectors(): Promise<Child> {
  const page = await api.get<Page<Connector>>("/connectors");
  return table<Connector>(
    [
      { label: "Connector", cell: (c) => c.name },
      { label: "Kind", cell: (c) => c.kind },
      { label: "Instrument", cell: (c) => (typeof c.instrument === "string" && c.instrument ? c.instrument : "—") },
      {
        label: "Mapping set",
        cell: (c) =>
          typeof c.mapping_set === "string" && c.mapping_set ? link(`/mappings/${seg(c.mapping_set)}`, c.mapping_set) : "—",
      },
      { label: "State", cell: (c) => stateBadge(c.state) },
      { label: "Listens on", cell: (c) => (typeof c.listen === "string" ? c.listen : "—") },
      { label: "Counts", cell: counters },
    ],
    page.items,
    { empty: "No connector is configured for your organisation." },
  );
}

async function loadDestinations(): Promise<Child> {
  const page = await api.get<Page<Destination>>("/destinations");
  const deadLetters = (d: Destination): Child => {
    const n = d.dead_letter ?? 0;
    if (n === 0) return "0";
    return link("/dead-letters", String(n), { "aria-label": `${n} dead letters of ${d.name}`, "data-key": `dead-${d.name}` });
  };
  return table<Destination>(
    [
      { label: "Destination", cell: (d) => d.name },
      { label: "Kind", cell: (d) => d.kind || "—" },
      { label: "State", cell: (d) => stateBadge(d.state) },
      { label: "Queue", cell: (d) => d.queue_depth ?? "—", class: "num" },
      { label: "Delivered", cell: (d) => d.delivered ?? "—", class: "num" },
      { label: "Dead letters", cell: deadLetters, class: "num" },
      { label: "Last error", cell: (d) => d.last_error || "—" },
    ],
    page.items,
    { empty: "No destination is configured for your organisation." },
  );
}

// ---- the page -------------------------------------------------------------------------------

interface Part {
  title: string;
  permission: string;
  what: string; // "the traffic overview", for a quiet 403
  load: () => Promise<Child>;
  wide?: boolean;
}

function sectionElement(part: Part, index: number): { wrap: HTMLElement; body: HTMLElement } {
  const headingId = `dashboard-section-${index}`;
  const body = h("div", { class: "dashboard-body" }, h("p", { class: "loading" }, "Loading…"));
  const wrap = h(
    "section",
    { class: part.wide ? "card dashboard-section wide" : "card dashboard-section", "aria-labelledby": headingId },
    h("h2", { id: headingId }, part.title),
    body,
  );
  return { wrap, body };
}

/// For roles that see none of the sections (an auditor): says so; the navigation has their pages.
/// (No links here whose names repeat the navigation's: the browser tests find those by name.)
function nothingToShow(): HTMLElement {
  return h(
    "div",
    { class: "card" },
    h("p", null, "Your roles do not include the traffic, connectors or review queue shown here: the navigation above lists the pages you can open."),
  );
}

/// Refreshes every section now and then every 15 s while `root` is in the page, the tab visible
/// and someone active; answers the function that refreshes at once.
function refresher(
  root: HTMLElement,
  sections: Array<{ part: Part; body: HTMLElement }>,
  updated: HTMLElement,
  refreshButton: HTMLButtonElement,
): () => Promise<void> {
  let timer: number | undefined;
  let running = false;
  let again = false; // asked for while a refresh ran (a new period): once more at its end
  async function refreshAll(): Promise<void> {
    if (!root.isConnected) return;
    if (running) {
      again = true;
      return;
    }
    running = true;
    again = false;
    window.clearTimeout(timer);
    try {
      await Promise.all(sections.map((s) => refresh({ el: s.body, load: s.part.load }, s.part.what)));
      replace(updated, "Updated ", formatTime(new Date().toISOString()), ". Refreshed every 15 seconds.");
    } finally {
      running = false;
      if (again) void refreshAll();
      else schedule();
    }
  }
  function schedule(): void {
    if (!root.isConnected) return;
    timer = window.setTimeout(tick, REFRESH_MS);
  }
  function tick(): void {
    if (!root.isConnected) return;
    if (document.hidden) {
      schedule();
      return;
    }
    if (Date.now() - lastActivity > IDLE_PAUSE_MS) {
      replace(
        updated,
        "Automatic refresh paused after 10 minutes without activity, so that your session can end on its own. ",
        button("Resume refreshing", () => {
          lastActivity = Date.now();
          refreshButton.focus();
          void refreshAll();
        }),
      );
      return;
    }
    void refreshAll();
  }
  return refreshAll;
}

export function render(ctx: RouteContext): void {
  watchActivity();
  lastActivity = Date.now();
  let minutes = 60;
  const parts: Part[] = [
    { title: "Held backlog and throughput", permission: "connectors.read", what: "the traffic overview", load: () => loadOverview(minutes), wide: true },
    { title: "Waiting for review", permission: "results.read", what: "the review queue", load: loadHeld },
    { title: "Unmapped codes", permission: "results.read", what: "the unmapped codes", load: loadUnmapped },
    { title: "Connectors", permission: "connectors.read", what: "the connectors", load: loadConnectors, wide: true },
    { title: "Destinations", permission: "destinations.read", what: "the destinations", load: loadDestinations, wide: true },
  ];
  const shown = parts.filter((p) => can(p.permission));
  const sections = shown.map((p, i) => ({ part: p, ...sectionElement(p, i) }));
  const updated = h("p", { class: "dashboard-updated muted" });
  const period = select(
    [
      ["15", "Last 15 minutes"],
      ["60", "Last hour"],
      ["240", "Last 4 hours"],
      ["1440", "Last 24 hours"],
    ],
    "60",
  );
  period.id = "dashboard-period";
  const refreshButton = button("Refresh now", () => void refreshAll());
  const controls = h(
    "div",
    { class: "dashboard-controls" },
    can("connectors.read") ? h("div", { class: "dashboard-period" }, h("label", { for: period.id }, "Throughput period"), period) : null,
    shown.length > 0 ? refreshButton : null,
  );
  const root = h(
    "div",
    { class: "dashboard" },
    pageHeader("Dashboard", controls),
    updated,
    shown.length === 0 ? nothingToShow() : h("div", { class: "dashboard-grid" }, sections.map((s) => s.wrap)),
  );
  replace(ctx.main, root);

  const refreshAll = refresher(root, sections, updated, refreshButton);
  period.addEventListener("change", () => {
    minutes = Number(period.value);
    void refreshAll();
  });
  if (sections.length > 0) void refreshAll();
}
