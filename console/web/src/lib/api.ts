// The REST API as the console uses it: the session cookie (HttpOnly, set by POST /sessions with
// "cookie": true) authenticates, and every request that changes something carries the session's
// CSRF token in X-CSRF-Token (docs/api.md, "Using a session or an API key"). The console adds no
// logic the API lacks: everything it shows or does goes through /api/v1.

const BASE = "/api/v1";
const CSRF_KEY = "labgate.csrf";

/// A refusal or failure of the API: the problem+json document's words.
export class ApiError extends Error {
  readonly status: number;
  readonly title: string;
  readonly detail: string;
  readonly problem: Record<string, unknown>;
  constructor(status: number, problem: Record<string, unknown>) {
    const title = typeof problem.title === "string" ? problem.title : `HTTP ${status}`;
    const detail =
      typeof problem.detail === "string" && problem.detail !== ""
        ? problem.detail
        : status === 0
          ? "the engine cannot be reached: check the network and that labgated is running"
          : title;
    super(detail);
    this.status = status;
    this.title = title;
    this.detail = detail;
    this.problem = problem;
  }
}

type LostHandler = () => void;
let onLost: LostHandler = () => {};

/// What to do when the engine answers 401 to a request of a logged-in page (the session ended).
export function onSessionLost(handler: LostHandler): void {
  onLost = handler;
}

export function setCsrfToken(token: string | null): void {
  if (token) localStorage.setItem(CSRF_KEY, token);
  else localStorage.removeItem(CSRF_KEY);
}

export function hasCsrfToken(): boolean {
  return localStorage.getItem(CSRF_KEY) !== null;
}

export type Query = Record<string, string | number | undefined | null>;

function urlOf(path: string, query?: Query): string {
  const url = path.startsWith("/api/") || path.startsWith("/health") ? path : BASE + path;
  if (!query) return url;
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v !== undefined && v !== null && v !== "") params.set(k, String(v));
  }
  const text = params.toString();
  return text ? `${url}${url.includes("?") ? "&" : "?"}${text}` : url;
}

async function problemOf(response: Response): Promise<Record<string, unknown>> {
  try {
    const body: unknown = await response.json();
    if (body && typeof body === "object") return body as Record<string, unknown>;
  } catch {
    // not JSON: the status line says it
  }
  return { title: response.statusText || `HTTP ${response.status}` };
}

interface RequestOptions {
  method: string;
  body?: string;
  contentType?: string;
  accept?: string;
  /// A 401 is the answer itself (a login, a re-authentication), not a lost session.
  expect401?: boolean;
}

async function send(url: string, o: RequestOptions): Promise<Response> {
  const headers: Record<string, string> = { Accept: o.accept ?? "application/json" };
  if (o.body !== undefined) headers["Content-Type"] = o.contentType ?? "application/json";
  if (o.method !== "GET" && o.method !== "HEAD") {
    const csrf = localStorage.getItem(CSRF_KEY);
    if (csrf) headers["X-CSRF-Token"] = csrf;
  }
  let response: Response;
  try {
    response = await fetch(url, {
      method: o.method,
      headers,
      body: o.body ?? (o.method === "POST" ? "" : undefined),
      credentials: "same-origin",
      cache: "no-store",
    });
  } catch {
    throw new ApiError(0, {});
  }
  if (!response.ok) {
    const problem = await problemOf(response);
    if (response.status === 401 && !o.expect401) onLost();
    throw new ApiError(response.status, problem);
  }
  return response;
}

async function json<T>(response: Response): Promise<T> {
  if (response.status === 204) return undefined as T;
  const text = await response.text();
  return (text ? JSON.parse(text) : undefined) as T;
}

export const api = {
  async get<T>(path: string, query?: Query): Promise<T> {
    return json<T>(await send(urlOf(path, query), { method: "GET" }));
  },
  async getText(path: string, accept: string, query?: Query): Promise<string> {
    return (await send(urlOf(path, query), { method: "GET", accept })).text();
  },
  async post<T>(path: string, body?: unknown, opts?: { expect401?: boolean }): Promise<T> {
    const text = body === undefined ? undefined : JSON.stringify(body);
    return json<T>(
      await send(urlOf(path), { method: "POST", body: text, expect401: opts?.expect401 }),
    );
  },
  async postRaw<T>(path: string, text: string, contentType: string): Promise<T> {
    return json<T>(await send(urlOf(path), { method: "POST", body: text, contentType }));
  },
  async patch<T>(path: string, body: unknown): Promise<T> {
    return json<T>(await send(urlOf(path), { method: "PATCH", body: JSON.stringify(body) }));
  },
  async del<T>(path: string, body?: unknown): Promise<T> {
    const text = body === undefined ? undefined : JSON.stringify(body);
    return json<T>(await send(urlOf(path), { method: "DELETE", body: text }));
  },
};

/// A page of a list endpoint (docs/api.md, "Listing and paging").
export interface Page<T> {
  items: T[];
  next: string | null;
}
