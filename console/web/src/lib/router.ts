// Hash routes (#/batches/12): the engine serves one page at /, so a reload or a bookmark of any
// console page works without server-side routes.
import { h, Props } from "./dom";

export interface RouteContext {
  params: Record<string, string>;
  query: URLSearchParams;
  main: HTMLElement;
  path: string;
}

export type Render = (ctx: RouteContext) => void | Promise<void>;

interface Route {
  pattern: string;
  parts: string[];
  title: string;
  render: Render;
  public: boolean;
}

const routes: Route[] = [];

/// Registers a page: pattern "/batches/:id".
export function route(pattern: string, title: string, render: Render, isPublic = false): void {
  routes.push({ pattern, parts: pattern.split("/").filter(Boolean), title, render, public: isPublic });
}

export interface Match {
  route: Route;
  params: Record<string, string>;
  query: URLSearchParams;
  path: string;
}

/// The route of a hash ("#/batches/12?x=1"), or null.
export function match(hash: string): Match | null {
  const raw = hash.startsWith("#") ? hash.slice(1) : hash;
  const [pathPart, queryPart] = raw.split("?", 2);
  const path = pathPart || "/";
  const parts = path.split("/").filter(Boolean).map((p) => decodeURIComponent(p));
  for (const r of routes) {
    if (r.parts.length !== parts.length) continue;
    const params: Record<string, string> = {};
    let ok = true;
    r.parts.forEach((p, i) => {
      if (p.startsWith(":")) params[p.slice(1)] = parts[i];
      else if (p !== parts[i]) ok = false;
    });
    if (ok) return { route: r, params, query: new URLSearchParams(queryPart ?? ""), path };
  }
  return null;
}

/// The current page's hash path with its query ("/batches/12?x=1").
export function currentPath(): string {
  const raw = location.hash.startsWith("#/") ? location.hash.slice(1) : "/";
  return raw;
}

export function navigate(path: string): void {
  const target = "#" + (path.startsWith("/") ? path : "/" + path);
  if (location.hash === target) window.dispatchEvent(new HashChangeEvent("hashchange"));
  else location.hash = target;
}

/// A link to a console page.
export function link(path: string, text: string, props?: Props): HTMLAnchorElement {
  return h("a", { ...props, href: "#" + path }, text);
}

/// Encodes one path segment ("/mappings/" + seg(name)).
export function seg(value: string | number): string {
  return encodeURIComponent(String(value));
}
