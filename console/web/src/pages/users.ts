// Users of the organisation (docs/api.md "Organisations, users, roles"): the list, creating a user
// with an initial password, changing the printed name, roles and whether the account is disabled,
// lifting a lockout, a password reset (the temporary password shown once) and removing a lost
// second factor. The engine decides who may do what (nobody grants a role or manages a user whose
// permissions they do not hold; the last administrator stays one): its refusals are shown in its
// words. Every change may carry a reason for the audit trail (required with
// audit.change_reason = required: the engine's 422 is said so and the Reason field gets the focus).
//
// The helpers exported here (tabs, role check boxes, the reason field, dialogs with a form, the
// secret shown once) are shared by the roles and API keys pages.
import { ApiError, api, Page } from "../lib/api";
import { Child, h, replace, uniqueId } from "../lib/dom";
import { navigate, RouteContext, seg } from "../lib/router";
import { can, currentUser, loadSession, restriction } from "../lib/session";
import {
  busy,
  button,
  errorBox,
  field,
  form,
  formatTime,
  input,
  modal,
  notice,
  pageHeader,
  table,
  tabs,
} from "../lib/ui";

export interface UserRecord {
  id: number;
  org: string;
  username: string;
  printed_name: string;
  roles: string[];
  disabled: boolean;
  locked: boolean;
  locked_until: string | null;
  totp_enabled: boolean;
  password_change_required: boolean;
  created_at: string;
  last_login_at: string | null;
  password_changed_at: string;
}

export interface RoleRecord {
  name: string;
  description: string;
  builtin: boolean;
  permissions: string[];
}

// ---- shared by the people pages --------------------------------------------------------------

/// Users | Roles | API keys, each shown when the session may read it.
export function peopleTabs(): HTMLElement | null {
  const items = [
    { label: "Users", path: "/users", permission: "users.read" },
    { label: "Roles", path: "/roles", permission: "roles.read" },
    { label: "API keys", path: "/api-keys", permission: "apikeys.read" },
  ];
  const allowed = items.filter((t) => can(t.permission));
  return allowed.length ? tabs(allowed) : null;
}

/// Text read by screen readers only (the context of a short visible button text).
export function hiddenText(text: string): HTMLElement {
  return h("span", { class: "people-vh" }, text);
}

/// A button whose visible words are completed for assistive technology: "Edit" + " alice".
export function rowButton(text: string, context: string, onClick: () => void, kind?: "danger"): HTMLButtonElement {
  return h(
    "button",
    { type: "button", class: `btn ${kind ?? "plain"} people-row-btn`, on: { click: onClick } },
    text,
    hiddenText(` ${context}`),
  );
}

/// A click handler running an async action: a failure before its dialog opens (the roles could
/// not be read, the engine cannot be reached) is shown in words in `status`.
export function guarded(status: HTMLElement, action: () => Promise<void>): () => void {
  return () => {
    action().catch((e: unknown) => replace(status, errorBox(e)));
  };
}

export function rolesText(roles: string[]): string {
  return roles.length ? roles.join(", ") : "—";
}

/// The roles the engine knows; without roles.read, the ones already seen (the API decides anyway).
export async function loadRoles(seen: string[] = []): Promise<RoleRecord[]> {
  try {
    const page = await api.get<Page<RoleRecord>>("/roles");
    return page.items;
  } catch (e) {
    if (e instanceof ApiError && e.status === 403) {
      return Array.from(new Set(seen))
        .sort()
        .map((name) => ({ name, description: "", builtin: true, permissions: [] }));
    }
    throw e;
  }
}

/// Whether the session holds every permission of the role (else the engine answers 403).
export function grantable(role: RoleRecord): boolean {
  return role.permissions.every((p) => can(p));
}

export interface RoleChecklist {
  element: HTMLElement;
  selected: () => string[];
}

/// The roles as labelled check boxes in a fieldset with a legend.
export function roleChecklist(roles: RoleRecord[], selected: string[] = []): RoleChecklist {
  const boxes: HTMLInputElement[] = [];
  const items = roles.map((role) => {
    const id = uniqueId("role");
    const box = h("input", { type: "checkbox", id, value: role.name, checked: selected.includes(role.name) });
    boxes.push(box);
    const words = [role.description, grantable(role) ? "" : "(grants permissions you do not hold)"].filter(Boolean).join(" ");
    if (words) box.setAttribute("aria-describedby", `${id}-hint`);
    return h(
      "div",
      { class: "people-check" },
      box,
      h("label", { for: id }, role.name),
      words ? h("span", { class: "hint", id: `${id}-hint` }, words) : null,
    );
  });
  const element = h("fieldset", { class: "people-roles" }, h("legend", null, "Roles"), items);
  return { element, selected: () => boxes.filter((b) => b.checked).map((b) => b.value) };
}

/// The reason recorded in the audit trail with a change.
export function reasonInput(): HTMLTextAreaElement {
  return h("textarea", { rows: 2, maxlength: 2000, name: "reason" });
}

export function reasonField(reason: HTMLTextAreaElement): HTMLElement {
  return field(
    "Reason",
    reason,
    "Recorded in the audit trail with the change (required where your organisation asks for one). No patient details.",
  );
}

/// The body member `reason`, when one was written.
export function withReason(body: Record<string, unknown>, reason: HTMLTextAreaElement): Record<string, unknown> {
  const text = reason.value.trim();
  return text ? { ...body, reason: text } : body;
}

/// A 422 asking for a reason (audit.change_reason = required) puts the focus in the reason field
/// and says so in the console's words; any other refusal stays as the engine put it.
function reasonRefusal(e: unknown, reason: HTMLTextAreaElement | null): unknown {
  if (!reason || !(e instanceof ApiError) || e.status !== 422 || !/reason/i.test(e.detail)) return e;
  reason.focus();
  if (/is required/i.test(e.detail)) {
    return new Error("Your organisation requires a reason for every change: write it under Reason, then try again.");
  }
  return e;
}

export interface FormDialogOptions {
  title: string;
  body: Child;
  submitText: string;
  kind?: "primary" | "danger";
  reason?: HTMLTextAreaElement | null;
  wide?: boolean;
  /// Sends the change; the dialog closes when it resolves, a refusal stays in the dialog in words.
  submit: () => Promise<void>;
}

/// A dialog holding a form: refusals in role="alert" inside it, closed once the engine accepted.
export function formDialog(o: FormDialogOptions): Promise<boolean> {
  return new Promise((resolve) => {
    let done = false;
    const el = form(
      [
        o.body,
        o.reason ? reasonField(o.reason) : null,
        h(
          "div",
          { class: "dialog-buttons" },
          button(o.submitText, null, { kind: o.kind ?? "primary", type: "submit" }),
          button("Cancel", () => handle.close()),
        ),
      ],
      async () => {
        try {
          await o.submit();
        } catch (e) {
          throw reasonRefusal(e, o.reason ?? null);
        }
        done = true;
        handle.close();
      },
    );
    const handle = modal(o.title, el, { onClose: () => resolve(done), wide: o.wide });
  });
}

/// A secret the engine shows this once (a temporary password, an API key), with a copy button.
export function secretDialog(title: string, warning: string, label: string, secret: string): Promise<void> {
  return new Promise((resolve) => {
    const value = input({ readonly: true, value: secret, class: "people-secret", spellcheck: "false", autocomplete: "off" });
    const status = h("p", { class: "people-copied", role: "status" });
    const copy = async () => {
      try {
        await navigator.clipboard.writeText(secret);
        replace(status, "Copied to the clipboard.");
      } catch {
        value.focus();
        value.select();
        replace(status, "The browser does not allow copying from here: the text is selected, press Ctrl+C.");
      }
    };
    const handle = modal(
      title,
      h(
        "div",
        null,
        notice(warning, "warning"),
        field(label, value),
        status,
        h("div", { class: "dialog-buttons" }, button("Copy", () => void copy()), button("Done", () => handle.close(), { kind: "primary" })),
      ),
      { onClose: () => resolve() },
    );
    value.select();
  });
}

// ---- the users page --------------------------------------------------------------------------

interface State {
  ctx: RouteContext;
  status: HTMLElement;
  list: HTMLElement;
  organisation: HTMLElement;
  users: UserRecord[];
}

export async function render(ctx: RouteContext): Promise<void> {
  const state: State = { ctx, status: h("div", { class: "people-status" }), list: h("div"), organisation: h("div"), users: [] };
  const create = can("users.manage") ? button("New user…", guarded(state.status, () => createUser(state)), { kind: "primary" }) : null;
  replace(ctx.main, pageHeader("Users", create), peopleTabs(), state.status, state.list, state.organisation);
  await Promise.all([reload(state), can("organisations.read") ? showOrganisation(state) : null]);
}

// ---- the organisation's account settings ---------------------------------------------------

interface Organisation {
  id: string;
  name: string;
  password_expiry_days: number;
  mfa_required: boolean;
  ip_allowlist: string[];
  created_at: string;
}

async function showOrganisation(state: State): Promise<void> {
  await busy(
    state.organisation,
    api.get<Organisation>(`/organisations/${seg(currentUser().org)}`).then((org) => organisationCard(state, org)),
  );
}

function organisationCard(state: State, org: Organisation): HTMLElement {
  const fact = (term: string, value: Child) => [h("dt", null, term), h("dd", null, value)];
  return h(
    "section",
    { class: "card people-org", "aria-labelledby": "people-org" },
    h("h2", { id: "people-org" }, "Organisation settings"),
    h(
      "dl",
      { class: "account-facts" },
      fact("Organisation", `${org.name} (${org.id})`),
      fact("Second factor", org.mfa_required ? "Required for every user" : "Optional"),
      fact("Password expiry", org.password_expiry_days ? `After ${org.password_expiry_days} days` : "Never"),
      fact("Allowed addresses", org.ip_allowlist.length ? org.ip_allowlist.join(", ") : "Any"),
    ),
    can("organisations.manage") ? button("Change settings…", guarded(state.status, () => editOrganisation(state, org))) : null,
  );
}

/// Only the members that changed (the allow-list one address or range per line).
function organisationChanges(org: Organisation, name: string, mfa: boolean, days: number, list: string[]): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  if (name !== org.name) body.name = name;
  if (mfa !== org.mfa_required) body.mfa_required = mfa;
  if (days !== org.password_expiry_days) body.password_expiry_days = days;
  if (list.join("\n") !== org.ip_allowlist.join("\n")) body.ip_allowlist = list;
  return body;
}

async function editOrganisation(state: State, org: Organisation): Promise<void> {
  const name = input({ autocomplete: "off", maxlength: 128, value: org.name });
  const mfaId = uniqueId("mfa");
  const mfa = h("input", { type: "checkbox", id: mfaId, checked: org.mfa_required });
  const days = input({ type: "number", min: 0, max: 3650, step: 1, value: org.password_expiry_days });
  const allow = h("textarea", { rows: 3, spellcheck: "false" });
  allow.value = org.ip_allowlist.join("\n");
  const reason = reasonInput();
  const ok = await formDialog({
    title: "Organisation settings",
    submitText: "Save settings",
    reason,
    body: [
      field("Name", name),
      h(
        "div",
        { class: "people-check" },
        mfa,
        h("label", { for: mfaId }, "Require a second factor"),
        h("span", { class: "hint" }, "users without one must enrol at their next login"),
      ),
      currentUser().user?.totp_enabled
        ? null
        : h("p", { class: "hint" }, "You have no second factor yourself: with it required, you enrol one (My account) before anything else."),
      field("Password expiry in days", days, "0 = passwords never expire."),
      field("Allowed addresses", allow, "One address or range per line (10.1.0.0/16); empty = any. A list without your own address is refused."),
    ],
    submit: async () => {
      const expiry = Number(days.value);
      if (!Number.isInteger(expiry) || expiry < 0 || expiry > 3650) throw new Error("The password expiry is a whole number of days from 0 to 3650.");
      const list = allow.value.split(/[\s,]+/).filter(Boolean);
      const body = organisationChanges(org, name.value.trim(), mfa.checked, expiry, list);
      if (!Object.keys(body).length) throw new Error("Nothing was changed.");
      await api.patch(`/organisations/${seg(org.id)}`, withReason(body, reason));
    },
  });
  if (!ok) return;
  // A requirement the administrator does not meet yet restricts their own session at once.
  await loadSession();
  if (restriction()) {
    navigate("/account");
    return;
  }
  said(state, "The organisation's settings were changed.");
  await showOrganisation(state);
}

async function reload(state: State): Promise<void> {
  await busy(
    state.list,
    api.get<Page<UserRecord>>("/users").then((page) => {
      state.users = page.items;
      return usersTable(state);
    }),
  );
}

function said(state: State, text: string): void {
  replace(state.status, notice(text, "success"));
}

function stateBadges(u: UserRecord): Child[] {
  const out: Child[] = [];
  if (u.disabled) out.push(h("span", { class: "badge bad" }, "Disabled"));
  if (u.locked) out.push(h("span", { class: "badge warn", title: u.locked_until ?? "" }, "Locked"));
  if (u.password_change_required) out.push(h("span", { class: "badge" }, "Must change password"));
  if (!out.length) out.push(h("span", { class: "badge ok" }, "Active"));
  return out;
}

function usersTable(state: State): HTMLElement {
  const manage = can("users.manage");
  return table<UserRecord>(
    [
      { label: "User name", cell: (u) => u.username },
      { label: "Printed name", cell: (u) => u.printed_name },
      { label: "Roles", cell: (u) => rolesText(u.roles) },
      { label: "State", cell: (u) => h("span", { class: "people-badges" }, stateBadges(u)) },
      { label: "TOTP", cell: (u) => (u.totp_enabled ? "Enrolled" : "None") },
      { label: "Last login", cell: (u) => formatTime(u.last_login_at) },
      ...(can("audit.read") || can("logins.read") ? [{ label: "History", cell: historyLinks }] : []),
      ...(manage ? [{ label: "Actions", cell: (u: UserRecord) => userActions(state, u), class: "people-actions" }] : []),
    ],
    state.users,
    { empty: "No users yet.", caption: `${state.users.length} user${state.users.length === 1 ? "" : "s"} of ${currentUser().org}` },
  );
}

/// The user's changes in the audit trail and login attempts, for those who may read them.
function historyLinks(u: UserRecord): HTMLElement {
  const changes = `/audit?subject=${encodeURIComponent(`user:${u.username}`)}`;
  const logins = `/logins?user=${encodeURIComponent(u.username)}`;
  return h(
    "div",
    { class: "people-row-actions" },
    can("audit.read") ? h("a", { href: `#${changes}` }, "Changes", hiddenText(` to ${u.username}`)) : null,
    can("logins.read") ? h("a", { href: `#${logins}` }, "Logins", hiddenText(` of ${u.username}`)) : null,
  );
}

function userActions(state: State, u: UserRecord): HTMLElement {
  return h(
    "div",
    { class: "people-row-actions" },
    rowButton("Edit", u.username, guarded(state.status, () => editUser(state, u))),
    u.locked ? rowButton("Unlock", u.username, guarded(state.status, () => unlockUser(state, u))) : null,
    rowButton("Reset password", `of ${u.username}`, guarded(state.status, () => resetPassword(state, u))),
    u.totp_enabled ? rowButton("Remove TOTP", `of ${u.username}`, guarded(state.status, () => removeTotp(state, u)), "danger") : null,
  );
}

/// The password policy's refusals name no subject ("must not contain the username").
function initialPasswordRefusal(e: unknown): unknown {
  if (e instanceof ApiError && e.status === 422 && /^must /.test(e.detail)) {
    return new Error(`The initial password ${e.detail}.`);
  }
  return e;
}

async function createUser(state: State): Promise<void> {
  const roles = await loadRoles(state.users.flatMap((u) => u.roles));
  const username = input({ autocomplete: "off", autocapitalize: "none", spellcheck: "false", maxlength: 64 });
  const printed = input({ autocomplete: "off", maxlength: 128 });
  const checklist = roleChecklist(roles);
  const password = input({ type: "password", autocomplete: "new-password" });
  const reason = reasonInput();
  const made: { user?: UserRecord } = {};
  const ok = await formDialog({
    title: "New user",
    submitText: "Create user",
    reason,
    body: [
      field("User name", username, "Lower case letters, digits, '.', '_', '@' and '-'; never reused."),
      field("Printed name", printed, "Shown with the user's electronic signatures."),
      checklist.element,
      field("Initial password", password, "The user must change it at the first login. At least 12 characters, not a common password."),
    ],
    submit: async () => {
      if (!username.value.trim()) throw new Error("Enter a user name.");
      if (!printed.value.trim()) throw new Error("Enter the printed name.");
      if (!checklist.selected().length) throw new Error("Choose at least one role.");
      if (!password.value) throw new Error("Enter an initial password.");
      const body = { username: username.value.trim(), printed_name: printed.value.trim(), roles: checklist.selected(), password: password.value };
      try {
        made.user = await api.post<UserRecord>("/users", withReason(body, reason));
      } catch (e) {
        throw initialPasswordRefusal(e);
      }
    },
  });
  if (ok && made.user) {
    said(state, `User ${made.user.username} created: they choose their own password at the first login.`);
    await reload(state);
  }
}

/// Only the members that changed: an unchanged role list is not granted again.
function userChanges(u: UserRecord, printed: string, roles: string[], disabled: boolean): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  if (printed !== u.printed_name) body.printed_name = printed;
  const same = roles.length === u.roles.length && roles.every((r) => u.roles.includes(r));
  if (!same) body.roles = roles;
  if (disabled !== u.disabled) body.disabled = disabled;
  return body;
}

async function editUser(state: State, u: UserRecord): Promise<void> {
  const roles = await loadRoles(state.users.flatMap((x) => x.roles));
  const printed = input({ autocomplete: "off", maxlength: 128, value: u.printed_name });
  const checklist = roleChecklist(roles, u.roles);
  const disabledId = uniqueId("disabled");
  const disabled = h("input", { type: "checkbox", id: disabledId, checked: u.disabled });
  const reason = reasonInput();
  const ok = await formDialog({
    title: `Edit user ${u.username}`,
    submitText: "Save changes",
    reason,
    body: [
      field("Printed name", printed),
      checklist.element,
      h(
        "div",
        { class: "people-check" },
        disabled,
        h("label", { for: disabledId }, "Account disabled", h("span", { class: "hint" }, " — the user cannot log in; their API keys are revoked and stay revoked")),
      ),
    ],
    submit: async () => {
      const body = userChanges(u, printed.value.trim(), checklist.selected(), disabled.checked);
      if (!Object.keys(body).length) throw new Error("Nothing was changed.");
      if (body.roles && !checklist.selected().length) throw new Error("Choose at least one role.");
      await api.patch(`/users/${seg(u.id)}`, withReason(body, reason));
    },
  });
  if (ok) {
    said(state, `User ${u.username} changed.`);
    await reload(state);
  }
}

async function unlockUser(state: State, u: UserRecord): Promise<void> {
  const reason = reasonInput();
  const ok = await formDialog({
    title: `Unlock ${u.username}`,
    submitText: "Unlock",
    reason,
    body: h(
      "p",
      null,
      "Too many failed logins locked this account",
      u.locked_until ? [" until ", formatTime(u.locked_until)] : null,
      ". Unlocking lets the user try again at once.",
    ),
    submit: () => api.post(`/users/${seg(u.id)}/unlock`, withReason({}, reason)),
  });
  if (ok) {
    said(state, `User ${u.username} unlocked.`);
    await reload(state);
  }
}

async function resetPassword(state: State, u: UserRecord): Promise<void> {
  const reason = reasonInput();
  let temporary = "";
  const ok = await formDialog({
    title: `Reset the password of ${u.username}`,
    submitText: "Reset password",
    kind: "danger",
    reason,
    body: h(
      "p",
      null,
      "The engine makes a temporary password, shown to you once. It ends the user's sessions and only allows the user to choose a new password. You never learn the password they choose.",
    ),
    submit: async () => {
      const answer = await api.post<{ temporary_password: string }>(`/users/${seg(u.id)}/password-reset`, withReason({}, reason));
      temporary = answer.temporary_password;
    },
  });
  if (!ok) return;
  said(state, `The password of ${u.username} was reset.`);
  await reload(state);
  await secretDialog(
    `Temporary password of ${u.username}`,
    "This temporary password is shown only now. Give it to the user by a safe way; they must change it at their next login.",
    "Temporary password",
    temporary,
  );
}

async function removeTotp(state: State, u: UserRecord): Promise<void> {
  const reason = reasonInput();
  const ok = await formDialog({
    title: `Remove the second factor of ${u.username}`,
    submitText: "Remove TOTP",
    kind: "danger",
    reason,
    body: h("p", null, "For a lost or replaced device: the user logs in with the password alone and enrols an authenticator app again from My account."),
    submit: () => api.del(`/users/${seg(u.id)}/totp`, withReason({}, reason)),
  });
  if (ok) {
    said(state, `The second factor of ${u.username} was removed.`);
    await reload(state);
  }
}
