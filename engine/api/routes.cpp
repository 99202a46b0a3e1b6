// The route and permission table (see routes.h).
#include "engine/api/routes.h"

namespace labgate::api {

const std::vector<RouteSpec>& routeTable() {
  static const std::vector<RouteSpec> kRoutes = {
      // Sessions and the caller's own account.
      {"POST", "/api/v1/sessions", kPublic, "Log in: a session token (or cookie) for a person"},
      {"DELETE", "/api/v1/sessions/current", kSession, "Log out: end the current session"},
      {"GET", "/api/v1/me", kAuthenticated, "Who the caller is: organisation, roles, permissions"},
      {"POST", "/api/v1/me/password", kSession, "Change one's own password"},
      {"POST", "/api/v1/me/totp", kSession, "Start TOTP enrolment (re-authenticates)"},
      {"POST", "/api/v1/me/totp/confirm", kSession, "Confirm TOTP enrolment with a code"},
      // Organisations.
      {"GET", "/api/v1/organisations", "organisations.read", "The caller's organisation"},
      {"POST", "/api/v1/organisations", "organisations.manage",
       "Create an organisation and its first administrator (operator organisation only)"},
      {"GET", "/api/v1/organisations/{id}", "organisations.read", "One organisation"},
      {"PATCH", "/api/v1/organisations/{id}", "organisations.manage",
       "Change name, password expiry, mandatory TOTP, IP allow-list"},
      // Users.
      {"GET", "/api/v1/users", "users.read", "The organisation's users"},
      {"POST", "/api/v1/users", "users.manage", "Create a user with an initial password"},
      {"GET", "/api/v1/users/{id}", "users.read", "One user"},
      {"PATCH", "/api/v1/users/{id}", "users.manage", "Change printed name, roles, disabled"},
      {"POST", "/api/v1/users/{id}/unlock", "users.manage", "Lift a lockout"},
      {"POST", "/api/v1/users/{id}/password-reset", "users.manage",
       "Issue a one-time temporary password that must be changed at the next login"},
      {"DELETE", "/api/v1/users/{id}/totp", "users.manage",
       "Remove a user's second factor (lost device): the user enrols again"},
      // Roles.
      {"GET", "/api/v1/roles", "roles.read", "Roles and their permissions"},
      {"GET", "/api/v1/roles/{name}", "roles.read", "One role"},
      // API keys.
      {"GET", "/api/v1/api-keys", "apikeys.read", "The organisation's API keys"},
      {"POST", "/api/v1/api-keys", "apikeys.manage", "Create an API key (shown once)"},
      {"GET", "/api/v1/api-keys/{id}", "apikeys.read", "One API key"},
      {"DELETE", "/api/v1/api-keys/{id}", "apikeys.manage", "Revoke an API key"},
      // Connectors and destinations.
      {"GET", "/api/v1/connectors", "connectors.read", "Connectors: state and counters"},
      {"GET", "/api/v1/connectors/{name}", "connectors.read", "One connector"},
      {"GET", "/api/v1/destinations", "destinations.read",
       "Destinations: state, queue depth, counters"},
      {"GET", "/api/v1/destinations/{name}", "destinations.read", "One destination"},
      // Data.
      {"GET", "/api/v1/samples", "results.read", "Search samples (paged)"},
      {"GET", "/api/v1/samples/{id}", "results.read", "One sample with its results and findings"},
      {"POST", "/api/v1/uploads", "uploads.create", "Upload an instrument export"},
      // QA review and release (docs/signatures.md).
      {"GET", "/api/v1/batches", "results.read",
       "Search batches: held, released, rejected (paged)"},
      {"GET", "/api/v1/batches/{id}", "results.read",
       "One batch: results, findings, signatures so far and the record_sha256 to sign"},
      {"POST", "/api/v1/signatures", kSession,
       "Sign a batch (reviewed, approved, rejected, rerun-requested ...): the meaning's "
       "permission, the password and on the first signing of a session the TOTP code"},
      {"GET", "/api/v1/signatures/{id}", "results.read",
       "One signature with the bytes signed and the Ed25519 signature (base64)"},
      {"GET", "/api/v1/signatures/{id}/verification", "results.read",
       "Recompute the signed record from the store and verify the signature"},
      {"GET", "/api/v1/signing-key", kAuthenticated,
       "The server's Ed25519 public key (PEM) that signs electronic signatures"},
      {"GET", "/api/v1/instruments/{id}/diagnostics", "diagnostics.read",
       "An instrument's trends and QC series"},
      {"GET", "/api/v1/instruments/{id}/health", "diagnostics.read",
       "An instrument's health: QC trend states and signals, IS response, RT, sensitivity"},
      {"GET", "/api/v1/messages/{id}/raw", "messages.read_raw",
       "The received bytes of a stored message, decrypted"},
      // Maintenance (operator organisation only).
      {"POST", "/api/v1/maintenance/reencrypt", "maintenance.manage",
       "Start re-encrypting stored content under a new data key"},
      {"GET", "/api/v1/maintenance/reencrypt", "maintenance.manage",
       "Where the re-encryption stands"},
      // Records.
      {"GET", "/api/v1/audit", "audit.read", "The audit trail (filtered, paged)"},
      {"GET", "/api/v1/audit/verification", "audit.read",
       "Walk the audit trail's hash chain: valid, or the first broken event"},
      {"GET", "/api/v1/logins", "logins.read", "Login records (filtered, paged)"},
      // Backups (operator organisation only).
      {"POST", "/api/v1/backups", "backups.manage",
       "Take a backup now: written, verified, kept by the retention policy"},
      {"GET", "/api/v1/backups", "backups.manage", "The backups in the backup directory"},
      // Mapping sets stored in the database, versioned (docs/mappings.md).
      {"GET", "/api/v1/mapping-sets", "results.read",
       "Mapping sets: latest and active version, who activated it and when"},
      {"GET", "/api/v1/mapping-sets/{name}", "results.read",
       "One mapping set: its versions and its activations"},
      {"GET", "/api/v1/mapping-sets/{name}/versions/{version}", "results.read",
       "One version: the CSV (Accept: text/csv) or its rows as JSON"},
      {"POST", "/api/v1/mapping-sets/{name}/versions", "mappings.manage",
       "Upload a new version (body: the CSV); 422 lists every problem with line and column"},
      {"GET", "/api/v1/mapping-sets/{name}/versions/{version}/diff", "results.read",
       "Rows added, removed and changed against another version (default: the active one)"},
      {"POST", "/api/v1/mapping-sets/{name}/versions/{version}/activation", "mappings.manage",
       "Activate a version (signed, meaning approved, with signatures.mapping_activation): the "
       "connectors bound to the set use it for their next message"},
      // Re-evaluation and unmapped codes (issue 14, docs/mappings.md).
      {"POST", "/api/v1/batches/{id}/reevaluation", "rules.manage",
       "Evaluate a batch's held results again with the connector's current mapping and rules "
       "(or try it: dry_run)"},
      {"POST", "/api/v1/instruments/{id}/mapping-dry-run", "mappings.manage",
       "What a mapping set (CSV) would change on an instrument's last stored batches"},
      {"POST", "/api/v1/mapping-sets/{name}/versions/{version}/dry-run", "mappings.manage",
       "What a version would change on an instrument's last stored batches (nothing is written)"},
      {"GET", "/api/v1/unmapped-codes", "results.read",
       "Instrument codes seen without a mapping: how often, first and last seen, results waiting"},
      // Received messages and dead letters (issue 14, docs/operations.md).
      {"GET", "/api/v1/messages", "messages.read",
       "Received messages: outcome, reason and field locations, never values (paged)"},
      {"GET", "/api/v1/destinations/{name}/dead-letter", "destinations.read",
       "A destination's dead letters: what the LIS refused and why (paged)"},
      {"POST", "/api/v1/destinations/{name}/dead-letter/{id}/resend", "deliveries.resend",
       "Put a dead letter back into its destination's queue, in its original place (audited)"},
      // The web console's read models (issue 15, docs/api.md "The console's read models").
      {"GET", "/api/v1/batches/{id}/charts", "results.read",
       "What the batch view draws: per analyte the calibration curve, the IS response and the "
       "QC series (Levey-Jennings) with the batch's findings"},
      {"GET", "/api/v1/overview", "connectors.read",
       "The dashboard's numbers: throughput per minute, the held backlog, dead letters"},
  };
  return kRoutes;
}

}  // namespace labgate::api
