// Who is logged in: GET /api/v1/me, read once after login and on every full page load.
import { api, setCsrfToken } from "./api";

export interface User {
  id: number;
  org: string;
  username: string;
  printed_name: string;
  roles: string[];
  disabled: boolean;
  locked: boolean;
  totp_enabled: boolean;
  password_change_required: boolean;
  last_login_at: string | null;
}

export interface Me {
  kind: "user" | "api_key";
  org: string;
  user: User | null;
  roles: string[];
  permissions: string[];
  password_change_required: boolean;
  totp_enrolment_required: boolean;
  session_expires_at: string | null;
}

let me: Me | null = null;

/// Reads GET /me; null when there is no valid session.
export async function loadSession(): Promise<Me | null> {
  try {
    me = await api.get<Me>("/me");
  } catch {
    me = null;
  }
  return me;
}

export function currentUser(): Me {
  if (!me) throw new Error("no session: the router shows the login page first");
  return me;
}

export function isLoggedIn(): boolean {
  return me !== null;
}

/// Whether the session holds a permission (what the API would answer 403 to otherwise).
export function can(permission: string): boolean {
  return me !== null && me.permissions.includes(permission);
}

/// The session must do something first (change the password, enrol TOTP): the API allows only
/// the account's own endpoints until then.
export function restriction(): string | null {
  if (!me) return null;
  if (me.password_change_required) return "Your password must be changed before you continue.";
  if (me.totp_enrolment_required) {
    return "Your organisation requires a second factor: enrol an authenticator app before you continue.";
  }
  return null;
}

export interface LoginAnswer {
  csrf_token: string;
  password_change_required: boolean;
  totp_enrolment_required: boolean;
}

export async function logIn(
  org: string,
  user: string,
  password: string,
  totp: string,
): Promise<void> {
  const body: Record<string, unknown> = { org, user, password, cookie: true };
  if (totp) body.totp = totp;
  const answer = await api.post<LoginAnswer>("/sessions", body, { expect401: true });
  setCsrfToken(answer.csrf_token);
  await loadSession();
}

export async function logOut(): Promise<void> {
  try {
    await api.del("/sessions/current");
  } finally {
    setCsrfToken(null);
    me = null;
  }
}

/// Forgets the session locally (the engine answered 401).
export function forget(): void {
  setCsrfToken(null);
  me = null;
}

/// Whether this browser holds a session's CSRF token (a cookie without one cannot change anything:
/// the console then asks to log in again).
export { hasCsrfToken as hasSession } from "./api";
