// Login records (docs/api.md "Logging in"): every attempt, successful or not, with its time,
// organisation and user as sent, method, address, user agent and outcome. GET /logins filtered by
// time, user and outcome, newest first and paged.
import { h, replace } from "../lib/dom";
import { RouteContext } from "../lib/router";
import { Column, formatTime, pageHeader } from "../lib/ui";
import { FilterSpec, filterForm, pagedTable, recordTabs, rememberFilters } from "./audit";

interface LoginRecord {
  id: number;
  at: string;
  org: string;
  user: string;
  method: string;
  peer: string;
  user_agent: string;
  outcome: string;
}

const OUTCOMES = [
  "success",
  "bad_password",
  "unknown_user",
  "bad_totp",
  "totp_required",
  "locked",
  "disabled",
  "throttled",
  "address_refused",
  "bad_key",
  "expired_key",
  "creator_disabled",
];

const FILTERS: FilterSpec[] = [
  { name: "from", label: "From date", type: "date" },
  { name: "to", label: "To date", type: "date" },
  { name: "user", label: "User", hint: "The user name as sent, or apikey:<prefix>" },
  { name: "outcome", label: "Outcome", hint: "success, bad_password, locked …", list: OUTCOMES },
];

function outcomeBadge(outcome: string): HTMLElement {
  const kind = outcome === "success" ? "ok" : outcome === "throttled" || outcome === "totp_required" ? "warn" : "bad";
  return h("span", { class: `badge ${kind}` }, outcome);
}

/// A user agent is long: the first words, the whole of it in the tooltip.
function agent(text: string): HTMLElement | string {
  if (!text) return "—";
  return text.length <= 40 ? text : h("span", { title: text }, `${text.slice(0, 40)}…`);
}

const COLUMNS: Column<LoginRecord>[] = [
  { label: "Time", cell: (l) => formatTime(l.at) },
  { label: "Organisation", cell: (l) => l.org || "—" },
  { label: "User", cell: (l) => l.user || "—" },
  { label: "Method", cell: (l) => l.method.replace(/_/g, " ") },
  { label: "Address", cell: (l) => l.peer },
  { label: "User agent", cell: (l) => agent(l.user_agent), class: "logins-agent" },
  { label: "Outcome", cell: (l) => outcomeBadge(l.outcome) },
];

export function render(ctx: RouteContext): void {
  const list = h("div", { class: "logins-list" });
  const load = () => {
    rememberFilters("/logins", filters.raw());
    void pagedTable(list, COLUMNS, "/logins", filters.query(), "No login record matches these filters.", "Login attempts, newest first");
  };
  const filters = filterForm(FILTERS, ctx.query, load);
  replace(
    ctx.main,
    pageHeader("Login records"),
    recordTabs(),
    h("p", { class: "muted" }, "Every login attempt, successful or not, and every wrong password given inside a session (method reauthentication)."),
    filters.element,
    list,
  );
  load();
}
