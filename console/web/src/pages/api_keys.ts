// API keys of the organisation (docs/api.md "API keys"): listed with their prefix, roles, creator,
// last use and state; created with a name, roles, an optional connector and expiry (the key is
// shown once: only its SHA-256 is stored); revoked at once. The engine refuses roles the caller
// does not hold in full (403 naming the role): its words are shown in the dialog.
import { api, Page } from "../lib/api";
import { h, replace } from "../lib/dom";
import { RouteContext, seg } from "../lib/router";
import { can } from "../lib/session";
import { busy, button, field, formatTime, input, notice, pageHeader, select, table } from "../lib/ui";
import {
  formDialog,
  guarded,
  loadRoles,
  peopleTabs,
  reasonInput,
  roleChecklist,
  rolesText,
  rowButton,
  secretDialog,
  withReason,
} from "./users";

interface ApiKeyRecord {
  id: number;
  name: string;
  prefix: string;
  roles: string[];
  connector: string | null;
  created_by: string;
  created_at: string;
  expires_at: string | null;
  last_used_at: string | null;
  revoked_at: string | null;
  state: "active" | "expired" | "revoked";
  key?: string;
}

interface State {
  status: HTMLElement;
  list: HTMLElement;
  keys: ApiKeyRecord[];
}

export async function render(ctx: RouteContext): Promise<void> {
  const state: State = { status: h("div"), list: h("div"), keys: [] };
  const create = can("apikeys.manage") ? button("New API key…", guarded(state.status, () => createKey(state)), { kind: "primary" }) : null;
  replace(ctx.main, pageHeader("API keys", create), peopleTabs(), state.status, state.list);
  await reload(state);
}

async function reload(state: State): Promise<void> {
  await busy(
    state.list,
    api.get<Page<ApiKeyRecord>>("/api-keys").then((page) => {
      state.keys = page.items;
      return keysTable(state);
    }),
  );
}

function stateBadge(k: ApiKeyRecord): HTMLElement {
  const kind = k.state === "active" ? "ok" : k.state === "expired" ? "warn" : "bad";
  const words = { active: "Active", expired: "Expired", revoked: "Revoked" }[k.state] ?? k.state;
  return h("span", { class: `badge ${kind}` }, words);
}

function keysTable(state: State): HTMLElement {
  const manage = can("apikeys.manage");
  return table<ApiKeyRecord>(
    [
      { label: "Name", cell: (k) => k.name },
      { label: "Prefix", cell: (k) => h("code", null, k.prefix) },
      { label: "Roles", cell: (k) => rolesText(k.roles) },
      { label: "Connector", cell: (k) => k.connector ?? "Any" },
      { label: "Created by", cell: (k) => k.created_by },
      { label: "Created", cell: (k) => formatTime(k.created_at) },
      { label: "Expires", cell: (k) => (k.expires_at ? formatTime(k.expires_at) : "Never") },
      { label: "Last used", cell: (k) => formatTime(k.last_used_at) },
      { label: "State", cell: (k) => [stateBadge(k), k.revoked_at ? h("span", { class: "hint" }, " ", formatTime(k.revoked_at)) : null] },
      ...(manage
        ? [{ label: "Actions", cell: (k: ApiKeyRecord) => (k.state === "revoked" ? "" : rowButton("Revoke", `key ${k.name}`, guarded(state.status, () => revokeKey(state, k)), "danger")) }]
        : []),
    ],
    state.keys,
    { empty: "No API keys yet." },
  );
}

/// The connectors of the organisation to limit a key to; a text field when they cannot be listed.
async function connectorControl(): Promise<HTMLInputElement | HTMLSelectElement> {
  if (can("connectors.read")) {
    try {
      const page = await api.get<Page<{ name: string }>>("/connectors");
      return select([["", "Any connector"], ...page.items.map((c): [string, string] => [c.name, c.name])]);
    } catch {
      // fall through to the text field
    }
  }
  return input({ autocomplete: "off", spellcheck: "false" });
}

/// An expiry date: the key works until the end of that day in the reader's time zone.
function expiryOf(date: string): string | undefined {
  if (!date) return undefined;
  const end = new Date(`${date}T23:59:59`);
  if (Number.isNaN(end.getTime())) throw new Error("The expiry date is not a date.");
  return end.toISOString();
}

async function createKey(state: State): Promise<void> {
  const roles = await loadRoles(state.keys.flatMap((k) => k.roles));
  const name = input({ autocomplete: "off", maxlength: 128 });
  const checklist = roleChecklist(roles);
  const connector = await connectorControl();
  const expires = input({ type: "date" });
  const reason = reasonInput();
  const made: { key?: ApiKeyRecord } = {};
  const ok = await formDialog({
    title: "New API key",
    submitText: "Create key",
    reason,
    body: [
      field("Name", name, "What the key is for, e.g. “tq-01 uploads”."),
      checklist.element,
      field("Connector", connector, "Optional: the key works only for this connector."),
      field("Expires on", expires, "Optional: the key stops working at the end of this day (your time)."),
    ],
    submit: async () => {
      if (!name.value.trim()) throw new Error("Enter a name for the key.");
      if (!checklist.selected().length) throw new Error("Choose at least one role.");
      const body: Record<string, unknown> = { name: name.value.trim(), roles: checklist.selected() };
      if (connector.value.trim()) body.connector = connector.value.trim();
      const at = expiryOf(expires.value);
      if (at) body.expires_at = at;
      made.key = await api.post<ApiKeyRecord>("/api-keys", withReason(body, reason));
    },
  });
  if (!ok || !made.key) return;
  replace(state.status, notice(`API key ${made.key.name} (${made.key.prefix}…) created.`, "success"));
  await reload(state);
  await secretDialog(
    `API key ${made.key.name}`,
    "Copy the key now: it is shown only this once and cannot be shown again (LabGate keeps only its SHA-256). Whoever holds it acts with its roles.",
    "API key",
    made.key.key ?? "",
  );
}

async function revokeKey(state: State, k: ApiKeyRecord): Promise<void> {
  const reason = reasonInput();
  const ok = await formDialog({
    title: `Revoke API key ${k.name}`,
    submitText: "Revoke key",
    kind: "danger",
    reason,
    body: h("p", null, `The key ${k.prefix}… stops working at once, and so do the keys it created. This cannot be undone: make a new key instead.`),
    submit: () => api.del(`/api-keys/${seg(k.id)}`, withReason({}, reason)),
  });
  if (ok) {
    replace(state.status, notice(`API key ${k.name} revoked.`, "success"));
    await reload(state);
  }
}
