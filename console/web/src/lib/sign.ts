// The electronic-signature dialog (21 CFR Part 11 §11.50, §11.200): it shows what is signed, the
// meaning and the printed name that will be recorded with the time, and asks for the password
// again (and the one-time code where the signer has a second factor). The server decides; a
// refusal is shown in its words and the dialog stays open.
import { ApiError } from "./api";
import { Child, h, replace } from "./dom";
import { currentUser } from "./session";
import { button, errorBox, field, input, modal, select } from "./ui";

export interface SignatureFields {
  meaning: string;
  reason: string;
  password: string;
  totp: string;
}

export interface SignDialogOptions {
  title: string; // "Sign batch 12"
  what: Child; // what is signed, in words
  meanings: Array<{ value: string; label: string }>;
  reasonRequired?: boolean;
  submitText?: string; // default "Sign"
  submit: (fields: SignatureFields) => Promise<void>;
}

/// The words for a refused signature, from the API's answer.
export function signatureRefusal(e: unknown): Child {
  if (e instanceof ApiError) {
    if (e.status === 409 && /changed|record_sha256|hash/i.test(e.detail)) {
      return [e.detail, " Close this dialog and reload the page to see the current record."];
    }
    if (e.status === 429) return `Too many failed attempts: ${e.detail}`;
    return e.detail;
  }
  return e instanceof Error ? e.message : String(e);
}

/// Opens the dialog; resolves true once the server accepted the signature, false when closed.
export function signDialog(o: SignDialogOptions): Promise<boolean> {
  const me = currentUser();
  const printed = me.user?.printed_name ?? "";
  const meaning = select(o.meanings.map((m) => [m.value, m.label]));
  if (o.meanings.length === 1) meaning.disabled = true;
  const reason = h("textarea", { rows: 2, maxlength: 1000 });
  if (o.reasonRequired) reason.required = true;
  const password = input({ type: "password", autocomplete: "current-password", required: true });
  const totp = me.user?.totp_enabled
    ? input({ inputmode: "numeric", autocomplete: "one-time-code", pattern: "[0-9]{6}", maxlength: 6 })
    : null;
  const errors = h("div", { class: "form-errors" });
  let signed = false;
  return new Promise((resolve) => {
    const submitButton = button(o.submitText ?? "Sign", null, { kind: "primary", type: "submit" });
    const formEl = h(
      "form",
      { class: "sign-form", novalidate: true },
      h("div", { class: "sign-what" }, o.what),
      h(
        "p",
        { class: "sign-as" },
        `Signing as ${printed}`,
        h("span", { class: "hint" }, ` (${me.user?.username ?? ""}, ${me.org}); the time is recorded in UTC when you sign.`),
      ),
      field("Meaning", meaning),
      field("Reason", reason, o.reasonRequired ? "Required." : "Optional: recorded with the signature."),
      field("Password", password, "Your password again: signing is an act of your own."),
      totp ? field("One-time code", totp, "The code from your authenticator app, if the server asks for it.") : null,
      errors,
      h("div", { class: "dialog-buttons" }, submitButton, button("Cancel", () => handle.close())),
    );
    formEl.addEventListener("submit", async (e) => {
      e.preventDefault();
      replace(errors);
      if (!password.value) {
        replace(errors, errorBox("Enter your password to sign."));
        password.focus();
        return;
      }
      if (o.reasonRequired && !reason.value.trim()) {
        replace(errors, errorBox("Enter a reason: it is recorded with the signature."));
        reason.focus();
        return;
      }
      submitButton.disabled = true;
      try {
        await o.submit({
          meaning: meaning.value,
          reason: reason.value.trim(),
          password: password.value,
          totp: totp?.value.trim() ?? "",
        });
        signed = true;
        handle.close();
      } catch (err) {
        password.value = "";
        replace(errors, h("div", { class: "notice error", role: "alert" }, signatureRefusal(err)));
        password.focus();
      } finally {
        submitButton.disabled = false;
      }
    });
    const handle = modal(o.title, formEl, { onClose: () => resolve(signed) });
  });
}
