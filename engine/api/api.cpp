// The API's core: routing, authentication, the permission check, logging in and out, and the
// helpers the resource files share (see api.h and api_impl.h).
#include <Poco/DateTime.h>
#include <Poco/DateTimeFormat.h>
#include <Poco/DateTimeFormatter.h>
#include <Poco/DateTimeParser.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Logger.h>
#include <Poco/Net/HTTPCookie.h>
#include <Poco/Net/NameValueCollection.h>
#include <Poco/StreamCopier.h>
#include <Poco/String.h>
#include <Poco/Timestamp.h>
#include <Poco/URI.h>
#include <fmt/format.h>

#include <cctype>
#include <chrono>
#include <sstream>

#include "engine/api/api_impl.h"
#include "engine/log/log.h"
#include "engine/metrics/metrics.h"
#include "engine/net/interfaces.h"
#include "engine/security/crypto.h"
#include "engine/security/totp.h"
#include "util/iso8601.h"

namespace labgate::api {
namespace {

Poco::Logger& logger() { return Poco::Logger::get("api"); }

constexpr const char* kSessionCookie = "labgate_session";
constexpr const char* kBadCredentials = "the organisation, user name or password is wrong";
constexpr size_t kMaxBody = 1 << 20;

std::vector<std::string> segmentsOf(const std::string& path) {
  std::vector<std::string> out;
  std::string current;
  for (size_t i = 1; i <= path.size(); ++i) {
    if (i == path.size() || path[i] == '/') {
      out.push_back(current);
      current.clear();
    } else {
      current += path[i];
    }
  }
  return out;
}

std::string clip(const std::string& text, size_t limit) {
  return text.size() <= limit ? text : text.substr(0, limit);
}

/// The routes a restricted session may still call.
bool allowedWhileRestricted(const RouteSpec& route) {
  return route.permission == std::string(kSession) ||
         (route.method == "GET" && route.path == "/api/v1/me");
}

/// The address the login throttle counts: the peer, or for IPv6 its /64 (one host usually holds
/// a whole /64, and must not get a fresh count per address).
std::string throttleSource(const Call& call) {
  Poco::Net::IPAddress peer = call.request.clientAddress().host();
  if (peer.family() == Poco::Net::IPAddress::IPv6 && !peer.isIPv4Mapped()) {
    peer = peer & Poco::Net::IPAddress(64, Poco::Net::IPAddress::IPv6);
    return peer.toString() + "/64";
  }
  return peer.toString();
}

/// Marks one evaluation of an account in flight for the life of the scope.
class Evaluation {
 public:
  Evaluation(security::LoginThrottle& throttle, std::string account)
      : throttle_(throttle), account_(std::move(account)) {
    others_ = throttle_.beginEvaluation(account_);
  }
  ~Evaluation() { throttle_.endEvaluation(account_); }
  Evaluation(const Evaluation&) = delete;
  Evaluation& operator=(const Evaluation&) = delete;
  int64_t others() const { return others_; }

 private:
  security::LoginThrottle& throttle_;
  std::string account_;
  int64_t others_ = 0;
};

/// "application/json", with or without parameters (charset), in any letter case.
bool isJsonMediaType(const std::string& contentType) {
  std::string type = Poco::toLower(Poco::trim(contentType.substr(0, contentType.find(';'))));
  return type == "application/json";
}

/// A refused attempt the store could not record: logged, and the caller is answered 503 instead
/// of the refusal. The lockout and the login list depend on these records, so a refusal that left
/// none must not pass for an ordinary one.
[[noreturn]] void unrecorded(const LoginRecord& record, const Status& why) {
  logError(logger(),
           "SECURITY: a refused login ({}, {}) for {}/{} from {} could not be recorded: {}; "
           "answered 503. Check the database (disk space, permissions of data.dir).",
           record.outcome, record.method, record.orgId, record.username, record.peer,
           why.toString());
  fail(HttpStatus::HTTP_SERVICE_UNAVAILABLE,
       "the refused attempt could not be recorded; try again later");
}

/// Records a refusal that does not count towards the lockout, or answers 503 (unrecorded()).
void recordRefusal(AccountStore& accounts, const LoginRecord& record) {
  Status recorded = accounts.recordLoginRefused(record);
  if (!recorded.isOk()) unrecorded(record, recorded);
}

/// Ends the session a request was refused on (timed out, user disabled). The request is refused
/// either way: a session that could not be marked ended fails the same checks at its next use.
void endRefusedSession(AccountStore& accounts, const SessionRecord& session,
                       const std::string& reason) {
  Status ended = accounts.endSession(session.id, reason);
  if (!ended.isOk()) {
    logError(logger(),
             "session {} of organisation {} is over ({}) but could not be marked ended: {}; it "
             "is refused all the same",
             session.id, session.orgId, reason, ended.toString());
  }
}

}  // namespace

// ---- helpers --------------------------------------------------------------------------------

std::string Principal::actor() const {
  if (kind == Kind::kApiKey && key) return "apikey:" + std::to_string(key->id);
  return user ? "user:" + user->username : "unknown";
}

void fail(HttpStatus status, const std::string& detail, Object::Ptr extra) {
  throw ApiError{status, detail, std::move(extra)};
}

void refuseUnknownQuery(const Call& call, const std::set<std::string>& known,
                        const std::string& names) {
  for (const auto& [name, value] : call.query) {
    if (known.count(name) == 0) {
      std::string detail = "unknown query parameter \"";
      detail.append(name).append("\" (known: ").append(names).append(")");
      fail(HttpStatus::HTTP_BAD_REQUEST, detail);
    }
  }
}

bool Call::hasBody() const {
  return body_ || request.getChunkedTransferEncoding() ||
         (request.hasContentLength() && request.getContentLength64() > 0);
}

Object::Ptr Call::body() {
  if (body_) return body_;
  if (hasBody() && !isJsonMediaType(request.get("Content-Type", ""))) {
    fail(HttpStatus::HTTP_UNSUPPORTEDMEDIATYPE,
         "the body must be JSON sent as Content-Type: application/json");
  }
  if (request.hasContentLength() && request.getContentLength64() > static_cast<int64_t>(kMaxBody)) {
    fail(HttpStatus::HTTP_REQUESTENTITYTOOLARGE, "the body is over 1 MiB");
  }
  limitRequestBodyTime(static_cast<int64_t>(kMaxBody));
  std::string text;
  std::istream& in = request.stream();
  char buffer[8192];
  while (in) {
    in.read(buffer, sizeof buffer);
    text.append(buffer, static_cast<size_t>(in.gcount()));
    if (text.size() > kMaxBody)
      fail(HttpStatus::HTTP_REQUESTENTITYTOOLARGE, "the body is over 1 MiB");
  }
  requestBodyRead();
  if (text.find_first_not_of(" \t\r\n") == std::string::npos) {
    fail(HttpStatus::HTTP_BAD_REQUEST, "a JSON object is required as the body");
  }
  try {
    Poco::JSON::Parser parser;
    Poco::Dynamic::Var parsed = parser.parse(text);
    if (parsed.type() != typeid(Object::Ptr)) {
      fail(HttpStatus::HTTP_BAD_REQUEST, "the body must be a JSON object");
    }
    body_ = parsed.extract<Object::Ptr>();
  } catch (const Poco::Exception&) {
    fail(HttpStatus::HTTP_BAD_REQUEST, "the body is not valid JSON");
  }
  return body_;
}

std::string Call::rawBody(size_t maxBytes) {
  const std::string tooLarge = "the body is over " + std::to_string(maxBytes) + " bytes";
  if (request.hasContentLength() && request.getContentLength64() > static_cast<int64_t>(maxBytes)) {
    fail(HttpStatus::HTTP_REQUESTENTITYTOOLARGE, tooLarge);
  }
  limitRequestBodyTime(static_cast<int64_t>(maxBytes));
  std::string text;
  std::istream& in = request.stream();
  char buffer[8192];
  while (in) {
    in.read(buffer, sizeof buffer);
    text.append(buffer, static_cast<size_t>(in.gcount()));
    if (text.size() > maxBytes) fail(HttpStatus::HTTP_REQUESTENTITYTOOLARGE, tooLarge);
  }
  requestBodyRead();
  return text;
}

int64_t Call::idParam(const std::string& name) const {
  auto it = params.find(name);
  const std::string& text = it == params.end() ? std::string() : it->second;
  if (text.empty() || text.size() > 18 ||
      text.find_first_not_of("0123456789") != std::string::npos) {
    fail(HttpStatus::HTTP_NOT_FOUND, "no such resource");
  }
  return std::stoll(text);
}

std::string Call::peer() const { return request.clientAddress().host().toString(); }

std::string Call::userAgent() const { return clip(request.get("User-Agent", ""), 256); }

std::optional<std::string> optString(const Object::Ptr& body, const std::string& name) {
  if (!body->has(name) || body->isNull(name)) return std::nullopt;
  Poco::Dynamic::Var v = body->get(name);
  if (!v.isString()) fail(HttpStatus::HTTP_BAD_REQUEST, "\"" + name + "\" must be a string");
  return v.extract<std::string>();
}

std::string needString(const Object::Ptr& body, const std::string& name) {
  std::optional<std::string> v = optString(body, name);
  if (!v) fail(HttpStatus::HTTP_BAD_REQUEST, "\"" + name + "\" is required");
  return *v;
}

std::optional<bool> optBool(const Object::Ptr& body, const std::string& name) {
  if (!body->has(name) || body->isNull(name)) return std::nullopt;
  Poco::Dynamic::Var v = body->get(name);
  if (!v.isBoolean()) fail(HttpStatus::HTTP_BAD_REQUEST, "\"" + name + "\" must be true or false");
  return v.extract<bool>();
}

std::optional<int64_t> optInt(const Object::Ptr& body, const std::string& name) {
  if (!body->has(name) || body->isNull(name)) return std::nullopt;
  Poco::Dynamic::Var v = body->get(name);
  if (!v.isInteger()) fail(HttpStatus::HTTP_BAD_REQUEST, "\"" + name + "\" must be an integer");
  return v.convert<int64_t>();
}

std::optional<std::vector<std::string>> optStrings(const Object::Ptr& body,
                                                   const std::string& name) {
  if (!body->has(name) || body->isNull(name)) return std::nullopt;
  Array::Ptr array = body->getArray(name);
  if (!array) fail(HttpStatus::HTTP_BAD_REQUEST, "\"" + name + "\" must be an array of strings");
  std::vector<std::string> out;
  for (size_t i = 0; i < array->size(); ++i) {
    Poco::Dynamic::Var v = array->get(static_cast<unsigned>(i));
    if (!v.isString())
      fail(HttpStatus::HTTP_BAD_REQUEST, "\"" + name + "\" must be an array of strings");
    out.push_back(v.extract<std::string>());
  }
  return out;
}

int64_t unixMillisNow() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string isoAt(int64_t unixMillis) { return util::formatIso8601(unixMillis); }

/// The one ISO-8601 parser (util/iso8601.h documents what it accepts), also for stored times.
std::optional<int64_t> parseIso(const std::string& text) { return util::parseIso8601(text); }

std::string isoQuery(const Call& call, const std::string& name) {
  auto it = call.query.find(name);
  if (it == call.query.end() || it->second.empty()) return "";
  std::optional<int64_t> at = parseIso(it->second);
  if (!at) {
    Object::Ptr extra = new Object;
    extra->set("parameter", name);
    fail(HttpStatus::HTTP_BAD_REQUEST,
         "?" + name + "= must be an ISO-8601 time such as 2026-11-24T08:00:00Z", extra);
  }
  return isoAt(*at);
}

PageRequest pageOf(const Call& call) {
  PageRequest page;
  auto number = [&](const std::string& name, int64_t low, int64_t high, int64_t& out) {
    auto it = call.query.find(name);
    if (it == call.query.end()) return;
    Status s = parseInteger("?" + name, it->second, low, high, out);
    if (!s.isOk()) fail(HttpStatus::HTTP_BAD_REQUEST, s.toString());
  };
  int64_t limit = 50, before = 0;
  number("limit", 1, 500, limit);
  number("before", 1, INT64_MAX, before);
  page.limit = static_cast<size_t>(limit);
  page.before = before;
  return page;
}

void sendItems(Call& call, const Array::Ptr& items) {
  Object::Ptr out = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
  out->set("items", items);
  out->set("next", Poco::Dynamic::Var());
  sendJson(call.response, HttpStatus::HTTP_OK, out);
}

void sendPage(Call& call, const Array::Ptr& items, std::optional<int64_t> next) {
  Object::Ptr out = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
  out->set("items", items);
  if (next) {
    Poco::URI uri(call.request.getURI());
    Poco::URI link(uri.getPath());
    for (const auto& [name, value] : call.query) {
      if (name != "before") link.addQueryParameter(name, value);
    }
    link.addQueryParameter("before", std::to_string(*next));
    out->set("next", link.toString());
  } else {
    out->set("next", Poco::Dynamic::Var());
  }
  sendJson(call.response, HttpStatus::HTTP_OK, out);
}

namespace {
Poco::Dynamic::Var orNull(const std::string& text) {
  return text.empty() ? Poco::Dynamic::Var() : Poco::Dynamic::Var(text);
}
Array::Ptr arrayOf(const std::vector<std::string>& items) {
  Array::Ptr out = new Array;
  for (const auto& i : items) out->add(i);
  return out;
}
}  // namespace

Object::Ptr userJson(const User& u) {
  Object::Ptr o = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
  o->set("id", u.id);
  o->set("org", u.orgId);
  o->set("username", u.username);
  o->set("printed_name", u.printedName);
  o->set("roles", arrayOf(u.roles));
  o->set("disabled", u.disabled);
  std::optional<int64_t> until = parseIso(u.lockedUntil);
  bool locked = until && *until > unixMillisNow();
  o->set("locked", locked);
  o->set("locked_until", locked ? Poco::Dynamic::Var(u.lockedUntil) : Poco::Dynamic::Var());
  o->set("totp_enabled", u.totpEnabled);
  o->set("password_change_required", u.mustChangePassword);
  o->set("created_at", u.createdAt);
  o->set("last_login_at", orNull(u.lastLoginAt));
  o->set("password_changed_at", u.passwordChangedAt);
  return o;
}

Object::Ptr organisationJson(const Organisation& org) {
  Object::Ptr o = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
  o->set("id", org.id);
  o->set("name", org.name);
  o->set("password_expiry_days", org.passwordExpiryDays);
  o->set("mfa_required", org.mfaRequired);
  o->set("ip_allowlist", arrayOf(org.ipAllowList));
  o->set("created_at", org.createdAt);
  return o;
}

Object::Ptr apiKeyJson(const ApiKeyRecord& k) {
  Object::Ptr o = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
  o->set("id", k.id);
  o->set("name", k.name);
  o->set("prefix", k.prefix);
  o->set("roles", arrayOf(k.roles));
  o->set("connector", orNull(k.connector));
  o->set("created_by", k.createdBy);
  o->set("created_at", k.createdAt);
  o->set("expires_at", orNull(k.expiresAt));
  o->set("last_used_at", orNull(k.lastUsedAt));
  o->set("revoked_at", orNull(k.revokedAt));
  std::optional<int64_t> expires = parseIso(k.expiresAt);
  o->set("state", !k.revokedAt.empty()                     ? "revoked"
                  : expires && *expires <= unixMillisNow() ? "expired"
                                                           : "active");
  return o;
}

Object::Ptr roleJson(const Role& r) {
  Object::Ptr o = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
  o->set("name", r.name);
  o->set("description", r.description);
  o->set("builtin", r.builtin);
  o->set("permissions",
         arrayOf(std::vector<std::string>(r.permissions.begin(), r.permissions.end())));
  return o;
}

// ---- Api --------------------------------------------------------------------------------------

StatusOr<std::unique_ptr<Api>> Api::create(std::shared_ptr<Store> store, SecuritySettings settings,
                                           const EngineView& engine, const WallClock& clock) {
  StatusOr<security::PasswordPolicy> policy = security::PasswordPolicy::load(
      static_cast<size_t>(settings.minPasswordLength), settings.blocklistPath);
  if (!policy.isOk()) {
    return Status::config("security.password.blocklist", policy.status().toString());
  }
  RoleTable roles;
  Status custom = roles.addCustom(settings.customRoles);
  if (!custom.isOk()) return custom;
  auto impl = std::make_unique<Impl>(std::move(store), std::move(settings), engine,
                                     std::move(policy).value(), std::move(roles), clock);
  return std::unique_ptr<Api>(new Api(std::move(impl)));
}

Api::Api(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Api::~Api() = default;
Status Api::bootstrap(const char* adminPassword) { return impl_->bootstrap(adminPassword); }
bool Api::handles(const std::string& path) { return path.rfind("/api/v1/", 0) == 0; }
void Api::handle(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response) {
  impl_->handle(request, response);
}

Api::Impl::Impl(std::shared_ptr<Store> storeIn, SecuritySettings settingsIn,
                const EngineView& engineIn, security::PasswordPolicy policyIn, RoleTable rolesIn,
                const WallClock& clockIn)
    : store(storeIn),
      accounts(storeIn),
      signatures(storeIn),
      mappingSets(storeIn),
      settings(std::move(settingsIn)),
      engine(engineIn),
      clock(clockIn),
      policy(std::move(policyIn)),
      hasher(settings.argon2),
      roles(std::move(rolesIn)),
      throttle(settings.throttle) {
  registerSessionRoutes();
  registerAccountRoutes();
  registerDataRoutes();
  registerBackupRoutes();
  registerMessageRoutes();
  registerAuditVerificationRoutes();
  registerBatchRoutes();
  registerSignatureRoutes();
  registerMappingSetRoutes();
  registerReevaluationRoutes();
  registerHealthRoutes();
  registerConsoleRoutes();
  // Every route of the table has a handler, and nothing else is served.
  for (const RouteSpec& spec : routeTable()) {
    bool bound = false;
    for (const auto& b : routes_) bound = bound || b.spec == &spec;
    if (!bound) throw std::logic_error("no handler for " + spec.method + " " + spec.path);
  }
}

void Api::Impl::on(const std::string& method, const std::string& path, Handler handler) {
  for (const RouteSpec& spec : routeTable()) {
    if (spec.method == method && spec.path == path) {
      routes_.push_back(Bound{&spec, segmentsOf(path), std::move(handler)});
      return;
    }
  }
  throw std::logic_error("route not in the table: " + method + " " + path);
}

Status Api::Impl::bootstrap(const char* adminPassword) {
  if (accounts.hasUsers()) return Status::ok();
  const std::string key = "LABGATE_ADMIN_PASSWORD";
  if (adminPassword == nullptr || *adminPassword == '\0') {
    return Status::config(key,
                          "the store has no user yet: set the environment variable "
                          "LABGATE_ADMIN_PASSWORD to create the first administrator (user "
                          "\"admin\" of organisation \"default\") and start again");
  }
  Status strong = policy.check(adminPassword, "admin", "default");
  if (!strong.isOk())
    return Status::config(key, "refused by the password policy: " + strong.reason());
  const std::string now = isoAt(clock.nowMillis());
  Organisation org;
  org.id = "default";
  org.name = "Default organisation";
  org.createdAt = now;
  User admin;
  admin.orgId = "default";
  admin.username = "admin";
  admin.printedName = "Administrator";
  admin.roles = {"admin"};
  admin.passwordHash = hasher.hash(adminPassword);
  admin.passwordChangedAt = now;
  admin.createdAt = now;
  Status made = accounts.bootstrap(org, admin);
  if (!made.isOk()) return made;
  logNotice(logger(),
            "first start: created organisation \"default\" and its administrator \"admin\"");
  return Status::ok();
}

void Api::Impl::handle(Poco::Net::HTTPServerRequest& request,
                       Poco::Net::HTTPServerResponse& response) {
  Poco::URI uri(request.getURI());
  const std::string& path = uri.getPath();
  std::vector<std::string> segments = segmentsOf(path);
  const Bound* match = nullptr;
  std::map<std::string, std::string> params;
  std::string allow;
  for (const auto& b : routes_) {
    if (b.segments.size() != segments.size()) continue;
    std::map<std::string, std::string> found;
    bool same = true;
    for (size_t i = 0; i < segments.size() && same; ++i) {
      const std::string& t = b.segments[i];
      if (t.size() > 2 && t.front() == '{' && t.back() == '}') {
        if (segments[i].empty()) same = false;
        found[t.substr(1, t.size() - 2)] = segments[i];
      } else {
        same = t == segments[i];
      }
    }
    if (!same) continue;
    if (b.spec->method == request.getMethod()) {
      match = &b;
      params = std::move(found);
      break;
    }
    allow += (allow.empty() ? "" : ", ") + b.spec->method;
  }
  if (!match) {
    if (!allow.empty()) {
      response.set("Allow", allow);
      sendProblem(response, HttpStatus::HTTP_METHOD_NOT_ALLOWED, "Method Not Allowed",
                  path + " answers " + allow);
    } else {
      sendProblem(response, HttpStatus::HTTP_NOT_FOUND, "Not Found", "no resource at " + path);
    }
    return;
  }
  Call call(request, response, *match->spec, std::move(params));
  for (const auto& [name, value] : uri.getQueryParameters()) call.query[name] = value;
  response.set("Cache-Control", "no-store");
  try {
    const RouteSpec& route = *match->spec;
    if (route.permission != std::string(kPublic)) {
      if (route.path == "/api/v1/uploads") checkUploadAddress(call);
      if (!authenticate(call)) return;
      const Principal& p = call.principal;
      if (!p.restriction.empty() && !allowedWhileRestricted(route)) {
        Object::Ptr extra = new Object;
        extra->set("restriction", p.restriction);
        fail(HttpStatus::HTTP_FORBIDDEN,
             p.restriction == "password_change"
                 ? "change your password first (POST /api/v1/me/password)"
                 : "your organisation requires a second factor: enrol TOTP first (POST "
                   "/api/v1/me/totp)",
             extra);
      }
      if (route.permission == std::string(kSession)) {
        if (p.kind != Principal::Kind::kUser) {
          fail(HttpStatus::HTTP_FORBIDDEN,
               "this endpoint is for a person's session, not an API key");
        }
      } else if (route.permission != std::string(kAuthenticated) &&
                 !p.permissions.count(route.permission)) {
        fail(HttpStatus::HTTP_FORBIDDEN, "the permission \"" + route.permission + "\" is required");
      }
    }
    match->handler(call);
  } catch (const ApiError& e) {
    auditRefusal(call, e);
    if (response.sent()) return;
    if (e.status == HttpStatus::HTTP_UNAUTHORIZED) {
      response.set("WWW-Authenticate", "Bearer realm=\"labgate\"");
    }
    sendProblem(response, e.status, Poco::Net::HTTPResponse::getReasonForStatus(e.status), e.detail,
                e.extra);
  }
}

// ---- authentication ---------------------------------------------------------------------------

bool Api::Impl::authenticate(Call& call) {
  const auto& request = call.request;
  std::string auth = request.get("Authorization", "");
  if (!auth.empty()) {
    if (Poco::icompare(auth.substr(0, 7), "Bearer ") != 0) {
      fail(HttpStatus::HTTP_UNAUTHORIZED, "Authorization must be \"Bearer TOKEN\"");
    }
    std::string token = Poco::trim(auth.substr(7));
    if (token.rfind("lgk_", 0) == 0) return authenticateKey(call, token);
    return authenticateSession(call, token, false);
  }
  if (request.has("X-API-Key")) return authenticateKey(call, Poco::trim(request.get("X-API-Key")));
  Poco::Net::NameValueCollection cookies;
  request.getCookies(cookies);
  if (cookies.has(kSessionCookie))
    return authenticateSession(call, cookies.get(kSessionCookie), true);
  fail(HttpStatus::HTTP_UNAUTHORIZED,
       "credentials are required: Authorization: Bearer TOKEN (a session or an API key), "
       "X-API-Key, or the console's session cookie");
}

std::shared_ptr<const OrganisationGrant> Api::Impl::readOrganisationGrant(
    const std::string& orgId) {
  std::optional<Organisation> org = accounts.organisation(orgId);
  if (!org) return nullptr;
  auto grant = std::make_shared<OrganisationGrant>();
  grant->org = std::move(*org);
  if (grant->org.ipAllowList.empty()) {
    grant->allow = security::AllowList();
  } else if (StatusOr<security::AllowList> list =
                 security::AllowList::parse(grant->org.ipAllowList);
             list.isOk()) {
    grant->allow = std::move(list).value();
  }
  return grant;
}

std::shared_ptr<const SessionGrant> Api::Impl::readSessionGrant(const std::string& digest,
                                                                uint64_t generation) {
  std::optional<SessionRecord> session = accounts.sessionByToken(digest);
  if (!session)
    fail(HttpStatus::HTTP_UNAUTHORIZED, "the session has ended or is unknown: log in again");
  auto grant = std::make_shared<SessionGrant>();
  grant->generation = generation;
  grant->lastSeenMillis = parseIso(session->lastSeenAt);
  grant->expiresMillis = parseIso(session->expiresAt);
  if (std::optional<User> user = accounts.user(session->orgId, session->userId)) {
    grant->permissions = PermissionSet(roles.permissionsOf(user->roles));
    grant->user = std::make_shared<const User>(std::move(*user));
  }
  grant->org = readOrganisationGrant(session->orgId);
  grant->session = std::make_shared<const SessionRecord>(std::move(*session));
  return grant;
}

bool Api::Impl::authenticateSession(Call& call, const std::string& token, bool viaCookie) {
  // The session, its user and organisation come from the cache while no account write has
  // committed since they were read (ADR 0020); the checks below run on every request.
  const std::string digest = security::tokenDigest(token);
  const uint64_t generation = accounts.generation();
  std::shared_ptr<const SessionGrant> grant = authCache.session(digest, generation);
  const bool cached = grant != nullptr;
  if (!cached) grant = readSessionGrant(digest, generation);
  const SessionRecord& session = *grant->session;
  const int64_t now = clock.nowMillis();
  const std::optional<int64_t>& lastSeen = grant->lastSeenMillis;
  if (!lastSeen || now - *lastSeen > settings.idleSeconds * 1000) {
    endRefusedSession(accounts, session, "idle timeout");
    fail(HttpStatus::HTTP_UNAUTHORIZED, "the session ended after " +
                                            std::to_string(settings.idleSeconds) +
                                            " s without use: log in again");
  }
  if (!grant->expiresMillis || now >= *grant->expiresMillis) {
    endRefusedSession(accounts, session, "absolute timeout");
    fail(HttpStatus::HTTP_UNAUTHORIZED, "the session reached its time limit: log in again");
  }
  if (!grant->user || grant->user->disabled) {
    endRefusedSession(accounts, session, "user disabled");
    fail(HttpStatus::HTTP_UNAUTHORIZED, "the session has ended or is unknown: log in again");
  }
  if (!grant->org)
    fail(HttpStatus::HTTP_UNAUTHORIZED, "the session has ended or is unknown: log in again");
  // Kept before the request's own checks (address, CSRF): they depend on the request, not on it.
  if (!cached) authCache.keep(digest, grant);
  const User& user = *grant->user;
  if (!addressAllowed(call, *grant->org, user.username)) return false;
  const std::string& method = call.request.getMethod();
  if (viaCookie && method != "GET" && method != "HEAD") {
    std::string csrf = call.request.get("X-CSRF-Token", "");
    if (csrf.empty() || session.csrfSha256.empty() ||
        !security::constantTimeEquals(security::tokenDigest(csrf), session.csrfSha256)) {
      fail(HttpStatus::HTTP_FORBIDDEN,
           "a request authenticated by the session cookie must carry the session's "
           "X-CSRF-Token header");
    }
  }
  // Record activity, but not on every request: the idle timeout loses at most a tenth. The touch
  // does not move the accounts generation: the cached grant is replaced by one with the new time.
  if (now - *lastSeen > std::min<int64_t>(30000, settings.idleSeconds * 100)) {
    const std::string at = isoAt(now);
    // A touch that fails only lets the idle timeout end the session sooner.
    if (accounts.touchSession(session.id, at).isOk()) {
      auto touched = std::make_shared<SessionGrant>(*grant);
      auto record = std::make_shared<SessionRecord>(session);
      record->lastSeenAt = at;
      touched->session = std::move(record);
      touched->lastSeenMillis = now;
      authCache.keep(digest, std::move(touched));
    }
  }
  Principal& p = call.principal;
  p.kind = Principal::Kind::kUser;
  p.orgId = session.orgId;
  p.roles = user.roles;
  p.permissions = grant->permissions;
  p.restriction = restrictionOf(user, grant->org->org);
  p.viaCookie = viaCookie;
  p.user = grant->user;
  p.session = grant->session;
  return true;
}

bool Api::Impl::authenticateKey(Call& call, const std::string& key) {
  const std::string digest = security::tokenDigest(key);
  const uint64_t generation = accounts.generation();
  const int64_t now = clock.nowMillis();
  std::shared_ptr<const KeyGrant> grant = authCache.key(digest, generation);
  // An expired key is judged (and its refusal recorded) by the path below, from the store.
  if (grant && grant->expiresMillis && *grant->expiresMillis <= now) {
    authCache.forget(digest);
    grant.reset();
  }
  if (!grant) {
    std::optional<ApiKeyRecord> record = accounts.apiKeyByDigest(digest);
    std::string refusal;
    if (!record) {
      refusal = "the API key is not known";
    } else if (!record->revokedAt.empty()) {
      refusal = "the API key was revoked";
    } else if (std::optional<int64_t> expires = parseIso(record->expiresAt);
               expires && *expires <= now) {
      refusal = "the API key has expired";
    }
    std::string outcome;
    if (refusal.empty() && record) {
      // A key stops working with its creator: a disabled user's keys (revoked with the user since
      // issue 18; this also covers keys of users disabled before) and keys made by a revoked key.
      const std::string& by = record->createdBy;
      if (by.rfind("user:", 0) == 0) {
        std::optional<User> creator = accounts.userByName(record->orgId, by.substr(5));
        if (creator && creator->disabled) {
          refusal = "the API key's creator is disabled: the key no longer works";
        }
      } else if (by.rfind("apikey:", 0) == 0) {
        int64_t parent = 0;
        if (parseInteger("created_by", by.substr(7), 1, INT64_MAX, parent).isOk()) {
          std::optional<ApiKeyRecord> maker = accounts.apiKey(record->orgId, parent);
          if (maker && !maker->revokedAt.empty()) {
            refusal = "the API key that created this key was revoked: the key no longer works";
          }
        }
      }
      if (!refusal.empty()) outcome = "creator_disabled";
    }
    if (!refusal.empty()) {
      LoginRecord r;
      r.at = isoAt(now);
      r.orgId = record ? record->orgId : "";
      r.username = record ? "apikey:" + record->prefix : "apikey";
      r.method = "api_key";
      r.peer = call.peer();
      r.userAgent = call.userAgent();
      r.outcome = !outcome.empty()             ? outcome
                  : !record                    ? "bad_key"
                  : !record->revokedAt.empty() ? "revoked_key"
                                               : "expired_key";
      metrics::logins().inc({r.outcome});
      recordRefusal(accounts, r);
      fail(HttpStatus::HTTP_UNAUTHORIZED, refusal);
    }
    std::shared_ptr<const OrganisationGrant> org = readOrganisationGrant(record->orgId);
    if (!org) fail(HttpStatus::HTTP_UNAUTHORIZED, "the API key is not known");
    auto made = std::make_shared<KeyGrant>();
    made->generation = generation;
    made->org = std::move(org);
    made->permissions = PermissionSet(roles.permissionsOf(record->roles));
    made->lastUsedMillis = parseIso(record->lastUsedAt);
    made->expiresMillis = parseIso(record->expiresAt);
    made->key = std::make_shared<const ApiKeyRecord>(std::move(*record));
    grant = std::move(made);
    authCache.keep(digest, grant);
  }
  const ApiKeyRecord& record = *grant->key;
  if (!addressAllowed(call, *grant->org, "apikey:" + record.prefix)) return false;
  // last_used_at is information only: written at most once a minute, and a touch that fails is
  // tried at the next use. The touch does not move the accounts generation (see the session's).
  if (!grant->lastUsedMillis || now - *grant->lastUsedMillis > 60000) {
    const std::string at = isoAt(now);
    if (accounts.touchApiKey(record.id, at).isOk()) {
      auto touched = std::make_shared<KeyGrant>(*grant);
      auto used = std::make_shared<ApiKeyRecord>(record);
      used->lastUsedAt = at;
      touched->key = std::move(used);
      touched->lastUsedMillis = now;
      authCache.keep(digest, std::move(touched));
    }
  }
  Principal& p = call.principal;
  p.kind = Principal::Kind::kApiKey;
  p.orgId = record.orgId;
  p.roles = record.roles;
  p.permissions = grant->permissions;
  p.key = grant->key;
  return true;
}

bool Api::Impl::addressAllowed(Call& call, const Organisation& org, const std::string& who) {
  if (org.ipAllowList.empty()) return true;
  OrganisationGrant parsed;
  parsed.org = org;
  StatusOr<security::AllowList> list = security::AllowList::parse(org.ipAllowList);
  if (list.isOk()) parsed.allow = std::move(list).value();
  return addressAllowed(call, parsed, who);
}

bool Api::Impl::addressAllowed(Call& call, const OrganisationGrant& grant, const std::string& who) {
  const Organisation& org = grant.org;
  if (org.ipAllowList.empty()) return true;
  if (grant.allow && grant.allow->allows(call.request.clientAddress().host())) return true;
  LoginRecord r;
  r.at = isoAt(clock.nowMillis());
  r.orgId = org.id;
  r.username = clip(who, 128);
  r.method = "address";
  r.peer = call.peer();
  r.userAgent = call.userAgent();
  r.outcome = "address_refused";
  metrics::logins().inc({r.outcome});
  recordRefusal(accounts, r);
  logWarning(logger(),
             "SECURITY: request from {} refused: not on the allow-list of organisation {}", r.peer,
             org.id);
  fail(HttpStatus::HTTP_FORBIDDEN,
       "requests from this address are not allowed for this organisation (IP allow-list)");
}

void Api::Impl::checkUploadAddress(Call& call) {
  // The named connector's allow-list is checked before any credential is looked at. Without a
  // name the connector is only known after authentication (the caller's organisation's one, see
  // the upload handler), so nothing is checked here: another organisation's list must never
  // answer, nor its connector's name appear in the answer.
  std::string wanted;
  if (auto it = call.query.find("connector"); it != call.query.end()) wanted = it->second;
  if (wanted.empty()) return;
  const Poco::Net::IPAddress peer = call.request.clientAddress().host();
  for (const auto& c : engine.connectorInfo()) {
    if (!c.upload || c.name != wanted) continue;
    if (!c.allow.allows(peer)) {
      logWarning(logger(), "connector {}: upload from {} refused: not on connector.{}.allow",
                 c.name, peer.toString(), c.name);
      fail(HttpStatus::HTTP_FORBIDDEN,
           "uploads from this address are not allowed for the named connector (its allow-list)");
    }
  }
}

std::string Api::Impl::restrictionOf(const User& user, const Organisation& org) const {
  if (user.mustChangePassword) return "password_change";
  if (org.passwordExpiryDays > 0) {
    std::optional<int64_t> changed = parseIso(user.passwordChangedAt);
    if (!changed || clock.nowMillis() - *changed > int64_t{org.passwordExpiryDays} * 86400000) {
      return "password_change";
    }
  }
  if (org.mfaRequired && !user.totpEnabled) return "totp_enrolment";
  return "";
}

// ---- shared by the resources --------------------------------------------------------------

AuditEvent Api::Impl::event(const Call& call, const std::string& action, const std::string& subject,
                            const Object::Ptr& detail) const {
  std::ostringstream text;
  if (detail) {
    detail->stringify(text);
  } else {
    text << "{}";
  }
  return AuditEvent{call.principal.orgId, call.principal.actor(), action, subject, text.str()};
}

ChangeDetail::ChangeDetail()
    : before_(new Object(Poco::JSON_PRESERVE_KEY_ORDER)),
      after_(new Object(Poco::JSON_PRESERVE_KEY_ORDER)) {}

void ChangeDetail::element(const std::string& name, const Poco::Dynamic::Var& before,
                           const Poco::Dynamic::Var& after) {
  before_->set(name, before);
  after_->set(name, after);
}

void ChangeDetail::differences(const Object::Ptr& before, const Object::Ptr& after) {
  auto text = [](const Poco::Dynamic::Var& v) {
    std::ostringstream out;
    Poco::JSON::Stringifier::stringify(v, out);
    return out.str();
  };
  for (const auto& [name, value] : *after) {
    Poco::Dynamic::Var old = before->has(name) ? before->get(name) : Poco::Dynamic::Var();
    if (text(old) != text(value)) element(name, old, value);
  }
}

void ChangeDetail::created(const std::string& name, const Poco::Dynamic::Var& value) {
  element(name, Poco::Dynamic::Var(), value);
}

Object::Ptr ChangeDetail::detail(const std::string& reason) const {
  Object::Ptr out = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
  out->set("before", before_);
  out->set("after", after_);
  out->set("reason", reason);
  return out;
}

void Api::Impl::auditRefusal(const Call& call, const ApiError& error) {
  if (call.refusalAudited || call.principal.orgId.empty()) return;  // done, or nobody to name
  const std::string& path = call.route.path;
  const std::string activation = "/activation";
  const bool signing =
      call.route.method == "POST" &&
      (path == "/api/v1/signatures" ||
       (path.size() > activation.size() &&
        path.compare(path.size() - activation.size(), activation.size(), activation) == 0));
  std::string action;
  if (error.status == HttpStatus::HTTP_FORBIDDEN) {
    action = signing ? "signature.refused" : "access.denied";
  } else if (signing && error.status == HttpStatus::HTTP_CONFLICT) {
    action = "signature.refused";
  } else {
    return;
  }
  Object::Ptr detail = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
  detail->set("endpoint", call.route.method + " " + call.route.path);
  detail->set("status", static_cast<int>(error.status));
  detail->set("reason", error.status == HttpStatus::HTTP_FORBIDDEN ? "forbidden" : "policy");
  detail->set("detail", error.detail);  // composed by the server from names and ids
  const Principal& p = call.principal;
  const std::string subject = p.kind == Principal::Kind::kApiKey && p.key
                                  ? "apikey:" + std::to_string(p.key->id)
                              : p.user ? "user:" + std::to_string(p.user->id)
                                       : std::string("unknown");
  Status audited = store->appendAudit(event(call, action, subject, detail));
  if (!audited.isOk()) logError(logger(), "refusal not audited: {}", audited.toString());
}

std::string Api::Impl::changeReason(Call& call) {
  std::string reason;
  if (call.hasBody()) reason = optString(call.body(), "reason").value_or("");
  checkFreeText("reason", reason, 2000);
  if (settings.changeReasonRequired && Poco::trim(reason).empty()) {
    fail(HttpStatus::HTTP_UNPROCESSABLE_ENTITY,
         "a reason for this change is required (audit.change_reason = required): send "
         "{\"reason\": \"...\"} in the body");
  }
  return Poco::trim(reason);
}

void Api::Impl::checkFreeText(const std::string& member, const std::string& text,
                              size_t maxBytes) const {
  refuseControlCharacters(member, text);
  if (text.size() > maxBytes) {
    fail(HttpStatus::HTTP_UNPROCESSABLE_ENTITY,
         "\"" + member + "\" is over " + std::to_string(maxBytes) + " bytes");
  }
  const std::string pattern = engine.identifyingPattern(text);
  if (!pattern.empty()) {
    Object::Ptr extra = new Object;
    extra->set("member", member);
    extra->set("pattern", pattern);
    fail(HttpStatus::HTTP_UNPROCESSABLE_ENTITY,
         "\"" + member + "\" looks like it holds a patient identifier (PHI pattern " + pattern +
             "); the audit trail must not keep one: describe the reason without names, dates of "
             "birth, record numbers or contact details",
         extra);
  }
}

void Api::Impl::checkGrantable(const Call& call, const std::vector<std::string>& roleNames) const {
  // Nobody grants what they do not hold, working permissions included: a lis-admin cannot mint
  // an auditor or approver key (ADR 0007).
  for (const auto& name : roleNames) refuseControlCharacters("roles", name);
  Status known = roles.checkKnown(roleNames);
  if (!known.isOk()) fail(HttpStatus::HTTP_UNPROCESSABLE_ENTITY, known.reason());
  for (const auto& name : roleNames) {
    for (const auto& permission : roles.find(name)->permissions) {
      if (!call.principal.permissions.count(permission)) {
        Object::Ptr extra = new Object;
        extra->set("role", name);
        extra->set("missing_permission", permission);
        fail(HttpStatus::HTTP_FORBIDDEN,
             fmt::format("role \"{}\" grants \"{}\", which you do not hold: a role can only be "
                         "granted by someone who holds all its permissions",
                         name, permission),
             extra);
      }
    }
  }
}

void Api::Impl::checkManageable(const Call& call, const User& target) const {
  for (const auto& permission : roles.permissionsOf(target.roles)) {
    if (!call.principal.permissions.count(permission)) {
      Object::Ptr extra = new Object;
      extra->set("missing_permission", permission);
      fail(HttpStatus::HTTP_FORBIDDEN,
           "user \"" + target.username + "\" holds \"" + permission +
               "\", which you do not hold: only someone who holds all of a user's permissions "
               "may change, reset or disable that user",
           extra);
    }
  }
}

void refuseControlCharacters(const std::string& field, const std::string& text) {
  const auto* b = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  for (size_t i = 0; i < n; ++i) {
    bool bad = b[i] < 0x20 || b[i] == 0x7F;
    // C1 controls: U+0080-U+009F (C2 80-9F).
    if (b[i] == 0xC2 && i + 1 < n && b[i + 1] >= 0x80 && b[i + 1] <= 0x9F) bad = true;
    // U+200E/F marks, U+2028/9 separators, U+202A-E embeddings and overrides (E2 80 8E-AE),
    // U+2066-9 isolates (E2 81 A6-A9).
    if (b[i] == 0xE2 && i + 2 < n && b[i + 1] == 0x80 &&
        (b[i + 2] == 0x8E || b[i + 2] == 0x8F || (b[i + 2] >= 0xA8 && b[i + 2] <= 0xAE))) {
      bad = true;
    }
    if (b[i] == 0xE2 && i + 2 < n && b[i + 1] == 0x81 && b[i + 2] >= 0xA6 && b[i + 2] <= 0xA9) {
      bad = true;
    }
    if (bad) {
      fail(HttpStatus::HTTP_BAD_REQUEST,
           "\"" + field +
               "\" must not contain control characters, line separators or direction overrides");
    }
  }
}

void Api::Impl::checkPassword(const std::string& password, const std::string& username,
                              const std::string& orgId) const {
  Status s = policy.check(password, username, orgId);
  if (!s.isOk()) fail(HttpStatus::HTTP_UNPROCESSABLE_ENTITY, s.reason());
}

User Api::Impl::userOf(const Call& call) {
  std::optional<User> u = accounts.user(call.principal.orgId, call.idParam("id"));
  if (!u) fail(HttpStatus::HTTP_NOT_FOUND, "no such user");
  return *u;
}

void Api::Impl::reauthenticate(Call& call, const std::string& password, const std::string& what,
                               const std::optional<std::string>& totp,
                               const std::string& auditAction) {
  const User& user = *call.principal.user;
  const int64_t now = clock.nowMillis();
  LoginRecord record;
  record.at = isoAt(now);
  record.orgId = user.orgId;
  record.username = user.username;
  record.method = "reauthentication";
  record.peer = call.peer();
  record.userAgent = call.userAgent();
  const security::LoginThrottle::Admission admission =
      throttle.admit(record.orgId + "/" + record.username, throttleSource(call), now);
  if (!admission.admitted) throttled(call, record, admission);
  Evaluation evaluation(throttle, user.orgId + "/" + user.username);
  // The stored row, not the session's copy: failures of other requests count.
  std::optional<User> fresh = accounts.user(user.orgId, user.id);
  const bool locked = !fresh || lockedNow(*fresh, evaluation.others(), now);
  bool match = false;
  if (locked) {
    hasher.burn(password);
  } else {
    match = hasher.verify(password, fresh->passwordHash).match;
  }
  std::string outcome = locked ? "locked" : "bad_password";
  if (match && totp && fresh->totpEnabled) {
    // A second factor is asked for too (the first electronic signature of a session).
    record.method = "reauthentication+totp";
    std::optional<std::string> secret = security::base32Decode(fresh->totpSecret);
    std::optional<int64_t> step =
        secret ? security::totpVerify(*secret, *totp, now / 1000, fresh->totpLastStep)
               : std::nullopt;
    if (step) {
      StatusOr<bool> unused = accounts.useTotpStep(fresh->id, *step);
      if (!unused.isOk() || !unused.value()) step.reset();
    }
    if (!step) {
      match = false;
      outcome = "bad_totp";
    }
  }
  if (match) {
    throttle.succeeded(admission);
    return;
  }
  Object::Ptr detail = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
  detail->set("endpoint", call.route.method + " " + call.route.path);
  detail->set("peer", record.peer);
  detail->set("reason", outcome);
  AuditEvent audit = event(call, auditAction, "user:" + std::to_string(user.id), detail);
  countFailure(record, outcome, locked ? std::nullopt : std::optional<int64_t>(user.id),
               user.username, &audit);
  call.refusalAudited = true;
  fail(HttpStatus::HTTP_FORBIDDEN,
       outcome == "bad_totp" ? std::string("the TOTP code is wrong") : what + " is wrong");
}

// ---- sessions -------------------------------------------------------------------------------

void Api::Impl::registerSessionRoutes() {
  on("POST", "/api/v1/sessions", [this](Call& call) { login(call); });
  on("DELETE", "/api/v1/sessions/current", [this](Call& call) {
    const SessionRecord& session = *call.principal.session;
    Status ended = accounts.endSession(session.id, "logout");
    if (!ended.isOk()) {
      logError(logger(),
               "SECURITY: logout of session {} of user {} of organisation {} from {} failed: {}; "
               "the session stays valid until it times out. Check the database (disk space, "
               "permissions of data.dir).",
               session.id, call.principal.actor(), session.orgId, call.peer(), ended.toString());
      fail(HttpStatus::HTTP_SERVICE_UNAVAILABLE,
           "the session could not be ended and is still valid; try again");
    }
    if (call.principal.viaCookie) {
      Poco::Net::HTTPCookie cookie(kSessionCookie, "");
      cookie.setPath("/");
      cookie.setMaxAge(0);
      cookie.setHttpOnly(true);
      cookie.setSecure(true);
      cookie.setSameSite(Poco::Net::HTTPCookie::SAME_SITE_STRICT);
      call.response.addCookie(cookie);
    }
    call.response.setStatusAndReason(HttpStatus::HTTP_NO_CONTENT);
    call.response.send();
  });
}

void Api::Impl::throttled(Call& call, LoginRecord record,
                          const security::LoginThrottle::Admission& admission) {
  record.outcome = "throttled";
  metrics::logins().inc({record.outcome});
  // One record per delay, not one per refused request: a flood must not become a flood of writes.
  if (admission.firstRefusal) {
    recordRefusal(accounts, record);
    logWarning(logger(),
               "SECURITY: login attempts for {}/{} from {} are delayed after repeated "
               "failures (next in {} s)",
               record.orgId, record.username, record.peer,
               static_cast<int>(admission.retryAfterSeconds));
  }
  call.response.set("Retry-After", std::to_string(admission.retryAfterSeconds));
  Object::Ptr extra = new Object;
  extra->set("retry_after_seconds", admission.retryAfterSeconds);
  fail(HttpStatus::HTTP_TOO_MANY_REQUESTS,
       "too many failed attempts from this address: try again in " +
           std::to_string(admission.retryAfterSeconds) + " s",
       extra);
}

bool Api::Impl::lockedNow(const User& user, int64_t others, int64_t nowMillis) const {
  if (std::optional<int64_t> until = parseIso(user.lockedUntil); until && *until > nowMillis) {
    return true;
  }
  if (settings.lockoutAttempts <= 0 || others == 0) return false;
  // Failures still to go before the lock (a lock that ran out relocks at the next failure).
  const int64_t left = std::max<int64_t>(1, settings.lockoutAttempts - user.failedAttempts);
  return others >= left;
}

void Api::Impl::countFailure(LoginRecord& record, const std::string& outcome,
                             std::optional<int64_t> userId, const std::string& username,
                             const AuditEvent* audit) {
  record.outcome = outcome;
  metrics::logins().inc({outcome});
  const int64_t now = clock.nowMillis();
  StatusOr<AccountStore::FailedLogin> counted =
      accounts.recordLoginFailure(record, userId, static_cast<int>(settings.lockoutAttempts),
                                  isoAt(now + settings.lockoutSeconds * 1000), audit);
  if (!counted.isOk()) unrecorded(record, counted.status());
  if (counted.value().lockedNow) {
    logWarning(
        logger(),
        "SECURITY: user {} of organisation {} locked for {} s after {} failed logins (the last "
        "from {}); an administrator can unlock it (POST /api/v1/users/{{id}}/unlock)",
        username, record.orgId, static_cast<int>(settings.lockoutSeconds), counted.value().attempts,
        record.peer);
  }
}

void Api::Impl::login(Call& call) {
  Object::Ptr body = call.body();
  const std::string orgId = needString(body, "org");
  const std::string username = Poco::toLower(needString(body, "user"));
  const std::string password = needString(body, "password");
  const std::optional<std::string> totp = optString(body, "totp");
  const bool cookie = optBool(body, "cookie").value_or(false);
  const int64_t now = clock.nowMillis();

  LoginRecord record;
  record.at = isoAt(now);
  record.orgId = clip(orgId, 64);
  record.username = clip(username, 128);
  record.method = totp ? "password+totp" : "password";
  record.peer = call.peer();
  record.userAgent = call.userAgent();
  // Every failure answers the same, after the same work (one Argon2id verification): unknown
  // organisation or user, disabled, locked, wrong password or code.
  auto failure = [&](const std::string& outcome, std::optional<int64_t> userId) {
    countFailure(record, outcome, userId, username);
    fail(HttpStatus::HTTP_UNAUTHORIZED, kBadCredentials);
  };

  // The attempt is reserved (counted as a failure) before anything is checked, so that
  // concurrent attempts cannot all pass before the first failure is stored.
  const security::LoginThrottle::Admission admission =
      throttle.admit(record.orgId + "/" + record.username, throttleSource(call), now);
  if (!admission.admitted) throttled(call, record, admission);

  std::optional<Organisation> org = accounts.organisation(orgId);
  if (!org) {
    hasher.burn(password);
    failure("unknown_org", std::nullopt);
  }
  if (!addressAllowed(call, *org, username)) return;
  Evaluation evaluation(throttle, org->id + "/" + username);
  std::optional<User> user = accounts.userByName(org->id, username);
  if (!user) {
    hasher.burn(password);
    failure("unknown_user", std::nullopt);
  }
  if (user->disabled) {
    hasher.burn(password);
    failure("disabled", std::nullopt);
  }
  if (lockedNow(*user, evaluation.others(), now)) {
    hasher.burn(password);
    failure("locked", std::nullopt);
  }
  security::PasswordHasher::Verdict verdict = hasher.verify(password, user->passwordHash);
  if (!verdict.match) failure("bad_password", user->id);
  if (user->totpEnabled) {
    if (!totp || totp->empty()) {
      // The password was right: not a failure, but no session yet.
      throttle.released(admission);
      record.outcome = "totp_required";
      metrics::logins().inc({record.outcome});
      recordRefusal(accounts, record);
      Object::Ptr extra = new Object;
      extra->set("totp_required", true);
      fail(HttpStatus::HTTP_UNAUTHORIZED, "a TOTP code is required (\"totp\")", extra);
    }
    std::optional<std::string> secret = security::base32Decode(user->totpSecret);
    std::optional<int64_t> step =
        secret ? security::totpVerify(*secret, *totp, now / 1000, user->totpLastStep)
               : std::nullopt;
    if (!step) failure("bad_totp", user->id);
    StatusOr<bool> fresh = accounts.useTotpStep(user->id, *step);
    if (!fresh.isOk() || !fresh.value()) failure("bad_totp", user->id);
  }
  throttle.succeeded(admission);
  if (verdict.needsRehash) {
    User upgraded = *user;
    upgraded.passwordHash = hasher.hash(password);
    // Ignored on purpose: the stored hash still verifies; the upgrade is tried at the next login.
    (void)accounts.updateUser(upgraded, AuditEvent{org->id, "engine", "user.password_rehashed",
                                                   "user:" + user->username, "{}"});
  }

  const std::string token = security::newToken("lgs_");
  const std::string csrf = cookie ? security::newToken("lgc_") : "";
  SessionRecord session;
  session.orgId = org->id;
  session.userId = user->id;
  session.tokenSha256 = security::tokenDigest(token);
  session.csrfSha256 = cookie ? security::tokenDigest(csrf) : "";
  session.createdAt = record.at;
  session.lastSeenAt = record.at;
  session.expiresAt = isoAt(now + settings.absoluteSeconds * 1000);
  session.peer = record.peer;
  session.userAgent = record.userAgent;
  record.outcome = "success";
  StatusOr<int64_t> opened = accounts.recordLoginSuccess(record, user->id, session);
  if (opened.isOk()) metrics::logins().inc({"success"});
  if (!opened.isOk()) {
    logError(logger(), "login: the session could not be stored: {}", opened.status().toString());
    fail(HttpStatus::HTTP_SERVICE_UNAVAILABLE, "the session could not be stored; try again");
  }
  std::optional<User> fresh = accounts.user(org->id, user->id);
  const std::string restriction = restrictionOf(fresh ? *fresh : *user, *org);

  Object::Ptr out = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
  if (cookie) {
    Poco::Net::HTTPCookie c(kSessionCookie, token);
    c.setPath("/");
    c.setHttpOnly(true);
    c.setSecure(true);
    c.setSameSite(Poco::Net::HTTPCookie::SAME_SITE_STRICT);
    call.response.addCookie(c);
    out->set("csrf_token", csrf);
  } else {
    out->set("token", token);
  }
  out->set("expires_at", session.expiresAt);
  out->set("idle_timeout_seconds", settings.idleSeconds);
  out->set("user", userJson(fresh ? *fresh : *user));
  out->set("password_change_required", restriction == "password_change");
  out->set("totp_enrolment_required", restriction == "totp_enrolment");
  sendJson(call.response, HttpStatus::HTTP_CREATED, out);
}

}  // namespace labgate::api
