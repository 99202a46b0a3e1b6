// The console's building blocks: labelled fields, buttons, tables, dialogs, errors in words.
// Every control has a visible label; errors are announced (role="alert").
import { ApiError } from "./api";
import { Child, h, replace, uniqueId } from "./dom";
import { currentPath, link } from "./router";

export function pageHeader(title: string, ...actions: Child[]): HTMLElement {
  document.title = `${title} — LabGate`;
  return h("div", { class: "page-header" }, h("h1", null, title), h("div", { class: "actions" }, actions));
}

type Control = HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement;

/// A visible label bound to its control (for/id), with an optional hint read with it.
export function field(label: string, control: Control, hint?: string): HTMLElement {
  if (!control.id) control.id = uniqueId("f");
  const hintEl = hint ? h("span", { class: "hint", id: control.id + "-hint" }, hint) : null;
  if (hintEl) control.setAttribute("aria-describedby", hintEl.id);
  return h("div", { class: "field" }, h("label", { for: control.id }, label), control, hintEl);
}

export function input(props: Record<string, string | number | boolean | undefined>): HTMLInputElement {
  return h("input", { type: "text", ...props });
}

export function select(options: Array<[string, string]>, value?: string): HTMLSelectElement {
  const el = h(
    "select",
    null,
    options.map(([v, text]) => h("option", { value: v }, text)),
  );
  if (value !== undefined) el.value = value;
  return el;
}

export interface ButtonOptions {
  kind?: "primary" | "danger" | "plain";
  type?: "button" | "submit";
  label?: string; // aria-label when the text alone is not enough
}

export function button(text: string, onClick: ((e: Event) => void) | null, o: ButtonOptions = {}): HTMLButtonElement {
  return h(
    "button",
    {
      type: o.type ?? "button",
      class: `btn ${o.kind ?? "plain"}`,
      "aria-label": o.label,
      on: onClick ? { click: onClick } : undefined,
    },
    text,
  );
}

export interface Column<T> {
  label: string;
  cell: (row: T) => Child;
  class?: string;
}

export function table<T>(columns: Column<T>[], rows: T[], o: { empty?: string; caption?: string } = {}): HTMLElement {
  if (rows.length === 0) return h("p", { class: "empty" }, o.empty ?? "Nothing to show.");
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      null,
      o.caption ? h("caption", null, o.caption) : null,
      h("thead", null, h("tr", null, columns.map((c) => h("th", { scope: "col", class: c.class }, c.label)))),
      h(
        "tbody",
        null,
        rows.map((r) => h("tr", null, columns.map((c) => h("td", { class: c.class }, c.cell(r))))),
      ),
    ),
  );
}

/// The words of an error: the API's detail, or what went wrong in the browser.
export function errorText(error: unknown): string {
  if (error instanceof ApiError) {
    if (error.status === 403 && error.detail === error.title) return "You do not have the permission for this.";
    return error.detail;
  }
  if (error instanceof Error) return error.message;
  return String(error);
}

export function errorBox(error: unknown): HTMLElement {
  return h("div", { class: "notice error", role: "alert" }, errorText(error));
}

export function notice(text: Child, kind: "info" | "success" | "warning" | "error" = "info"): HTMLElement {
  return h("div", { class: `notice ${kind}`, role: kind === "error" ? "alert" : "status" }, text);
}

/// Shows "Loading…" in `container` until `work` settles, then what it returns, or its error.
export async function busy(container: HTMLElement, work: Promise<Child>): Promise<void> {
  container.setAttribute("aria-busy", "true");
  replace(container, h("p", { class: "loading" }, "Loading…"));
  try {
    replace(container, await work);
  } catch (e) {
    replace(container, errorBox(e));
  } finally {
    container.removeAttribute("aria-busy");
  }
}

/// A time as the reader's local date and time, with the UTC value in the tooltip.
export function formatTime(iso: string | null | undefined): HTMLElement | string {
  if (!iso) return "—";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const text = d.toLocaleString(undefined, {
    year: "numeric",
    month: "short",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  });
  return h("time", { datetime: iso, title: d.toISOString() }, text);
}

/// "Show more" for a paged list: calls onMore(next) and removes itself.
export function pager(next: string | null, onMore: (next: string) => void): HTMLElement | null {
  if (!next) return null;
  const wrap = h("div", { class: "pager" });
  wrap.appendChild(
    button("Show more", () => {
      wrap.remove();
      onMore(next);
    }),
  );
  return wrap;
}

export interface ModalHandle {
  dialog: HTMLDialogElement;
  close: () => void;
}

/// A modal dialog (<dialog>, showModal): labelled by its heading, Escape closes it, focus goes
/// back where it was.
export function modal(title: string, body: Child, o: { onClose?: () => void; wide?: boolean } = {}): ModalHandle {
  const headingId = uniqueId("dlg");
  const before = document.activeElement as HTMLElement | null;
  const dialog = h(
    "dialog",
    { class: o.wide ? "modal wide" : "modal", "aria-labelledby": headingId },
    h("h2", { id: headingId }, title),
    body,
  );
  const close = () => {
    if (dialog.open) dialog.close();
  };
  dialog.addEventListener("close", () => {
    dialog.remove();
    o.onClose?.();
    before?.focus();
  });
  document.body.appendChild(dialog);
  dialog.showModal();
  const first = dialog.querySelector<HTMLElement>("input, select, textarea, button");
  first?.focus();
  return { dialog, close };
}

/// Asks a yes/no question in a dialog; resolves true when confirmed.
export function confirmDialog(title: string, text: Child, confirmText: string): Promise<boolean> {
  return new Promise((resolve) => {
    let answered = false;
    const handle = modal(
      title,
      h(
        "div",
        null,
        h("p", null, text),
        h(
          "div",
          { class: "dialog-buttons" },
          button(confirmText, () => {
            answered = true;
            handle.close();
          }, { kind: "primary" }),
          button("Cancel", () => handle.close()),
        ),
      ),
      { onClose: () => resolve(answered) },
    );
  });
}

/// Sibling pages as tabs: [{label, path}], the current one marked.
export function tabs(items: Array<{ label: string; path: string }>, active?: string): HTMLElement {
  const here = active ?? currentPath().split("?")[0];
  return h(
    "nav",
    { class: "tabs", "aria-label": "Sections" },
    items.map((t) => link(t.path, t.label, t.path === here ? { class: "tab active", "aria-current": "page" } : { class: "tab" })),
  );
}

/// A form whose submit runs `onSubmit`, disabling its buttons meanwhile and showing the error in
/// words inside the form.
export function form(children: Child, onSubmit: () => Promise<void> | void, props: Record<string, string> = {}): HTMLFormElement {
  const errors = h("div", { class: "form-errors" });
  const el = h("form", { ...props, novalidate: true }, children, errors);
  el.addEventListener("submit", async (e) => {
    e.preventDefault();
    const buttons = Array.from(el.querySelectorAll("button"));
    buttons.forEach((b) => (b.disabled = true));
    replace(errors);
    try {
      await onSubmit();
    } catch (err) {
      replace(errors, errorBox(err));
    } finally {
      buttons.forEach((b) => (b.disabled = false));
    }
  });
  return el;
}
