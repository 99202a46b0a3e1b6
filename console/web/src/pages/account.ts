// The user's own account (docs/api.md "Passwords and TOTP", "Restricted sessions"): who is logged
// in, changing the password (POST /me/password; the policy's refusal in the engine's words) and
// enrolling an authenticator app (POST /me/totp with the password answers the secret and the
// otpauth URI, shown as text and as a QR code; POST /me/totp/confirm with a code enables it). A restricted session
// (initial or reset password, expired password, a second factor the organisation requires) is sent
// here by the login flow and may only do these things: the page says what to do first.
import { ApiError, api } from "../lib/api";
import { Child, h, replace } from "../lib/dom";
import { link, navigate, RouteContext } from "../lib/router";
import { currentUser, loadSession, Me, restriction, User } from "../lib/session";
import { button, field, form, formatTime, input, notice, pageHeader } from "../lib/ui";
import { qrSvg } from "./account_qr";

const DONE: Record<string, string> = {
  password: "Your password has been changed. Your other sessions have ended; this one goes on.",
  totp: "Your authenticator app is enrolled: from now on, logging in and signing ask for its one-time code.",
};

export function render(ctx: RouteContext): void {
  const me = currentUser();
  const done = DONE[ctx.query.get("done") ?? ""];
  const restricted = restriction();
  const top: Child[] = [];
  if (restricted) top.push(h("div", { class: "notice warning account-restricted", role: "alert" }, restrictionWords(me, restricted)));
  if (done) top.push(notice(done, "success"));
  if (done && !restricted) top.push(h("p", null, link("/", "Go on to the dashboard")));
  if (me.kind !== "user" || !me.user) {
    replace(ctx.main, pageHeader("My account"), top, h("p", null, "You are using an API key: it has no password or second factor of its own."));
    return;
  }
  replace(
    ctx.main,
    pageHeader("My account"),
    top,
    h("div", { class: "account-grid" }, whoAmI(me, me.user), passwordSection(me), totpSection(me, me.user)),
  );
}

function restrictionWords(me: Me, text: string): Child {
  const what = me.password_change_required
    ? "Choose a new password below."
    : "Use the Second factor section below.";
  return [h("strong", null, text), " ", what, " Until then LabGate offers only this page and logging out."];
}

function row(term: string, value: Child): Child[] {
  return [h("dt", null, term), h("dd", null, value)];
}

function whoAmI(me: Me, u: User): HTMLElement {
  return h(
    "section",
    { class: "card account-who", "aria-labelledby": "account-who" },
    h("h2", { id: "account-who" }, "Your account"),
    h(
      "dl",
      { class: "account-facts" },
      row("User name", u.username),
      row("Printed name", u.printed_name),
      row("Organisation", me.org),
      row("Roles", u.roles.join(", ") || "—"),
      row("Second factor", u.totp_enabled ? "Authenticator app enrolled" : "None"),
      row("Last login", formatTime(u.last_login_at)),
      row("This session ends", me.session_expires_at ? formatTime(me.session_expires_at) : "—"),
    ),
    h("p", { class: "hint" }, "Your printed name is recorded with your electronic signatures; an administrator changes it."),
  );
}

/// The account's name in a hidden field, so that password managers know which password changes.
function accountName(me: Me): HTMLInputElement {
  return h("input", { type: "text", hidden: true, readonly: true, autocomplete: "username", value: me.user?.username ?? "", tabindex: -1 });
}

function passwordSection(me: Me): HTMLElement {
  const current = input({ type: "password", autocomplete: "current-password" });
  const next = input({ type: "password", autocomplete: "new-password" });
  const repeat = input({ type: "password", autocomplete: "new-password" });
  const el = form(
    [
      accountName(me),
      field("Current password", current),
      field("New password", next, "At least 12 characters (your organisation may ask for more); a long phrase is good. Not a common password, not containing your user name."),
      field("Type it again", repeat, "The new password once more, to catch a typing mistake."),
      h("div", { class: "dialog-buttons account-buttons" }, button("Change password", null, { kind: "primary", type: "submit" })),
    ],
    async () => {
      if (!current.value) throw new Error("Enter your current password.");
      if (!next.value) throw new Error("Enter a new password.");
      if (next.value !== repeat.value) {
        repeat.focus();
        throw new Error("The two new passwords differ: type the same one twice.");
      }
      try {
        await api.post("/me/password", { current_password: current.value, new_password: next.value });
      } catch (e) {
        current.value = "";
        throw passwordRefusal(e);
      }
      await finished("password");
    },
  );
  return h(
    "section",
    { class: "card account-password" + (me.password_change_required ? " account-first" : ""), "aria-labelledby": "account-password" },
    h("h2", { id: "account-password" }, "Change your password"),
    el,
  );
}

/// The policy's refusals are phrased without their subject ("must be at least 12 characters
/// long"): they are about the new password.
function passwordRefusal(e: unknown): unknown {
  if (e instanceof ApiError && e.status === 422 && /^must /.test(e.detail)) {
    return new Error(`The new password ${e.detail}.`);
  }
  return e;
}

/// Reads the session again (the restriction may be lifted) and shows the page with the outcome.
async function finished(what: string): Promise<void> {
  await loadSession();
  navigate(`/account?done=${what}`);
}

function totpSection(me: Me, u: User): HTMLElement {
  const section = h(
    "section",
    { class: "card account-totp", "aria-labelledby": "account-totp" },
    h("h2", { id: "account-totp" }, "Second factor (TOTP)"),
  );
  const body = h("div");
  section.appendChild(body);
  if (u.totp_enabled) {
    replace(
      body,
      h("p", null, "An authenticator app is enrolled: logging in and signing ask for its one-time code."),
      h("p", { class: "hint" }, "Lost or replaced the device? An administrator removes the second factor (Users), then you enrol again here."),
    );
  } else {
    startEnrolment(body, me);
  }
  return section;
}

function startEnrolment(body: HTMLElement, me: Me): void {
  const password = input({ type: "password", autocomplete: "current-password" });
  const el = form(
    [
      accountName(me),
      h("p", null, "An authenticator app (on a phone or a hardware token) makes a new six-digit code every 30 seconds. Enter your password to begin."),
      me.totp_enrolment_required ? h("p", null, h("strong", null, "Your organisation requires a second factor.")) : null,
      field("Your password", password),
      h("div", { class: "dialog-buttons account-buttons" }, button("Start enrolment", null, { kind: "primary", type: "submit" })),
    ],
    async () => {
      if (!password.value) throw new Error("Enter your password to begin.");
      let answer: { secret: string; uri: string };
      try {
        answer = await api.post<{ secret: string; uri: string }>("/me/totp", { password: password.value });
      } catch (e) {
        password.value = "";
        throw e;
      }
      confirmEnrolment(body, answer.secret, answer.uri);
    },
  );
  replace(body, el);
}

/// The secret in groups of four, as authenticator apps show it when typed in.
function grouped(secret: string): string {
  return secret.replace(/=+$/, "").replace(/(.{4})(?=.)/g, "$1 ");
}

function confirmEnrolment(body: HTMLElement, secret: string, uri: string): void {
  const code = input({ inputmode: "numeric", autocomplete: "one-time-code", maxlength: 6, pattern: "[0-9]{6}" });
  const el = form(
    [
      field("One-time code", code, "The six digits the app shows now."),
      h("div", { class: "dialog-buttons account-buttons" }, button("Confirm", null, { kind: "primary", type: "submit" })),
    ],
    async () => {
      const digits = code.value.replace(/\s+/g, "");
      if (!/^[0-9]{6}$/.test(digits)) throw new Error("Enter the six digits the app shows.");
      await api.post("/me/totp/confirm", { code: digits });
      await finished("totp");
    },
  );
  const uriBox = h("textarea", { readonly: true, rows: 3, class: "account-uri", spellcheck: "false" });
  uriBox.value = uri;
  replace(
    body,
    notice("Keep this secret to yourself: whoever has it can make your codes. It is shown only during this enrolment.", "warning"),
    h(
      "ol",
      { class: "account-steps" },
      h(
        "li",
        null,
        "In the authenticator app, add an account: scan this QR code, or enter the key below (time-based, 6 digits, 30 seconds).",
        qrSvg(uri, "QR code of the provisioning address for your authenticator app"),
      ),
      h("li", null, "Key to type in: ", h("code", { class: "account-secret" }, grouped(secret)), " — or paste the address below into an app that accepts otpauth links."),
      h("li", null, "Enter the code the app shows to confirm."),
    ),
    field("Provisioning address (otpauth URI)", uriBox),
    el,
  );
  code.focus();
}
