// Every console page, one line each (hash paths; docs/console.md lists them).
import { route } from "./lib/router";
import { render as login } from "./pages/login";
// Part C2: dashboard, review queue, result search (and one sample).
import { render as dashboard } from "./pages/dashboard";
import { render as review } from "./pages/review";
import { render as results, renderSample as sample } from "./pages/results";
// Part C1: batch view and report.
import { render as batch } from "./pages/batch";
import { render as batchReport } from "./pages/report";
// Part D1: mapping sets, unmapped codes, dead letters.
import { render as deadLetters } from "./pages/dead_letters";
import { render as mappingSet } from "./pages/mapping_set";
import { render as mappings } from "./pages/mappings";
import { render as unmapped } from "./pages/unmapped";
// Part D2: users, roles, API keys, audit trail, login records, own account.
import { render as account } from "./pages/account";
import { render as apiKeys } from "./pages/api_keys";
import { render as audit } from "./pages/audit";
import { render as logins } from "./pages/logins";
import { render as roles } from "./pages/roles";
import { render as users } from "./pages/users";

export function registerRoutes(): void {
  route("/login", "Log in", login, true);
  // Part C2: dashboard, review queue, result search.
  route("/", "Dashboard", dashboard);
  route("/review", "Review", review);
  route("/results", "Results", results);
  route("/results/:id", "Sample", sample);
  // Part C1: batch view and report.
  route("/batches/:id", "Batch", batch);
  route("/batches/:id/report", "Batch report", batchReport);
  // Part D1: mapping sets, unmapped codes, dead letters.
  route("/mappings", "Mappings", mappings);
  route("/mappings/:name", "Mapping set", mappingSet);
  route("/unmapped", "Unmapped codes", unmapped);
  route("/dead-letters", "Dead letters", deadLetters);
  // Part D2: users, roles, API keys, audit trail, login records, own account.
  route("/users", "Users", users);
  route("/roles", "Roles", roles);
  route("/api-keys", "API keys", apiKeys);
  route("/audit", "Audit trail", audit);
  route("/logins", "Login records", logins);
  route("/account", "My account", account);
}
