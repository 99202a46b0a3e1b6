// Log in: organisation, user name, password and, where enrolled, the one-time code
// (docs/api.md, "Logging in"). The engine answers one refusal for every wrong detail.
import { ApiError } from "../lib/api";
import { h, replace } from "../lib/dom";
import { navigate, RouteContext } from "../lib/router";
import { logIn, restriction } from "../lib/session";
import { button, errorText, field, input } from "../lib/ui";

const ORG_KEY = "labgate.org";

export function render(ctx: RouteContext): void {
  document.title = "Log in — LabGate";
  const next = ctx.query.get("next") || "/";
  const org = input({ name: "org", autocomplete: "organization", required: true, value: localStorage.getItem(ORG_KEY) ?? "default" });
  const user = input({ name: "username", autocomplete: "username", required: true, autocapitalize: "none", spellcheck: "false" });
  const password = input({ type: "password", name: "password", autocomplete: "current-password", required: true });
  const totp = input({ name: "totp", inputmode: "numeric", autocomplete: "one-time-code", maxlength: 6 });
  const message = h("div", { class: "form-errors" });
  const submit = button("Log in", null, { kind: "primary", type: "submit" });
  const lostNotice = ctx.query.get("lost")
    ? h("div", { class: "notice warning", role: "status" }, "Your session has ended. Log in again to go on where you were.")
    : null;
  const formEl = h(
    "form",
    { class: "login-form", novalidate: true, "aria-labelledby": "login-title" },
    h("h1", { id: "login-title" }, "Log in to LabGate"),
    lostNotice,
    field("Organisation", org),
    field("User name", user),
    field("Password", password),
    field("One-time code", totp, "Only if you use an authenticator app."),
    message,
    submit,
  );
  formEl.addEventListener("submit", async (e) => {
    e.preventDefault();
    replace(message);
    const missing = [
      [org, "organisation"],
      [user, "user name"],
      [password, "password"],
    ].find(([el]) => !(el as HTMLInputElement).value.trim());
    if (missing) {
      replace(message, h("div", { class: "notice error", role: "alert" }, `Enter your ${missing[1] as string}.`));
      (missing[0] as HTMLInputElement).focus();
      return;
    }
    submit.disabled = true;
    submit.textContent = "Logging in…";
    try {
      await logIn(org.value.trim(), user.value.trim(), password.value, totp.value.trim());
      localStorage.setItem(ORG_KEY, org.value.trim());
      navigate(restriction() ? "/account" : next);
    } catch (err) {
      let text = errorText(err);
      if (err instanceof ApiError && err.problem.totp_required === true) {
        text = "Enter the one-time code from your authenticator app.";
        totp.focus();
      } else if (err instanceof ApiError && err.status === 401) {
        password.value = "";
        password.focus();
      }
      replace(message, h("div", { class: "notice error", role: "alert" }, text));
    } finally {
      submit.disabled = false;
      submit.textContent = "Log in";
    }
  });
  replace(ctx.main, h("div", { class: "login-page" }, formEl));
  (org.value ? user : org).focus();
}
