// One mapping set (docs/mappings.md, "Versions in the store"): its versions and activations,
// uploading a new version, and for a chosen version its rows, the differences against the active
// version, a dry run on recent batches, the CSV download and the activation (an electronic
// signature, meaning approved, through the sign dialog).
import { api, ApiError, Page } from "../lib/api";
import { Child, h, replace } from "../lib/dom";
import { currentPath, link, navigate, RouteContext, seg } from "../lib/router";
import { can } from "../lib/session";
import { signDialog, signatureRefusal } from "../lib/sign";
import { busy, button, errorBox, errorText, field, form, formatTime, input, modal, notice, pageHeader, table } from "../lib/ui";
import {
  Activation,
  activatedByText,
  actorText,
  MappingRow,
  MappingSetDetail,
  MappingVersion,
  trafficTabs,
  uploadError,
  uploadFields,
  uploadVersion,
} from "./mappings";

interface VersionRows extends MappingVersion {
  mappings: MappingRow[];
}

interface ColumnChange {
  column: string;
  old: string;
  new: string;
}

interface MappingDiff {
  name: string;
  version: number;
  against: number;
  added: MappingRow[];
  removed: MappingRow[];
  changed: Array<{ instrument_code: string; changes: ColumnChange[] }>;
  unchanged: number;
}

interface ReevaluationSide {
  lis_code: string;
  units: string;
  decimals: number | null;
  disposition: string;
  findings: string[];
}

interface ResultChange {
  result: number;
  sample_kind: string;
  instrument_code: string;
  old: ReevaluationSide;
  new: ReevaluationSide;
  changes: string[];
  eligible: boolean;
  kept: string | null;
  applies: boolean;
}

interface BatchTry {
  batch: number;
  connector: string;
  instrument: string;
  signed: boolean;
  changed: number;
  released: number;
  notes: string[];
  results: ResultChange[];
}

interface DryRunReport {
  mapping_set: string;
  version: number;
  instrument: string;
  batches: number;
  results: number;
  summary: Record<string, number>;
  items: BatchTry[];
}

/// A dry run over many batches lists the first ones in detail; the summary counts them all.
const MAX_BATCHES_SHOWN = 20;

const SUMMARY_WORDS: Array<[string, string]> = [
  ["newly_mapped", "Newly mapped"],
  ["still_unmapped", "Still unmapped"],
  ["now_unmapped", "Now unmapped"],
  ["code_changed", "LIS code changed"],
  ["units_mismatch", "Units mismatch"],
  ["decimals_changed", "Decimals changed"],
  ["would_change", "Would change"],
  ["would_release", "Would be released"],
];

const CHANGE_WORDS: Record<string, string> = {
  newly_mapped: "newly mapped",
  now_unmapped: "now unmapped",
  still_unmapped: "still unmapped",
  code_changed: "LIS code changed",
  units_mismatch: "units mismatch",
  decimals_changed: "decimals changed",
  findings_changed: "findings changed",
  disposition_changed: "disposition changed",
};

function setPath(name: string): string {
  return `/mapping-sets/${seg(name)}`;
}

function versionPath(name: string, version: number): string {
  return `${setPath(name)}/versions/${version}`;
}

function decimalsText(d: number | null): string {
  return d === null ? "as sent" : String(d);
}

function rowsTable(rows: MappingRow[], empty: string, caption?: string): HTMLElement {
  return table<MappingRow>(
    [
      { label: "Instrument code", cell: (r) => r.instrument_code },
      { label: "LIS code", cell: (r) => r.lis_code },
      { label: "LIS name", cell: (r) => r.lis_name },
      { label: "Units", cell: (r) => r.units },
      { label: "Decimals", cell: (r) => decimalsText(r.decimals), class: "num" },
    ],
    rows,
    { empty, caption },
  );
}

// ---- The version's details: rows, differences, dry run, download --------------------------------

async function showRows(name: string, version: number): Promise<Child> {
  const v = await api.get<VersionRows>(versionPath(name, version));
  return [h("h3", null, `Rows of version ${version}`), rowsTable(v.mappings, "This version has no rows.")];
}

function changedTable(diff: MappingDiff): HTMLElement {
  const lines = diff.changed.flatMap((c) => c.changes.map((change) => ({ code: c.instrument_code, change })));
  return table<{ code: string; change: ColumnChange }>(
    [
      { label: "Instrument code", cell: (l) => l.code },
      { label: "Column", cell: (l) => l.change.column },
      { label: "Before", cell: (l) => (l.change.old === "" ? h("span", { class: "muted" }, "(empty)") : l.change.old) },
      { label: "After", cell: (l) => (l.change.new === "" ? h("span", { class: "muted" }, "(empty)") : l.change.new) },
    ],
    lines,
    { empty: "No row changed.", caption: "Changed rows" },
  );
}

/// The version a version is compared with: the active one, or for the active version the one it
/// replaced (null: the API's default, the active version).
function baseOf(set: MappingSetDetail, v: MappingVersion): number | null {
  return v.active && set.active ? (set.active.previous_version ?? 0) : null;
}

async function showDiff(name: string, version: number, base: number | null): Promise<Child> {
  const diff = await api.get<MappingDiff>(`${versionPath(name, version)}/diff`, { against: base });
  const against =
    diff.against === 0
      ? "nothing before it (every row is new)"
      : base === null
        ? `version ${diff.against}, the active one`
        : `version ${diff.against}, the one it replaced`;
  const none = diff.added.length + diff.removed.length + diff.changed.length === 0;
  return [
    h("h3", null, `Differences of version ${version} against ${against}`),
    h(
      "p",
      { class: "mappings-diff-counts", role: "status" },
      none
        ? `No differences: all ${diff.unchanged} rows are the same.`
        : `${diff.added.length} added, ${diff.removed.length} removed, ${diff.changed.length} changed, ${diff.unchanged} unchanged.`,
    ),
    none
      ? null
      : [
          rowsTable(diff.added, "No row added.", "Added rows"),
          rowsTable(diff.removed, "No row removed.", "Removed rows"),
          changedTable(diff),
        ],
  ];
}

function sideText(s: ReevaluationSide): string {
  const code = s.lis_code || "(unmapped)";
  return `${code}${s.units ? ` ${s.units}` : ""} · ${s.disposition}`;
}

function batchTryTable(b: BatchTry): HTMLElement {
  const changed = b.results.filter((r) => r.changes.length > 0);
  return table<ResultChange>(
    [
      { label: "Result", cell: (r) => String(r.result), class: "num" },
      { label: "Kind", cell: (r) => r.sample_kind },
      { label: "Instrument code", cell: (r) => r.instrument_code },
      { label: "Now", cell: (r) => sideText(r.old) },
      { label: "With this version", cell: (r) => sideText(r.new) },
      { label: "What differs", cell: (r) => r.changes.map((c) => CHANGE_WORDS[c] ?? c).join(", ") },
      {
        label: "Would change",
        cell: (r) => (r.eligible ? (r.applies ? "yes" : "no") : `no (${r.kept ?? "kept"})`),
      },
    ],
    changed,
    { empty: "Nothing in this batch would differ.", caption: `Batch ${b.batch}` },
  );
}

function dryRunReport(report: DryRunReport): Child {
  const summary = h(
    "dl",
    { class: "mappings-summary" },
    SUMMARY_WORDS.map(([key, label]) => [h("dt", null, label), h("dd", null, String(report.summary[key] ?? 0))]),
  );
  const batches = report.items.filter((b) => b.results.some((r) => r.changes.length > 0) || b.notes.length > 0);
  return [
    h("h3", null, `Version ${report.version} tried on ${report.instrument}`),
    h(
      "p",
      { role: "status" },
      report.batches === 0
        ? `No stored batch of ${report.instrument} to try it on.`
        : `Tried on the last ${report.batches} batches (${report.results} results). Nothing was written.`,
    ),
    report.batches === 0 ? null : summary,
    batches.length > MAX_BATCHES_SHOWN
      ? h("p", { class: "muted" }, `The first ${MAX_BATCHES_SHOWN} of ${batches.length} batches with differences:`)
      : null,
    batches.slice(0, MAX_BATCHES_SHOWN).map((b) =>
      h(
        "div",
        { class: "mappings-try-batch" },
        h("p", null, link(`/batches/${b.batch}`, `Batch ${b.batch}`), b.signed ? " — signed: nothing in it changes" : ""),
        b.notes.length ? h("ul", { class: "muted" }, b.notes.map((n) => h("li", null, n))) : null,
        batchTryTable(b),
      ),
    ),
  ];
}

/// The instruments the user may try a version on: those of recent batches and unmapped codes.
async function knownInstruments(): Promise<string[]> {
  const found = new Set<string>();
  const [batches, unmapped] = await Promise.allSettled([
    api.get<Page<{ instrument: string }>>("/batches", { limit: 100 }),
    api.get<Page<{ instrument: string }>>("/unmapped-codes"),
  ]);
  for (const r of [batches, unmapped]) {
    if (r.status === "fulfilled") r.value.items.forEach((i) => i.instrument && found.add(i.instrument));
  }
  return Array.from(found).sort();
}

function downloadCsv(name: string, version: number, out: HTMLElement): () => Promise<void> {
  return async () => {
    replace(out);
    try {
      const text = await api.getText(versionPath(name, version), "text/csv");
      const url = URL.createObjectURL(new Blob([text], { type: "text/csv;charset=utf-8" }));
      const a = h("a", { href: url, download: `${name}-v${version}.csv`, class: "no-print" }, `${name}-v${version}.csv`);
      document.body.appendChild(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
      replace(out, h("p", { role: "status" }, `Version ${version} downloaded as ${name}-v${version}.csv.`));
    } catch (e) {
      replace(out, errorBox(e));
    }
  };
}

function tryForm(name: string, version: number, out: HTMLElement, instruments: Promise<string[]>): HTMLElement {
  const instrument = input({ name: "instrument", list: "mappings-instruments", autocomplete: "off" });
  const last = input({ type: "number", name: "last", min: 1, max: 1000, value: 100 });
  const options = h("datalist", { id: "mappings-instruments" });
  void instruments.then((names) => {
    replace(options, names.map((n) => h("option", { value: n })));
    if (!instrument.value && names.length > 0) instrument.value = names[0];
  });
  const run = async () => {
    const which = instrument.value.trim();
    if (!which) {
      replace(out, errorBox("Enter the instrument whose recent batches the version is tried on."));
      instrument.focus();
      return;
    }
    const path = `${versionPath(name, version)}/dry-run?instrument=${encodeURIComponent(which)}&last=${encodeURIComponent(last.value || "100")}`;
    await busy(out, api.post<DryRunReport>(path).then(dryRunReport));
  };
  return h(
    "div",
    { class: "filters mappings-try" },
    field("Instrument", instrument, "Its last stored batches are tried."),
    field("Batches", last),
    options,
    button("Try on recent batches", run),
  );
}

function versionDetails(set: MappingSetDetail, v: MappingVersion, instruments: Promise<string[]>): HTMLElement {
  const out = h("div", { class: "mappings-out", "aria-live": "polite" });
  const manage = can("mappings.manage");
  return h(
    "section",
    { class: "card mappings-version", "aria-labelledby": "mappings-version-title" },
    h("h2", { id: "mappings-version-title" }, `Version ${v.version}`, v.active ? " (active)" : ""),
    h(
      "p",
      { class: "muted" },
      `${v.rows} rows, uploaded by ${actorText(v.created_by)} `,
      formatTime(v.created_at),
      v.comment ? ` — “${v.comment}”` : "",
    ),
    h("p", { class: "muted mappings-sha" }, `SHA-256 ${v.sha256}`),
    h(
      "div",
      { class: "mappings-actions" },
      button("Show rows", () => void busy(out, showRows(set.name, v.version))),
      button("Show differences", () => void busy(out, showDiff(set.name, v.version, baseOf(set, v)))),
      button("Download CSV", downloadCsv(set.name, v.version, out)),
    ),
    manage ? tryForm(set.name, v.version, out, instruments) : null,
    out,
  );
}

// ---- Activation -------------------------------------------------------------------------------

/// What the page says above the set after it was drawn again.
interface Message {
  text: string;
  kind: "success" | "warning";
}
type Reload = (message: Message) => void;

function activationBody(set: MappingSetDetail, reason: string): Record<string, unknown> {
  return { reason, expected_active_version: set.active_version ?? 0 };
}

async function postActivation(set: MappingSetDetail, version: number, body: Record<string, unknown>): Promise<void> {
  await api.post<Activation>(`${versionPath(set.name, version)}/activation`, body);
}

function activationWhat(set: MappingSetDetail, version: number): Child {
  const replaces = set.active_version === null ? "No version is active yet." : `It replaces version ${set.active_version}.`;
  return [
    h("p", null, `Activate version ${version} of the mapping set ${set.name}. ${replaces}`),
    h("p", { class: "hint" }, "Connectors bound to the set use it from their next message; results held only for mapping reasons are evaluated again."),
  ];
}

/// With signatures.mapping_activation off the activation is no signature: only a reason.
function reasonDialog(set: MappingSetDetail, version: number, post: (body: Record<string, unknown>) => Promise<void>): Promise<boolean> {
  return new Promise((resolve) => {
    let done = false;
    const reason = h("textarea", { rows: 2, maxlength: 2000, required: true });
    const errors = h("div", { class: "form-errors" });
    const el = form(
      [
        activationWhat(set, version),
        field("Reason", reason, "Required: recorded in the audit trail."),
        errors,
        h("div", { class: "dialog-buttons" }, button("Activate", null, { kind: "primary", type: "submit" }), button("Cancel", () => handle.close())),
      ],
      async () => {
        replace(errors);
        if (!reason.value.trim()) {
          replace(errors, errorBox("Enter a reason: it is recorded with the activation."));
          return;
        }
        try {
          await post(activationBody(set, reason.value.trim()));
        } catch (e) {
          replace(errors, h("div", { class: "notice error", role: "alert" }, signatureRefusal(e)));
          return;
        }
        done = true;
        handle.close();
      },
    );
    const handle = modal(`Activate version ${version}`, el, { onClose: () => resolve(done) });
  });
}

function activate(set: MappingSetDetail, version: number, reload: Reload): () => Promise<void> {
  return async () => {
    // A 409 (another version activated meanwhile, or this one already): the dialog shows the
    // server's words; once it is closed the page shows the set as it is now.
    let conflict = false;
    const post = async (body: Record<string, unknown>) => {
      try {
        await postActivation(set, version, body);
      } catch (e) {
        conflict = conflict || (e instanceof ApiError && e.status === 409);
        throw e;
      }
    };
    const ok =
      set.activation_signature_required === false
        ? await reasonDialog(set, version, post)
        : await signDialog({
            title: `Activate version ${version} of ${set.name}`,
            what: activationWhat(set, version),
            meanings: [{ value: "approved", label: "Approved" }],
            submit: async (f) => {
              const body = activationBody(set, f.reason);
              body.meaning = "approved";
              body.password = f.password;
              if (f.totp) body.totp = f.totp;
              await post(body);
            },
          });
    if (ok) reload({ text: `Version ${version} of ${set.name} is active. Connectors bound to the set use it from their next message.`, kind: "success" });
    else if (conflict) reload({ text: "The set changed while you looked at it: this is the set as it is now.", kind: "warning" });
  };
}

// ---- Tables -------------------------------------------------------------------------------------

function versionsTable(set: MappingSetDetail, choose: (v: MappingVersion) => void, reload: Reload): HTMLElement {
  const manage = can("mappings.manage");
  const newestFirst = [...set.versions].sort((a, b) => b.version - a.version);
  return table<MappingVersion>(
    [
      { label: "Version", cell: (v) => String(v.version), class: "num" },
      { label: "State", cell: (v) => (v.active ? h("span", { class: "badge ok" }, "active") : "") },
      { label: "Rows", cell: (v) => String(v.rows), class: "num" },
      { label: "Uploaded by", cell: (v) => actorText(v.created_by) },
      { label: "Uploaded", cell: (v) => formatTime(v.created_at) },
      { label: "Comment", cell: (v) => v.comment },
      {
        label: "Actions",
        cell: (v) =>
          h(
            "div",
            { class: "mappings-row-actions" },
            button(`Open version ${v.version}`, () => choose(v)),
            manage && !v.active ? button(`Activate version ${v.version}`, activate(set, v.version, reload), { kind: "primary" }) : null,
          ),
      },
    ],
    newestFirst,
    { empty: "No version yet.", caption: "Versions" },
  );
}

function activationsTable(activations: Activation[]): HTMLElement {
  const newestFirst = [...activations].sort((a, b) => b.id - a.id);
  return table<Activation>(
    [
      { label: "Activated", cell: (a) => formatTime(a.activated_at) },
      { label: "Version", cell: (a) => String(a.version), class: "num" },
      { label: "Replaced", cell: (a) => (a.previous_version === null ? "—" : String(a.previous_version)), class: "num" },
      { label: "By", cell: (a) => activatedByText(a) },
      { label: "Reason", cell: (a) => a.reason },
      {
        label: "Signature",
        cell: (a) => (a.signature ? h("span", { title: `Key ${a.signature.key_id}` }, a.signature.manifestation) : h("span", { class: "muted" }, "not signed")),
      },
    ],
    newestFirst,
    { empty: "No version has been activated yet.", caption: "Activations" },
  );
}

// ---- Upload -------------------------------------------------------------------------------------

function uploadForm(name: string, isNew: boolean): HTMLElement {
  const upload = uploadFields();
  const outcome = h("div", { class: "mappings-outcome" });
  const el = form(
    [upload.fields, button("Upload", null, { kind: "primary", type: "submit" }), outcome],
    async () => {
      replace(outcome);
      const file = upload.file.files?.[0];
      if (!file) throw new Error("Choose the mapping file (CSV) to upload.");
      let made: MappingVersion;
      try {
        made = await uploadVersion(name, file, upload.comment.value.trim());
      } catch (e) {
        replace(outcome, uploadError(e));
        return;
      }
      navigate(`/mappings/${seg(name)}?uploaded=${made.version}`);
    },
    { class: "card mappings-upload", "aria-labelledby": "mappings-upload-title" },
  );
  el.prepend(
    h("h2", { id: "mappings-upload-title" }, isNew ? "Upload the first version" : "Upload a new version"),
    h(
      "p",
      { class: "hint" },
      isNew
        ? "The set is created with this version. It is stored, not activated: look at its rows and try it first."
        : "A new version is stored, not activated: compare it with the active one and try it first.",
    ),
  );
  return el;
}

// ---- The page -----------------------------------------------------------------------------------

function summary(set: MappingSetDetail): HTMLElement {
  const a = set.active;
  return h(
    "p",
    { class: "mappings-state" },
    a
      ? [`Active: version ${a.version}, activated by ${activatedByText(a)} `, formatTime(a.activated_at), a.reason ? ` — “${a.reason}”` : "", "."]
      : h("span", { class: "badge warn" }, "No version is active: connectors bound to this set map nothing yet."),
    ` Latest version: ${set.latest_version}.`,
  );
}

function uploadedNotice(query: URLSearchParams): HTMLElement | null {
  const uploaded = query.get("uploaded");
  if (!uploaded) return null;
  return notice(`Version ${uploaded} was stored. It is not active yet: look at its differences and try it before activating it.`, "success");
}

async function loadSet(name: string): Promise<MappingSetDetail | null> {
  try {
    return await api.get<MappingSetDetail>(setPath(name));
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) return null;
    throw e;
  }
}

function renderMissing(ctx: RouteContext, name: string): void {
  replace(
    ctx.main,
    trafficTabs("/mappings"),
    pageHeader(`Mapping set ${name}`),
    notice(`There is no mapping set named ${name} yet.`, "info"),
    can("mappings.manage") ? uploadForm(name, true) : h("p", null, link("/mappings", "All mapping sets")),
  );
}

function renderSet(ctx: RouteContext, set: MappingSetDetail, message: Message | null): void {
  const details = h("div", { class: "mappings-details" });
  // Asked once per page: the instruments a version may be tried on.
  const instruments = can("mappings.manage") ? knownInstruments() : Promise.resolve([]);
  const choose = (v: MappingVersion) => {
    // The chosen version survives a reload (replaceState fires no hashchange: no new render).
    history.replaceState(null, "", `#/mappings/${seg(set.name)}?version=${v.version}`);
    replace(details, versionDetails(set, v, instruments));
    details.querySelector<HTMLElement>("h2")?.setAttribute("tabindex", "-1");
    details.querySelector<HTMLElement>("h2")?.focus();
  };
  const reload: Reload = (m) => void show(ctx, m);
  const asked = set.versions.find((v) => String(v.version) === ctx.query.get("version"));
  const latest = set.versions.reduce<MappingVersion | null>((best, v) => (!best || v.version > best.version ? v : best), null);
  const first = asked ?? latest;
  replace(
    ctx.main,
    trafficTabs("/mappings"),
    pageHeader(`Mapping set ${set.name}`),
    message ? notice(message.text, message.kind) : uploadedNotice(ctx.query),
    summary(set),
    h("div", { class: "mappings-versions" }, versionsTable(set, choose, reload)),
    details,
    h("h2", null, "Activation history"),
    h("div", { class: "mappings-history" }, activationsTable(set.activations)),
    can("mappings.manage") ? uploadForm(set.name, false) : null,
  );
  if (first) replace(details, versionDetails(set, first, instruments));
}

async function show(ctx: RouteContext, message: Message | null): Promise<void> {
  const name = ctx.params.name;
  const stillHere = () => currentPath().split("?")[0] === ctx.path;
  try {
    const set = await loadSet(name);
    if (!stillHere()) return;
    if (set) renderSet(ctx, set, message);
    else renderMissing(ctx, name);
  } catch (e) {
    replace(ctx.main, trafficTabs("/mappings"), pageHeader(`Mapping set ${name}`), h("div", { role: "alert", class: "notice error" }, errorText(e)));
  }
}

export async function render(ctx: RouteContext): Promise<void> {
  replace(ctx.main, trafficTabs("/mappings"), pageHeader(`Mapping set ${ctx.params.name}`), h("p", { class: "loading" }, "Loading…"));
  await show(ctx, null);
}
