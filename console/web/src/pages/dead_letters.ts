// Dead letters (docs/operations.md "Received messages and dead letters"): per destination what the
// LIS refused (AE/AR) and why, newest first and paged, and Resend once the LIS is fixed: the
// message goes back into the queue in its original place (POST .../resend, audited with a reason).
import { api, Page } from "../lib/api";
import { Child, h, replace } from "../lib/dom";
import { link, RouteContext, seg } from "../lib/router";
import { can } from "../lib/session";
import { busy, button, Column, errorBox, field, form, formatTime, modal, notice, pageHeader, pager, table } from "../lib/ui";
import { trafficTabs } from "./mappings";

interface Destination {
  name: string;
  kind: string;
  state: string;
  queue_depth?: number;
  delivered?: number;
  dead_letter?: number;
  last_error?: string;
}

interface DeadLetter {
  id: number;
  destination: string;
  control_id: string;
  batch_id: number;
  batch: string;
  sample_ids: string[];
  ack_code: string;
  reason: string;
  queued_at: string;
  dead_at: string;
  attempts: number;
}

interface Resent {
  id: number;
  destination: string;
  control_id: string;
  state: string;
  ahead_of: number;
}

function deadLetterPath(destination: string): string {
  return `/destinations/${seg(destination)}/dead-letter`;
}

function resentText(r: Resent): string {
  const behind =
    r.ahead_of === 0
      ? "No message created after it is waiting."
      : `${r.ahead_of} ${r.ahead_of === 1 ? "message" : "messages"} created after it will be delivered after it.`;
  return `Message ${r.control_id} is queued again for ${r.destination}. ${behind}`;
}

/// Asks for the reason and resends; resolves the answer, or null when cancelled.
function resendDialog(d: DeadLetter): Promise<Resent | null> {
  return new Promise((resolve) => {
    let answer: Resent | null = null;
    const reason = h("textarea", { rows: 2, maxlength: 1000, required: true });
    const errors = h("div", { class: "form-errors" });
    const el = form(
      [
        h(
          "p",
          null,
          `Send message ${d.control_id} (batch ${d.batch_id}) to ${d.destination} again? It goes back into the queue in its original place, with the same control id. Do this once the LIS is fixed.`,
        ),
        h("p", { class: "hint" }, `The LIS answered ${d.ack_code}: ${d.reason || "no reason given"}`),
        field("Reason", reason, "Required: why it is sent again (recorded in the audit trail)."),
        errors,
        h(
          "div",
          { class: "dialog-buttons" },
          button("Resend", null, { kind: "primary", type: "submit" }),
          button("Cancel", () => handle.close()),
        ),
      ],
      async () => {
        replace(errors);
        if (!reason.value.trim()) {
          replace(errors, errorBox("Enter a reason: it is recorded with the resend."));
          reason.focus();
          return;
        }
        try {
          answer = await api.post<Resent>(`${deadLetterPath(d.destination)}/${d.id}/resend`, { reason: reason.value.trim() });
        } catch (e) {
          replace(errors, errorBox(e));
          return;
        }
        handle.close();
      },
    );
    const handle = modal(`Resend message ${d.control_id}`, el, { onClose: () => resolve(answer) });
  });
}

function samplesText(ids: string[]): string {
  if (ids.length === 0) return "—";
  return ids.length <= 3 ? ids.join(", ") : `${ids.slice(0, 3).join(", ")} and ${ids.length - 3} more`;
}

function lettersTable(letters: DeadLetter[], onResend: (d: DeadLetter) => void): HTMLElement {
  const columns: Column<DeadLetter>[] = [
    { label: "Refused", cell: (d) => formatTime(d.dead_at), class: "nowrap" },
    { label: "Control id", cell: (d) => h("code", null, d.control_id) },
    { label: "Batch", cell: (d) => link(`/batches/${d.batch_id}`, `Batch ${d.batch_id}`), class: "nowrap" },
    { label: "Samples", cell: (d) => samplesText(d.sample_ids) },
    { label: "LIS answer", cell: (d) => h("span", { class: "badge bad" }, d.ack_code) },
    { label: "Why", cell: (d) => h("span", { class: "traffic-reason" }, d.reason || "no reason given") },
    { label: "Attempts", cell: (d) => String(d.attempts), class: "num" },
    { label: "Queued", cell: (d) => formatTime(d.queued_at) },
  ];
  if (can("deliveries.resend")) {
    columns.push({
      label: "Action",
      cell: (d) => button("Resend", () => onResend(d), { label: `Resend message ${d.control_id}` }),
    });
  }
  return table<DeadLetter>(columns, letters, {
    empty: "The LIS has refused nothing here: no dead letter.",
    caption: "Dead letters",
  });
}

function destinationState(d: Destination): Child {
  const bits = [`state ${d.state}`];
  if (d.queue_depth !== undefined) bits.push(`${d.queue_depth} waiting`);
  if (d.delivered !== undefined) bits.push(`${d.delivered} delivered`);
  if (d.dead_letter !== undefined) bits.push(`${d.dead_letter} dead ${d.dead_letter === 1 ? "letter" : "letters"}`);
  return h("p", { class: "muted" }, `${d.kind}: ${bits.join(", ")}`, d.last_error ? ` — last error: ${d.last_error}` : "");
}

/// One destination's section: its state, its dead letters page by page, the outcome of a resend.
function destinationSection(d: Destination): HTMLElement {
  const outcome = h("div", { class: "traffic-outcome" });
  const stateLine = h("div", { class: "traffic-state" }, destinationState(d));
  const list = h("div", { class: "traffic-letters" });
  const headingId = `traffic-dest-${d.name.replace(/[^A-Za-z0-9_-]/g, "_")}`;
  const section = h(
    "section",
    { class: "card traffic-destination", "aria-labelledby": headingId },
    h("h2", { id: headingId }, d.name),
    stateLine,
    outcome,
    list,
  );
  const pageOf = async (path: string): Promise<Child> => {
    const page = await api.get<Page<DeadLetter>>(path);
    const rest = h("div");
    const more = pager(page.next, (next) => void busy(rest, pageOf(next)));
    return [lettersTable(page.items, (x) => void onResend(x)), rest, more];
  };
  const loadFirst = () => busy(list, pageOf(deadLetterPath(d.name)));
  const refreshState = async () => {
    try {
      replace(stateLine, destinationState(await api.get<Destination>(`/destinations/${seg(d.name)}`)));
    } catch {
      // the list below still says what matters
    }
  };
  const onResend = async (letter: DeadLetter) => {
    const answer = await resendDialog(letter);
    if (!answer) return;
    const said = notice(resentText(answer), "success");
    said.setAttribute("tabindex", "-1");
    replace(outcome, said);
    await Promise.all([loadFirst(), refreshState()]);
    said.focus();
  };
  void loadFirst();
  return section;
}

/// Every destination of the organisation, or only the one named (?destination=NAME).
async function load(only: string | null): Promise<Child> {
  const page = await api.get<Page<Destination>>("/destinations");
  const shown = only ? page.items.filter((d) => d.name === only) : page.items;
  if (shown.length === 0) {
    return h("p", { class: "empty" }, only ? `There is no destination named ${only}.` : "No destination is configured for your organisation.");
  }
  return [
    only && page.items.length > 1 ? h("p", null, link("/dead-letters", "Show every destination")) : null,
    shown.map(destinationSection),
  ];
}

export async function render(ctx: RouteContext): Promise<void> {
  const body = h("div", { class: "traffic-destinations" });
  replace(
    ctx.main,
    trafficTabs(),
    pageHeader("Dead letters"),
    h(
      "p",
      { class: "muted" },
      "Messages the LIS refused (acknowledgement AE or AR), with its reason. Fix the cause in the LIS, then resend: the message keeps its place in the queue.",
    ),
    body,
  );
  await busy(body, load(ctx.query.get("destination")));
}
