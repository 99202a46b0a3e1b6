// Mapping sets (docs/mappings.md): the organisation's sets with their latest and active version,
// and a form that creates a set by uploading its first version. The pieces the other mapping
// pages share (the types of the API's answers, the sibling tabs, reading and uploading a
// spreadsheet, the table of a refused spreadsheet's problems) live here too.
import { api, ApiError, Page } from "../lib/api";
import { Child, h, replace } from "../lib/dom";
import { link, navigate, RouteContext, seg } from "../lib/router";
import { can } from "../lib/session";
import { busy, button, errorBox, field, form, formatTime, input, pageHeader, table, tabs } from "../lib/ui";

// ---- The API's answers (docs/openapi.yaml, "Mapping sets") ------------------------------------

export interface ActivationSignature {
  meaning: string;
  printed_name: string;
  signed_at: string;
  key_id: string;
  manifestation: string;
  signed_bytes: string;
  signature: string;
}

export interface Activation {
  id: number;
  version: number;
  previous_version: number | null;
  activated_by: string;
  activated_at: string;
  reason: string;
  signature: ActivationSignature | null;
}

export interface MappingSetSummary {
  name: string;
  created_at: string;
  latest_version: number;
  active_version: number | null;
  active: Activation | null;
}

export interface MappingVersion {
  version: number;
  rows: number;
  sha256: string;
  created_by: string;
  created_at: string;
  comment: string;
  active: boolean;
  name?: string;
}

export interface MappingSetDetail extends MappingSetSummary {
  versions: MappingVersion[];
  activations: Activation[];
  /// Not (yet) in the API: false when signatures.mapping_activation is off.
  activation_signature_required?: boolean;
}

export interface MappingRow {
  instrument_code: string;
  lis_code: string;
  lis_name: string;
  units: string;
  decimals: number | null;
}

interface SpreadsheetProblem {
  line: number;
  column: number;
  column_name: string;
  message: string;
}

// ---- Shared by the mapping pages ---------------------------------------------------------------

/// Mappings | Unmapped codes | Dead letters.
export function trafficTabs(active?: string): HTMLElement {
  return tabs(
    [
      { label: "Mappings", path: "/mappings" },
      { label: "Unmapped codes", path: "/unmapped" },
      { label: "Dead letters", path: "/dead-letters" },
    ],
    active,
  );
}

/// A set name the API accepts (1 to 64 letters, digits, '.', '_' or '-', not starting with '.').
export const SET_NAME = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}$/;

/// Who did something, in words: "user:anna" → "anna"; "configuration" as it is.
export function actorText(actor: string): string {
  const colon = actor.indexOf(":");
  if (colon < 0) return actor;
  const kind = actor.slice(0, colon);
  const who = actor.slice(colon + 1);
  return kind === "user" ? who : `${who} (${kind === "apikey" ? "API key" : kind})`;
}

/// Who activated a version: the signature's printed name when it was signed.
export function activatedByText(a: Activation): string {
  return a.signature ? `${a.signature.printed_name} (signed)` : actorText(a.activated_by);
}

function isUtf8Continuation(b: number): boolean {
  return (b & 0xc0) === 0x80;
}

/// Whether the bytes hold at least one well-formed multi-byte UTF-8 character.
function hasUtf8Text(bytes: Uint8Array): boolean {
  for (let i = 0; i + 1 < bytes.length; i++) {
    const b = bytes[i];
    if (b >= 0xc2 && b <= 0xdf && isUtf8Continuation(bytes[i + 1])) return true;
    if (b >= 0xe0 && b <= 0xef && i + 2 < bytes.length && isUtf8Continuation(bytes[i + 1]) && isUtf8Continuation(bytes[i + 2])) {
      return true;
    }
  }
  return false;
}

/// UTF-16 without a byte-order mark: the NUL bytes of ASCII text on one side.
function utf16WithoutBom(bytes: Uint8Array): "utf-16le" | "utf-16be" | null {
  const n = Math.min(bytes.length - (bytes.length % 2), 512);
  if (n < 4) return null;
  let evenNul = 0;
  let oddNul = 0;
  for (let i = 0; i < n; i += 2) {
    if (bytes[i] === 0) evenNul++;
    if (bytes[i + 1] === 0) oddNul++;
  }
  if (oddNul > n / 4 && evenNul === 0) return "utf-16le";
  if (evenNul > n / 4 && oddNul === 0) return "utf-16be";
  return null;
}

/// The spreadsheet's text, read as docs/mappings.md describes the engine reading it (UTF-8 with or
/// without a byte-order mark, UTF-16, or Windows-1252), so that what is posted is UTF-8 text.
export function decodeSpreadsheet(buffer: ArrayBuffer): string {
  const bytes = new Uint8Array(buffer);
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return new TextDecoder("utf-16le").decode(bytes);
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return new TextDecoder("utf-16be").decode(bytes);
  const utf16 = utf16WithoutBom(bytes);
  if (utf16) return new TextDecoder(utf16).decode(bytes);
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    if (hasUtf8Text(bytes)) {
      throw new Error(
        'The file is partly UTF-8 and partly another encoding (two encodings mixed?): save it again as "CSV UTF-8" and upload it again.',
      );
    }
    return new TextDecoder("windows-1252").decode(bytes);
  }
}

function readFile(file: File): Promise<ArrayBuffer> {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.addEventListener("load", () => resolve(reader.result as ArrayBuffer));
    reader.addEventListener("error", () => reject(new Error(`The file ${file.name} could not be read.`)));
    reader.readAsArrayBuffer(file);
  });
}

/// Uploads a file as the next version of the set (creating the set with its first version).
export async function uploadVersion(name: string, file: File, comment: string): Promise<MappingVersion> {
  const text = decodeSpreadsheet(await readFile(file));
  const query = comment ? `?comment=${encodeURIComponent(comment)}` : "";
  return api.postRaw<MappingVersion>(`/mapping-sets/${seg(name)}/versions${query}`, text, "text/csv");
}

function problemsOf(e: unknown): SpreadsheetProblem[] {
  if (!(e instanceof ApiError) || e.status !== 422 || !Array.isArray(e.problem.errors)) return [];
  return e.problem.errors as SpreadsheetProblem[];
}

/// An upload's refusal: for a spreadsheet with problems every one with its line and column.
export function uploadError(e: unknown): HTMLElement {
  const problems = problemsOf(e);
  if (problems.length === 0) return errorBox(e);
  return h(
    "div",
    { class: "notice error mappings-problems", role: "alert" },
    h("p", null, `The spreadsheet was not stored: ${problems.length === 1 ? "1 problem" : `${problems.length} problems`} to fix. Nothing was changed.`),
    table<SpreadsheetProblem>(
      [
        { label: "Line", cell: (p) => (p.line > 0 ? p.line : "—"), class: "num" },
        { label: "Column", cell: (p) => (p.column === 0 ? "the whole row" : p.column_name || `column ${p.column}`) },
        { label: "Problem", cell: (p) => p.message },
      ],
      problems,
      { caption: "Problems in the spreadsheet" },
    ),
  );
}

/// The upload controls: comment and the file input labelled "Mapping file (CSV)".
export function uploadFields(): { comment: HTMLInputElement; file: HTMLInputElement; fields: Child } {
  const comment = input({ name: "comment", maxlength: 2000 });
  const file = input({ type: "file", name: "file", accept: ".csv,.txt,text/csv,text/plain" });
  return {
    comment,
    file,
    fields: [
      field("Mapping file (CSV)", file, "The spreadsheet saved as CSV (docs/mappings.md: the columns instrument_code, lis_code, lis_name, units, decimals)."),
      field("Comment", comment, "What changed, kept with the version."),
    ],
  };
}

// ---- The page -----------------------------------------------------------------------------------

function setsTable(sets: MappingSetSummary[]): HTMLElement {
  return table<MappingSetSummary>(
    [
      { label: "Mapping set", cell: (s) => link(`/mappings/${seg(s.name)}`, s.name) },
      { label: "Active version", cell: (s) => (s.active_version === null ? h("span", { class: "badge warn" }, "none") : s.active_version), class: "num" },
      { label: "Latest version", cell: (s) => s.latest_version, class: "num" },
      { label: "Activated by", cell: (s) => (s.active ? activatedByText(s.active) : "—") },
      { label: "Activated", cell: (s) => formatTime(s.active?.activated_at) },
      { label: "Created", cell: (s) => formatTime(s.created_at) },
    ],
    sets,
    { empty: "No mapping set yet. Create one by uploading its first version." },
  );
}

async function loadSets(): Promise<Child> {
  const page = await api.get<Page<MappingSetSummary>>("/mapping-sets");
  return setsTable(page.items);
}

function createForm(): HTMLElement {
  const name = input({ name: "name", required: true, maxlength: 64, autocomplete: "off", spellcheck: "false" });
  const upload = uploadFields();
  const outcome = h("div", { class: "mappings-outcome" });
  const el = form(
    [
      field("Name", name, "1 to 64 letters, digits, '.', '_' or '-'; the name connectors bind with mapping_set."),
      upload.fields,
      button("Upload", null, { kind: "primary", type: "submit" }),
      outcome,
    ],
    async () => {
      replace(outcome);
      const setName = name.value.trim();
      if (!SET_NAME.test(setName)) throw new Error("Enter a name of 1 to 64 letters, digits, '.', '_' or '-' (not starting with '.').");
      const file = upload.file.files?.[0];
      if (!file) throw new Error("Choose the mapping file (CSV) to upload.");
      try {
        await uploadVersion(setName, file, upload.comment.value.trim());
      } catch (e) {
        replace(outcome, uploadError(e));
        return;
      }
      navigate(`/mappings/${seg(setName)}?uploaded=1`);
    },
    { class: "card mappings-create", "aria-labelledby": "mappings-create-title" },
  );
  el.prepend(h("h2", { id: "mappings-create-title" }, "New mapping set"));
  return el;
}

export async function render(ctx: RouteContext): Promise<void> {
  const list = h("div", { class: "mappings-list" });
  replace(
    ctx.main,
    trafficTabs(),
    pageHeader("Mapping sets"),
    h(
      "p",
      { class: "muted" },
      "Each set tells LabGate what every instrument code becomes for the LIS. Connectors bound to a set use its active version.",
    ),
    list,
    can("mappings.manage") ? createForm() : null,
  );
  await busy(list, loadSets());
}
