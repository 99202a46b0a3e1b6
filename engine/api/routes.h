// The REST API's one table: every endpoint under /api/v1 with the permission it needs. The router
// dispatches only what is listed here, the permission test walks it for every role, and the test
// of docs/openapi.yaml checks that the document and this table agree (x-labgate-permission).
//
// Permission values besides the words of permissions.h:
//   "public"         no credentials (logging in)
//   "authenticated"  any signed-in person or API key
//   "session"        a person's session (not an API key): logging out, one's own password, TOTP
#pragma once

#include <string>
#include <vector>

namespace labgate::api {

struct RouteSpec {
  std::string method;      // GET, POST, PATCH, DELETE
  std::string path;        // "/api/v1/users/{id}": {name} matches one path segment
  std::string permission;  // see above
  std::string summary;
};

inline constexpr const char* kPublic = "public";
inline constexpr const char* kAuthenticated = "authenticated";
inline constexpr const char* kSession = "session";

const std::vector<RouteSpec>& routeTable();

}  // namespace labgate::api
