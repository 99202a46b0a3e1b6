// The permission words and the built-in roles (see permissions.h).
#include "engine/api/permissions.h"

#include <cctype>

namespace labgate::api {

const std::map<std::string, std::string>& allPermissions() {
  static const std::map<std::string, std::string> kPermissions = {
      {"organisations.read", "read the organisation's settings"},
      {"organisations.manage",
       "change the organisation's settings; in the operator "
       "organisation \"default\", create organisations"},
      {"users.read", "list and read user accounts"},
      {"users.manage",
       "create, change, disable and unlock user accounts; reset passwords and "
       "second factors"},
      {"roles.read", "list roles and their permissions"},
      {"apikeys.read", "list API keys (never the keys themselves)"},
      {"apikeys.manage", "create and revoke API keys"},
      {"connectors.read", "read connectors' state and counters"},
      {"destinations.read", "read destinations' state, queue depth and counters"},
      {"results.read", "search and read samples and results"},
      {"results.review", "review held results (QA)"},
      {"results.approve", "approve and release reviewed results (QA)"},
      {"mappings.manage", "change code mapping sets"},
      {"rules.manage", "change rule sets"},
      {"diagnostics.read", "read instrument diagnostics (trends, QC charts)"},
      {"audit.read", "read the audit trail"},
      {"logins.read", "read login records"},
      {"uploads.create", "upload instrument exports"},
      {"messages.read_raw", "read the received bytes of a stored message"},
      {"maintenance.manage",
       "re-encrypt stored content under a new data key (operator organisation)"},
      {"backups.manage", "take and list backups"},
      {"messages.read",
       "list received messages: outcome, reason and field locations, never a value"},
      {"deliveries.resend", "put a destination's dead letters back into its queue"},
  };
  return kPermissions;
}

namespace {

Role role(std::string name, std::string description, std::set<std::string> permissions) {
  return Role{std::move(name), std::move(description), std::move(permissions), true};
}

bool validRoleName(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    if (!std::islower(static_cast<unsigned char>(c)) &&
        !std::isdigit(static_cast<unsigned char>(c)) && c != '-' && c != '_')
      return false;
  }
  return true;
}

}  // namespace

RoleTable::RoleTable() {
  // The administrator holds every permission: nobody grants a role whose permissions they do
  // not all hold (ADR 0007), so the organisation's administrator, who creates reviewers,
  // approvers and auditors, must hold theirs. (Holding users.manage already meant being able to
  // become any user of the organisation through a password reset.)
  std::set<std::string> everything;
  for (const auto& [permission, what] : allPermissions()) everything.insert(permission);
  for (const Role& r : {
           role("admin", "every permission: users, roles, API keys, the organisation's settings",
                everything),
           role("lis-admin", "connectors, destinations, mappings, rules and instrument keys",
                {"roles.read", "apikeys.read", "apikeys.manage", "connectors.read",
                 "destinations.read", "mappings.manage", "rules.manage", "results.read",
                 "diagnostics.read", "messages.read_raw", "uploads.create", "messages.read",
                 "deliveries.resend"}),
           role("qa-reviewer", "reviews held results",
                {"results.read", "results.review", "diagnostics.read"}),
           role("qa-approver", "approves and releases reviewed results",
                {"results.read", "results.approve", "diagnostics.read"}),
           role("auditor", "reads the audit trail and login records",
                {"audit.read", "logins.read"}),
           role("instrument", "uploads exports (for API keys of instruments)", {"uploads.create"}),
           role("viewer", "reads results, state and diagnostics",
                {"results.read", "connectors.read", "destinations.read", "diagnostics.read"}),
       }) {
    roles_[r.name] = r;
  }
}

Status RoleTable::addCustom(const std::map<std::string, std::vector<std::string>>& roles) {
  for (const auto& [name, permissions] : roles) {
    std::string key = "role." + name + ".permissions";
    if (!validRoleName(name)) {
      return Status::config(key, "a role name is 1-64 characters of a-z, 0-9, '-' and '_'");
    }
    auto existing = roles_.find(name);
    if (existing != roles_.end() && existing->second.builtin) {
      return Status::config(key, "\"" + name + "\" is a built-in role and cannot be redefined");
    }
    Role r{name, "custom role (configuration)", {}, false};
    for (const auto& p : permissions) {
      if (!allPermissions().count(p)) {
        return Status::config(key, "unknown permission \"" + p + "\" (see GET /api/v1/roles)");
      }
      r.permissions.insert(p);
    }
    roles_[name] = std::move(r);
  }
  return Status::ok();
}

const Role* RoleTable::find(const std::string& name) const {
  auto it = roles_.find(name);
  return it == roles_.end() ? nullptr : &it->second;
}

std::set<std::string> RoleTable::permissionsOf(const std::vector<std::string>& roleNames) const {
  std::set<std::string> out;
  for (const auto& name : roleNames) {
    if (const Role* r = find(name)) out.insert(r->permissions.begin(), r->permissions.end());
  }
  return out;
}

Status RoleTable::checkKnown(const std::vector<std::string>& roleNames) const {
  for (const auto& name : roleNames) {
    if (!find(name)) return Status::invalid("roles", "unknown role \"" + name + "\"");
  }
  return Status::ok();
}

}  // namespace labgate::api
