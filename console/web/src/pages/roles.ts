// Roles and their permissions (GET /roles), read only: built-in roles are the engine's, custom
// roles are configuration (role.NAME.permissions, docs/api.md). Shown as a matrix, one row per
// permission and one column per role, and as a list with each role's description.
import { api, Page } from "../lib/api";
import { h, replace } from "../lib/dom";
import { RouteContext } from "../lib/router";
import { busy, pageHeader, table } from "../lib/ui";
import { hiddenText, peopleTabs, RoleRecord } from "./users";

export async function render(ctx: RouteContext): Promise<void> {
  const body = h("div");
  replace(
    ctx.main,
    pageHeader("Roles"),
    peopleTabs(),
    h("p", { class: "muted" }, "Roles are read only here: built-in roles come with LabGate, custom roles from the configuration (role.NAME.permissions)."),
    body,
  );
  await busy(
    body,
    api.get<Page<RoleRecord>>("/roles").then((page) => [rolesList(page.items), matrix(page.items)]),
  );
}

function rolesList(roles: RoleRecord[]): HTMLElement {
  return h(
    "section",
    { "aria-labelledby": "roles-list" },
    h("h2", { id: "roles-list" }, "Roles"),
    table<RoleRecord>(
      [
        { label: "Role", cell: (r) => h("strong", null, r.name) },
        { label: "Kind", cell: (r) => (r.builtin ? "Built-in" : "Custom") },
        { label: "Description", cell: (r) => r.description || "—" },
        { label: "Permissions", cell: (r) => String(r.permissions.length), class: "num" },
      ],
      roles,
      { empty: "No roles." },
    ),
  );
}

/// Permissions grouped by their resource ("users.read", "users.manage" next to each other).
function permissionsOf(roles: RoleRecord[]): string[] {
  return Array.from(new Set(roles.flatMap((r) => r.permissions))).sort();
}

function cell(granted: boolean, role: string, permission: string): HTMLElement {
  return h(
    "td",
    { class: granted ? "roles-yes" : "roles-no" },
    granted ? h("span", { "aria-hidden": "true" }, "✓") : null,
    hiddenText(`${role} ${granted ? "has" : "does not have"} ${permission}`),
  );
}

function matrix(roles: RoleRecord[]): HTMLElement {
  const permissions = permissionsOf(roles);
  return h(
    "section",
    { "aria-labelledby": "roles-matrix" },
    h("h2", { id: "roles-matrix" }, "Permissions by role"),
    h(
      "div",
      { class: "table-wrap roles-matrix" },
      h(
        "table",
        null,
        h("caption", null, `${permissions.length} permissions, ${roles.length} roles; ✓ = granted`),
        h(
          "thead",
          null,
          h("tr", null, h("th", { scope: "col" }, "Permission"), roles.map((r) => h("th", { scope: "col", class: "roles-col" }, r.name))),
        ),
        h(
          "tbody",
          null,
          permissions.map((p) =>
            h("tr", null, h("th", { scope: "row" }, h("code", null, p)), roles.map((r) => cell(r.permissions.includes(p), r.name, p))),
          ),
        ),
      ),
    ),
  );
}
