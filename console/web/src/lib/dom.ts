// Element creation without HTML strings: every value a page shows goes in as a text node or an
// attribute, never parsed as markup, so data from the engine cannot inject anything (and the
// Content-Security-Policy forbids inline scripts and styles anyway).

export type Child = Node | string | number | null | undefined | false | Child[];

export type Handler = (event: Event) => void;

export interface Props {
  class?: string;
  on?: Record<string, Handler>;
  [attribute: string]: string | number | boolean | undefined | null | Record<string, Handler>;
}

function append(parent: Node, child: Child): void {
  if (child === null || child === undefined || child === false) return;
  if (Array.isArray(child)) {
    for (const c of child) append(parent, c);
  } else if (child instanceof Node) {
    parent.appendChild(child);
  } else {
    parent.appendChild(document.createTextNode(String(child)));
  }
}

function applyProps(el: Element, props: Props | undefined): void {
  if (!props) return;
  for (const [name, value] of Object.entries(props)) {
    if (name === "on") {
      if (!value) continue;
      for (const [event, handler] of Object.entries(value as Record<string, Handler>)) {
        el.addEventListener(event, handler);
      }
    } else if (name === "style") {
      throw new Error("inline styles are refused by the Content-Security-Policy: use a class");
    } else if (value === true) {
      el.setAttribute(name, "");
    } else if (value !== false && value !== undefined && value !== null) {
      el.setAttribute(name, String(value));
    }
  }
  // Properties whose attribute is only the initial state.
  if (props.value !== undefined && "value" in el) {
    (el as HTMLInputElement).value = String(props.value);
  }
  if (props.checked !== undefined && el instanceof HTMLInputElement) {
    el.checked = Boolean(props.checked);
  }
}

/// An HTML element: h("button", {class: "primary", on: {click}}, "Sign").
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props?: Props | null,
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  applyProps(el, props ?? undefined);
  append(el, children);
  return el;
}

const SVG_NS = "http://www.w3.org/2000/svg";

/// An SVG element: svg("circle", {class: "point", cx: 3, cy: 4, r: 3}).
export function svg<K extends keyof SVGElementTagNameMap>(
  tag: K,
  props?: Props | null,
  ...children: Child[]
): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG_NS, tag) as SVGElementTagNameMap[K];
  applyProps(el, props ?? undefined);
  append(el, children);
  return el;
}

export function clear(el: Element): void {
  while (el.firstChild) el.removeChild(el.firstChild);
}

/// Replaces an element's children.
export function replace(el: Element, ...children: Child[]): void {
  clear(el);
  append(el, children);
}

let nextId = 0;
/// A document-unique id for label/input pairs.
export function uniqueId(prefix: string): string {
  nextId += 1;
  return `${prefix}-${nextId}`;
}
