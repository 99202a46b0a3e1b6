// The console's entry point: the layout (navigation, account menu), the page router, and what
// happens when the session ends (back to login, then back to the page).
import { onSessionLost } from "./lib/api";
import { h, replace } from "./lib/dom";
import { currentPath, link, match, navigate } from "./lib/router";
import { can, currentUser, forget, hasSession, isLoggedIn, loadSession, logOut, restriction } from "./lib/session";
import { button, errorBox, notice } from "./lib/ui";
import { registerRoutes } from "./routes";

const NAV: Array<{ label: string; path: string; permission?: string; prefixes: string[] }> = [
  { label: "Dashboard", path: "/", prefixes: [] },
  { label: "Review", path: "/review", permission: "results.read", prefixes: ["/review", "/batches"] },
  { label: "Results", path: "/results", permission: "results.read", prefixes: ["/results"] },
  { label: "Mappings", path: "/mappings", permission: "results.read", prefixes: ["/mappings", "/unmapped", "/dead-letters"] },
  { label: "Users", path: "/users", permission: "users.read", prefixes: ["/users", "/roles", "/api-keys"] },
  { label: "Audit", path: "/audit", permission: "audit.read", prefixes: ["/audit", "/logins"] },
];

function renderHeader(path: string): void {
  const top = document.getElementById("top") as HTMLElement;
  if (!isLoggedIn()) {
    replace(top, h("div", { class: "brand" }, "LabGate"));
    return;
  }
  const me = currentUser();
  const restricted = restriction() !== null;
  const items = restricted
    ? []
    : NAV.filter((n) => !n.permission || can(n.permission) || (n.label === "Audit" && can("logins.read")));
  const active = (n: (typeof NAV)[number]) =>
    n.path === "/" ? path === "/" : n.prefixes.some((p) => path === p || path.startsWith(p + "/"));
  replace(
    top,
    h("div", { class: "brand" }, link("/", "LabGate", { class: "brand-link", "aria-label": "LabGate home" })),
    h(
      "nav",
      { class: "main-nav", "aria-label": "Main" },
      h("ul", null, items.map((n) => h("li", null, link(n.path, n.label, active(n) ? { "aria-current": "page", class: "active" } : {})))),
    ),
    h(
      "div",
      { class: "account-menu" },
      h("span", { class: "who" }, me.user?.printed_name ?? "", h("span", { class: "org" }, ` · ${me.org}`)),
      link("/account", "My account", path === "/account" ? { "aria-current": "page", class: "active" } : {}),
      button("Log out", async () => {
        try {
          await logOut();
        } finally {
          navigate("/login");
        }
      }),
    ),
  );
}

let rendering = 0;

async function show(): Promise<void> {
  const main = document.getElementById("main") as HTMLElement;
  const path = currentPath();
  const m = match("#" + path);
  const bare = path.split("?")[0];
  if (!m) {
    renderHeader(bare);
    replace(main, notice(`There is no page at ${bare}.`, "error"), h("p", null, link("/", "Go to the dashboard")));
    return;
  }
  if (!m.route.public && !isLoggedIn()) {
    navigate(`/login?next=${encodeURIComponent(path)}`);
    return;
  }
  if (!m.route.public && restriction() && m.path !== "/account") {
    navigate("/account");
    return;
  }
  renderHeader(m.path);
  const ticket = ++rendering;
  document.title = `${m.route.title} — LabGate`;
  replace(main);
  try {
    await m.route.render({ params: m.params, query: m.query, main, path: m.path });
  } catch (e) {
    if (ticket === rendering) replace(main, errorBox(e));
  }
  if (ticket === rendering && document.activeElement === document.body) main.focus({ preventScroll: true });
}

async function boot(): Promise<void> {
  registerRoutes();
  onSessionLost(() => {
    const wasIn = isLoggedIn();
    forget();
    const path = currentPath();
    if (path.startsWith("/login")) return;
    navigate(`/login?next=${encodeURIComponent(path)}${wasIn ? "&lost=1" : ""}`);
  });
  if (hasSession()) await loadSession();
  window.addEventListener("hashchange", () => {
    if (location.hash === "" || location.hash.startsWith("#/")) void show();
  });
  if (!location.hash.startsWith("#/")) history.replaceState(null, "", "#/");
  await show();
}

void boot();
