// Permissions and roles. A permission is a word such as "users.manage"; a role is a named set of
// permissions. The built-in roles are below; a deployment adds its own in the configuration
// (role.NAME.permissions = a, b, c), and may not redefine a built-in one. People and API keys
// hold roles; what they may do is the union of their roles' permissions.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "engine/model/status.h"

namespace labgate::api {

/// Every permission the API knows, with what it allows (for GET /api/v1/roles and the docs).
const std::map<std::string, std::string>& allPermissions();

struct Role {
  std::string name;
  std::string description;
  std::set<std::string> permissions;
  bool builtin = false;
};

class RoleTable {
 public:
  /// The built-in roles: admin, lis-admin, qa-reviewer, qa-approver, auditor, instrument, viewer.
  RoleTable();
  /// Adds custom roles from configuration: name → permission list. Unknown permissions, a name
  /// that redefines a built-in role, or a bad name are Status::config naming the key.
  Status addCustom(const std::map<std::string, std::vector<std::string>>& roles);

  const Role* find(const std::string& name) const;
  const std::map<std::string, Role>& roles() const { return roles_; }
  /// The union of the named roles' permissions (unknown names contribute nothing).
  std::set<std::string> permissionsOf(const std::vector<std::string>& roleNames) const;
  /// Every name in `roleNames` is a known role.
  Status checkKnown(const std::vector<std::string>& roleNames) const;

 private:
  std::map<std::string, Role> roles_;
};

}  // namespace labgate::api
