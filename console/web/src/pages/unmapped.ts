// Instrument codes that arrived without a mapping (GET /api/v1/unmapped-codes, docs/mappings.md
// "Codes that arrive without a mapping"): how often, first and last seen, how many results wait
// on each now, and where the connector's mapping set is known, a link to it.
import { api, Page } from "../lib/api";
import { Child, h, replace } from "../lib/dom";
import { link, navigate, RouteContext, seg } from "../lib/router";
import { can } from "../lib/session";
import { busy, button, Column, field, formatTime, input, pageHeader, table } from "../lib/ui";
import { trafficTabs } from "./mappings";

interface UnmappedCode {
  instrument: string;
  code: string;
  results: number;
  first_seen: string;
  last_seen: string;
  waiting: number;
}

/// GET /connectors items carry more members than their name (additionalProperties); a connector
/// that names its instrument and mapping set lets a code link to the set.
interface ConnectorInfo {
  name: string;
  instrument?: string;
  mapping_set?: string;
}

/// Instrument → mapping set name, from the connectors that say so (empty without connectors.read).
async function setsByInstrument(): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  if (!can("connectors.read")) return out;
  try {
    const page = await api.get<Page<ConnectorInfo>>("/connectors");
    for (const c of page.items) {
      if (typeof c.mapping_set === "string" && c.mapping_set) out.set(c.instrument || c.name, c.mapping_set);
    }
  } catch {
    // the links are a convenience: the list stands without them
  }
  return out;
}

function codesTable(codes: UnmappedCode[], sets: Map<string, string>, filtered: boolean): HTMLElement {
  const columns: Column<UnmappedCode>[] = [
    { label: "Code", cell: (u) => h("code", null, u.code) },
    { label: "Instrument", cell: (u) => u.instrument },
    { label: "Results", cell: (u) => String(u.results), class: "num" },
    {
      label: "Waiting",
      cell: (u) => (u.waiting > 0 ? h("span", { class: "badge warn" }, String(u.waiting)) : "0"),
      class: "num",
    },
    { label: "First seen", cell: (u) => formatTime(u.first_seen) },
    { label: "Last seen", cell: (u) => formatTime(u.last_seen) },
  ];
  // The column only when a connector says which set it uses.
  if (sets.size > 0) {
    columns.push({
      label: "Mapping set",
      cell: (u) => {
        const set = sets.get(u.instrument);
        return set ? link(`/mappings/${seg(set)}`, set) : h("span", { class: "muted" }, "not known");
      },
    });
  }
  return table<UnmappedCode>(columns, codes, {
    empty: filtered ? "No code of this instrument arrived without a mapping." : "Every code that arrived had a mapping.",
    caption: "Codes without a mapping",
  });
}

async function load(instrument: string): Promise<Child> {
  const [page, sets] = await Promise.all([
    api.get<Page<UnmappedCode>>("/unmapped-codes", { instrument }),
    setsByInstrument(),
  ]);
  const waiting = page.items.reduce((n, u) => n + u.waiting, 0);
  return [
    page.items.length > 0
      ? h(
          "p",
          { role: "status" },
          `${page.items.length} ${page.items.length === 1 ? "code" : "codes"}; ${waiting} ${waiting === 1 ? "result waits" : "results wait"} on a mapping.`,
        )
      : null,
    codesTable(page.items, sets, instrument !== ""),
  ];
}

export async function render(ctx: RouteContext): Promise<void> {
  const current = ctx.query.get("instrument") ?? "";
  const instrument = input({ name: "instrument", value: current, autocomplete: "off" });
  const filters = h(
    "form",
    { class: "filters", role: "search", "aria-label": "Filter the codes" },
    field("Instrument", instrument),
    button("Show", null, { type: "submit" }),
  );
  filters.addEventListener("submit", (e) => {
    e.preventDefault();
    const value = instrument.value.trim();
    navigate(value ? `/unmapped?instrument=${encodeURIComponent(value)}` : "/unmapped");
  });
  const list = h("div", { class: "unmapped-list" });
  replace(
    ctx.main,
    trafficTabs(),
    pageHeader("Unmapped codes"),
    h(
      "p",
      { class: "muted" },
      "Instrument codes that arrived without a mapping. Add them to the connector's mapping set and activate it: results held only for that are then evaluated again. ",
      link("/mappings", "Mapping sets"),
    ),
    filters,
    list,
  );
  await busy(list, load(current));
}
