// docs/openapi.yaml and the engine's route table (engine/api/routes.cpp) must agree: every route of
// the table is documented once with the same method, path, summary and x-labgate-permission, and
// the document describes no /api/v1 operation the engine does not route. The table's permissions
// must be known words that some built-in role holds, and the document's security must match
// docs/api.md (three schemes; public operations need no credentials).
#include "engine/api/routes.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <cctype>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "engine/api/api_impl.h"
#include "engine/api/permissions.h"
#include "engine/api/routes.h"
#include "engine/store/store.h"

namespace labgate::api {
namespace {

const char* const kDocument = LABGATE_SOURCE_DIR "/docs/openapi.yaml";

/// One operation of the document: "GET /api/v1/users" → its node.
struct DocOperation {
  std::string method;
  std::string path;
  YAML::Node node;      // the operation object
  YAML::Node pathItem;  // the path item holding it (for path-level parameters)
};

std::string upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

std::string routeName(const std::string& method, const std::string& path) {
  return method + " " + path;
}

bool isApiPath(const std::string& path) { return path.rfind("/api/v1", 0) == 0; }

/// The document, loaded once (a parse error fails every test that uses it, saying why).
class OpenApiTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    try {
      document_ = new YAML::Node(YAML::LoadFile(kDocument));
    } catch (const YAML::Exception& e) {
      loadError_ = new std::string(std::string(kDocument) + ": " + e.what());
    }
  }
  static void TearDownTestSuite() {
    delete document_;
    document_ = nullptr;
    delete loadError_;
    loadError_ = nullptr;
  }
  void SetUp() override {
    ASSERT_EQ(loadError_, nullptr) << *loadError_;
    ASSERT_TRUE(document_->IsMap()) << kDocument << " is not a YAML mapping";
    ASSERT_TRUE(doc()["paths"].IsMap()) << kDocument << " has no paths";
  }

  static const YAML::Node& doc() { return *document_; }

  /// Every operation of every path (all paths, /health included), in document order.
  static std::vector<DocOperation> operationList() {
    static const std::set<std::string> kMethods = {"get",   "put",  "post",    "delete",
                                                   "patch", "head", "options", "trace"};
    std::vector<DocOperation> out;
    for (const auto& path : doc()["paths"]) {
      const std::string name = path.first.as<std::string>();
      if (!path.second.IsMap()) continue;
      for (const auto& member : path.second) {
        const std::string key = member.first.as<std::string>();
        if (kMethods.count(key)) out.push_back({upper(key), name, member.second, path.second});
      }
    }
    return out;
  }

  /// The same, keyed by "METHOD path".
  static std::map<std::string, DocOperation> operations() {
    std::map<std::string, DocOperation> out;
    for (const auto& op : operationList()) out.emplace(routeName(op.method, op.path), op);
    return out;
  }

  /// A local reference ("#/components/parameters/UserId") resolved; other nodes as they are.
  static YAML::Node resolve(const YAML::Node& node) {
    if (!node.IsMap() || !node["$ref"]) return node;
    const std::string ref = node["$ref"].as<std::string>();
    if (ref.rfind("#/", 0) != 0) return YAML::Node();
    YAML::Node at = doc();  // reset() rebinds the handle; assignment would write into the tree
    size_t start = 2;
    while (start <= ref.size()) {
      size_t slash = ref.find('/', start);
      const std::string part =
          ref.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
      const YAML::Node& current = at;
      if (!current.IsMap() || !current[part]) return YAML::Node();
      at.reset(current[part]);
      if (slash == std::string::npos) break;
      start = slash + 1;
    }
    return at;
  }

  static std::string permissionOf(const DocOperation& op) {
    const YAML::Node p = op.node["x-labgate-permission"];
    return p && p.IsScalar() ? p.as<std::string>() : std::string();
  }

 private:
  static YAML::Node* document_;
  static std::string* loadError_;
};

YAML::Node* OpenApiTest::document_ = nullptr;
std::string* OpenApiTest::loadError_ = nullptr;

TEST(RouteTable, ListsNoRouteTwice) {
  std::map<std::string, int> seen;
  for (const auto& r : routeTable()) ++seen[routeName(r.method, r.path)];
  for (const auto& [route, count] : seen) {
    EXPECT_EQ(count, 1) << route << " is in routeTable() " << count << " times";
  }
}

TEST(RouteTable, EveryRouteIsUnderApiV1WithAKnownMethod) {
  const std::set<std::string> methods = {"GET", "POST", "PATCH", "DELETE"};
  for (const auto& r : routeTable()) {
    EXPECT_TRUE(isApiPath(r.path)) << routeName(r.method, r.path) << " is not under /api/v1";
    EXPECT_TRUE(methods.count(r.method)) << routeName(r.method, r.path) << ": unknown method";
    EXPECT_FALSE(r.summary.empty()) << routeName(r.method, r.path) << " has no summary";
  }
}

TEST(RouteTable, EveryPermissionIsKnown) {
  for (const auto& r : routeTable()) {
    const bool special =
        r.permission == kPublic || r.permission == kAuthenticated || r.permission == kSession;
    EXPECT_TRUE(special || allPermissions().count(r.permission))
        << routeName(r.method, r.path) << " needs \"" << r.permission
        << "\", which is neither public, authenticated, session nor a word of allPermissions()";
  }
}

TEST(RouteTable, EveryPermissionWordIsHeldByABuiltinRole) {
  RoleTable roles;
  std::set<std::string> held;
  for (const auto& entry : roles.roles()) {
    const Role& role = entry.second;
    if (role.builtin) held.insert(role.permissions.begin(), role.permissions.end());
  }
  for (const auto& permission : allPermissions()) {
    EXPECT_TRUE(held.count(permission.first))
        << "no built-in role holds \"" << permission.first << "\"";
  }
  for (const auto& r : routeTable()) {
    if (!allPermissions().count(r.permission)) continue;
    EXPECT_TRUE(held.count(r.permission)) << routeName(r.method, r.path) << " needs \""
                                          << r.permission << "\", which no built-in role holds";
  }
}

TEST_F(OpenApiTest, IsOpenApi303) {
  ASSERT_TRUE(doc()["openapi"]);
  EXPECT_EQ(doc()["openapi"].as<std::string>(), "3.0.3");
  ASSERT_TRUE(doc()["info"]);
  EXPECT_EQ(doc()["info"]["title"].as<std::string>(), "LabGate REST API");
}

TEST_F(OpenApiTest, DocumentsEveryRouteWithItsPermissionAndSummary) {
  const auto ops = operations();
  for (const auto& r : routeTable()) {
    const std::string name = routeName(r.method, r.path);
    auto it = ops.find(name);
    if (it == ops.end()) {
      ADD_FAILURE() << name << " is in routeTable() but not in docs/openapi.yaml";
      continue;
    }
    EXPECT_TRUE(it->second.node["x-labgate-permission"])
        << name << " has no x-labgate-permission in docs/openapi.yaml";
    EXPECT_EQ(permissionOf(it->second), r.permission)
        << name << ": x-labgate-permission differs from routeTable()";
    const YAML::Node summary = it->second.node["summary"];
    EXPECT_TRUE(summary && summary.as<std::string>() == r.summary)
        << name << ": the summary differs from routeTable() (\"" << r.summary << "\")";
  }
}

TEST_F(OpenApiTest, ListsNoOperationTwice) {
  std::map<std::string, int> seen;
  for (const auto& op : operationList()) ++seen[routeName(op.method, op.path)];
  for (const auto& [route, count] : seen) {
    EXPECT_EQ(count, 1) << route << " is in docs/openapi.yaml " << count << " times";
  }
}

TEST_F(OpenApiTest, DocumentsNoOperationTheEngineDoesNotRoute) {
  std::set<std::string> table;
  for (const auto& r : routeTable()) table.insert(routeName(r.method, r.path));
  for (const auto& [name, op] : operations()) {
    if (!isApiPath(op.path)) continue;
    EXPECT_TRUE(table.count(name)) << name << " is in docs/openapi.yaml but not in routeTable()";
  }
}

TEST_F(OpenApiTest, EveryOperationHasAPermissionAndAUniqueOperationId) {
  std::map<std::string, std::string> ids;
  for (const auto& [name, op] : operations()) {
    EXPECT_FALSE(permissionOf(op).empty()) << name << " has no x-labgate-permission";
    const YAML::Node id = op.node["operationId"];
    if (!id) {
      ADD_FAILURE() << name << " has no operationId";
      continue;
    }
    auto [it, inserted] = ids.emplace(id.as<std::string>(), name);
    EXPECT_TRUE(inserted) << name << " and " << it->second << " share the operationId "
                          << it->first;
  }
}

TEST_F(OpenApiTest, OperationsListTheirErrors) {
  for (const auto& [name, op] : operations()) {
    if (!isApiPath(op.path)) continue;
    const YAML::Node responses = op.node["responses"];
    ASSERT_TRUE(responses && responses.IsMap()) << name << " has no responses";
    if (permissionOf(op) != kPublic) {
      EXPECT_TRUE(responses["401"]) << name << " does not list 401";
      EXPECT_TRUE(responses["403"]) << name << " does not list 403";
    }
    if (op.path.find('{') != std::string::npos) {
      EXPECT_TRUE(responses["404"]) << name << " has a path parameter but does not list 404";
    }
  }
}

TEST_F(OpenApiTest, PathParametersAreDeclared) {
  for (const auto& [name, op] : operations()) {
    std::set<std::string> inPath;
    for (size_t open = op.path.find('{'); open != std::string::npos;
         open = op.path.find('{', open + 1)) {
      size_t close = op.path.find('}', open);
      ASSERT_NE(close, std::string::npos) << name << ": unbalanced braces";
      inPath.insert(op.path.substr(open + 1, close - open - 1));
    }
    std::set<std::string> declared;
    for (const YAML::Node& list : {op.pathItem["parameters"], op.node["parameters"]}) {
      if (!list || !list.IsSequence()) continue;
      for (const auto& item : list) {
        const YAML::Node p = resolve(item);
        ASSERT_TRUE(p && p.IsMap()) << name << ": a parameter does not resolve";
        if (p["in"] && p["in"].as<std::string>() == "path") {
          declared.insert(p["name"].as<std::string>());
          EXPECT_TRUE(p["required"] && p["required"].as<bool>())
              << name << ": path parameter " << p["name"].as<std::string>() << " is not required";
        }
      }
    }
    EXPECT_EQ(declared, inPath) << name << ": the declared path parameters differ from the path's";
  }
}

TEST_F(OpenApiTest, PermissionSchemaListsEveryPermission) {
  const YAML::Node values = doc()["components"]["schemas"]["Permission"]["enum"];
  ASSERT_TRUE(values && values.IsSequence()) << "components.schemas.Permission.enum is missing";
  std::set<std::string> documented;
  for (const auto& v : values) documented.insert(v.as<std::string>());
  std::set<std::string> known;
  for (const auto& permission : allPermissions()) known.insert(permission.first);
  EXPECT_EQ(documented, known)
      << "components.schemas.Permission.enum differs from allPermissions()";
}

TEST_F(OpenApiTest, SecuritySchemesAndPublicOperations) {
  const YAML::Node schemes = doc()["components"]["securitySchemes"];
  ASSERT_TRUE(schemes && schemes.IsMap()) << "components.securitySchemes is missing";

  const YAML::Node bearer = schemes["bearerAuth"];
  ASSERT_TRUE(bearer) << "securitySchemes.bearerAuth is missing";
  EXPECT_EQ(bearer["type"].as<std::string>(), "http");
  EXPECT_EQ(bearer["scheme"].as<std::string>(), "bearer");

  const YAML::Node header = schemes["apiKeyHeader"];
  ASSERT_TRUE(header) << "securitySchemes.apiKeyHeader is missing";
  EXPECT_EQ(header["type"].as<std::string>(), "apiKey");
  EXPECT_EQ(header["in"].as<std::string>(), "header");
  EXPECT_EQ(header["name"].as<std::string>(), "X-API-Key");

  const YAML::Node cookie = schemes["sessionCookie"];
  ASSERT_TRUE(cookie) << "securitySchemes.sessionCookie is missing";
  EXPECT_EQ(cookie["type"].as<std::string>(), "apiKey");
  EXPECT_EQ(cookie["in"].as<std::string>(), "cookie");
  EXPECT_EQ(cookie["name"].as<std::string>(), "labgate_session");
  ASSERT_TRUE(cookie["description"]);
  EXPECT_NE(cookie["description"].as<std::string>().find("X-CSRF-Token"), std::string::npos)
      << "sessionCookie's description does not state the X-CSRF-Token rule";

  // Global security: any one of the three schemes.
  const YAML::Node global = doc()["security"];
  ASSERT_TRUE(global && global.IsSequence()) << "the document has no global security";
  std::set<std::string> alternatives;
  for (const auto& requirement : global) {
    ASSERT_TRUE(requirement.IsMap());
    EXPECT_EQ(requirement.size(), 1u) << "each global security alternative names one scheme";
    for (const auto& scheme : requirement) alternatives.insert(scheme.first.as<std::string>());
  }
  EXPECT_EQ(alternatives, (std::set<std::string>{"bearerAuth", "apiKeyHeader", "sessionCookie"}));

  // Public operations (the table's "public", and /health) need no credentials; no other does.
  const auto ops = operations();
  for (const auto& [name, op] : ops) {
    const YAML::Node security = op.node["security"];
    const bool open = security && security.IsSequence() && security.size() == 0;
    if (permissionOf(op) == kPublic) {
      EXPECT_TRUE(open) << name << " is public but does not say security: []";
    } else {
      EXPECT_FALSE(open) << name << " says security: [] but needs " << permissionOf(op);
    }
  }
  auto health = ops.find("GET /health");
  ASSERT_NE(health, ops.end()) << "GET /health is not in docs/openapi.yaml";
  EXPECT_EQ(permissionOf(health->second), kPublic);
}

// The API's times (?since=, ?until=, session and key expiry) and the store's (queue ages) are read
// by the one parser, util/iso8601.h: both former parsers now accept and refuse the same inputs
// (before, the store's refused a date alone and times without seconds that the API accepted).
TEST(IsoTimes, ApiAndStoreAcceptAndRefuseTheSameInputs) {
  const std::vector<std::pair<std::string, std::optional<int64_t>>> cases = {
      {"2026-11-24", 1795478400000},
      {"2026-11-24T08:00Z", 1795507200000},
      {"2026-11-24T08:00:00.123Z", 1795507200123},
      {"2026-11-24T09:00:00+01:00", 1795507200000},
      {"2026-11-24T08:00:00", 1795507200000},
      {"notadate", std::nullopt},
      {"2026-11-24 08:00:00Z", std::nullopt},
      {"2026-02-30T08:00:00Z", std::nullopt},
      {"2026-11-24T08:00:00.Z", std::nullopt},
      {"2026-11-24T08:00:00+0100", std::nullopt},
      {"", std::nullopt},
  };
  for (const auto& [text, expected] : cases) {
    EXPECT_EQ(parseIso(text), expected) << text;
    EXPECT_EQ(isoToUnixMillis(text), expected) << text;
  }
  EXPECT_EQ(isoAt(1795507200123), "2026-11-24T08:00:00.123Z");
  EXPECT_EQ(parseIso(isoNow()).has_value(), true);
}

}  // namespace
}  // namespace labgate::api
