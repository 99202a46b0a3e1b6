// The printable batch report (#/batches/:id/report): the lab's organisation, the batch, its
// signatures with printed names, meanings and UTC times, the record hash, the findings, the
// results and per analyte the charts. The PDF is the browser's print (report.css: @media print).
import { api } from "../lib/api";
import { h, replace } from "../lib/dom";
import { link, RouteContext, seg } from "../lib/router";
import { can, currentUser } from "../lib/session";
import { button, errorBox, notice, pageHeader } from "../lib/ui";
import { analyteSection, findingsTable, loadBatch, resultsTable, signaturesTable, summaryList, utcTime } from "./batch";
import { BatchCharts } from "./batch_charts";

interface Organisation {
  id: string;
  name?: string;
}

/// The organisation's name where the user may read it, else its id.
async function organisationName(): Promise<string> {
  const org = currentUser().org;
  if (!can("organisations.read")) return org;
  try {
    const o = await api.get<Organisation>(`/organisations/${seg(org)}`);
    return o.name && o.name !== org ? `${o.name} (${org})` : org;
  } catch {
    return org;
  }
}

function printedLine(): HTMLElement {
  const me = currentUser();
  const now = new Date();
  const who = me.user ? `${me.user.printed_name} (${me.user.username})` : me.org;
  return h("p", { class: "report-printed" }, `Printed ${utcTime(now.toISOString())} (${now.toLocaleString()} local) by ${who}`);
}

export async function render(ctx: RouteContext): Promise<void> {
  const id = ctx.params.id;
  if (!/^[1-9][0-9]*$/.test(id)) {
    replace(ctx.main, pageHeader("Batch report"), notice(`"${id}" is not a batch number.`, "error"));
    return;
  }
  replace(ctx.main, pageHeader("Batch report"), h("p", { class: "loading" }, "Loading…"));
  try {
    const [{ batch, charts }, org] = await Promise.all([loadBatch(id), organisationName()]);
    const sigHeading = `report-signatures-${batch.id}`;
    const analytes = charts instanceof Error ? null : (charts as BatchCharts).analytes;
    replace(
      ctx.main,
      h(
        "article",
        { class: "report" },
        pageHeader(
          "Batch report",
          button("Print", () => window.print(), { kind: "primary" }),
          link(`/batches/${seg(batch.id)}`, `Back to batch ${batch.id}`, { class: "btn" }),
        ),
        h(
          "header",
          { class: "report-head" },
          h("p", { class: "report-org" }, h("span", { class: "muted" }, "Laboratory "), h("strong", null, org)),
          h("p", { class: "report-batch" }, `Batch ${batch.id}`, batch.source_name ? ` · ${batch.source_name}` : ""),
          summaryList(batch),
          h("p", { class: "report-record" }, "Record SHA-256 ", h("code", null, batch.record_sha256)),
        ),
        h("h2", { id: sigHeading }, "Signatures"),
        signaturesTable(batch, sigHeading),
        batch.signatures.length
          ? h("ul", { class: "report-manifestations" }, batch.signatures.map((s) => h("li", null, s.manifestation)))
          : null,
        h("h2", null, "Findings of the batch"),
        findingsTable(batch.batch_findings, true, "No batch finding."),
        h("h2", null, "Results"),
        resultsTable(batch),
        analytes === null
          ? h("div", { class: "notice error", role: "alert" }, "The charts could not be loaded: ", charts instanceof Error ? charts.message : "")
          : analytes.map((a) => h("div", { class: "report-analyte" }, analyteSection(a, { findings: true }))),
        printedLine(),
      ),
    );
  } catch (e) {
    replace(ctx.main, pageHeader("Batch report"), errorBox(e));
  }
}
