// Private to engine/api: the API's state, the authenticated caller (Principal), one request in
// flight (Call) and the helpers the resource files share. See api.h for the contract.
#pragma once

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/Net/HTTPResponse.h>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "engine/api/api.h"
#include "engine/api/auth_cache.h"
#include "engine/api/permissions.h"
#include "engine/api/routes.h"
#include "engine/pipeline/reevaluation.h"
#include "engine/security/password.h"
#include "engine/store/accounts.h"
#include "engine/store/mapping_sets.h"
#include "engine/store/signatures.h"

namespace labgate::api {

using Poco::JSON::Array;
using Poco::JSON::Object;
using HttpStatus = Poco::Net::HTTPResponse::HTTPStatus;

/// Who is calling: a person (through a session) or an API key. The records are shared with the
/// authentication cache (auth_cache.h) and never change: a handler that changes one copies it.
struct Principal {
  enum class Kind { kUser, kApiKey };
  Kind kind = Kind::kUser;
  std::string orgId;
  std::shared_ptr<const User> user;
  std::shared_ptr<const SessionRecord> session;
  std::shared_ptr<const ApiKeyRecord> key;
  bool viaCookie = false;
  std::vector<std::string> roles;
  PermissionSet permissions;
  /// What a restricted session must do first: "" (nothing), "password_change",
  /// "totp_enrolment".
  std::string restriction;

  /// The audit actor: "user:alice" or "apikey:7".
  std::string actor() const;
};

/// Thrown by handlers to answer a problem document (caught in Api::handle).
struct ApiError {
  HttpStatus status;
  std::string detail;
  Object::Ptr extra;  // members added to the problem document, may be null
};
[[noreturn]] void fail(HttpStatus status, const std::string& detail, Object::Ptr extra = nullptr);

/// One request being served.
struct Call {
  Call(Poco::Net::HTTPServerRequest& req, Poco::Net::HTTPServerResponse& resp,
       const RouteSpec& spec, std::map<std::string, std::string> pathParams)
      : request(req), response(resp), route(spec), params(std::move(pathParams)) {}

  Poco::Net::HTTPServerRequest& request;
  Poco::Net::HTTPServerResponse& response;
  const RouteSpec& route;
  std::map<std::string, std::string> params;  // path parameters by name
  std::map<std::string, std::string> query;
  Principal principal;
  /// Set by a handler that audited its own refusal (a wrong password in a re-authentication), so
  /// that Api::handle does not audit it a second time.
  bool refusalAudited = false;

  /// The body as a JSON object (400 when it is not one; at most 1 MiB).
  Object::Ptr body();
  /// Whether the request carries a body (a Content-Length above 0, or chunked).
  bool hasBody() const;
  /// The body as bytes, whatever its media type (413 over `maxBytes`).
  std::string rawBody(size_t maxBytes);
  /// A path parameter that must be a positive integer (404 otherwise: no such resource).
  int64_t idParam(const std::string& name) const;
  std::string peer() const;
  std::string userAgent() const;

 private:
  Object::Ptr body_;
};

/// 400 naming the first query parameter not in `known`: "unknown query parameter \"x\"
/// (known: NAMES)". `names` lists the known ones for the reader, in their documented order.
void refuseUnknownQuery(const Call& call, const std::set<std::string>& known,
                        const std::string& names);

// ---- JSON member access with 400 answers naming the member ----------------------------------
std::optional<std::string> optString(const Object::Ptr& body, const std::string& name);
std::string needString(const Object::Ptr& body, const std::string& name);
std::optional<bool> optBool(const Object::Ptr& body, const std::string& name);
std::optional<int64_t> optInt(const Object::Ptr& body, const std::string& name);
std::optional<std::vector<std::string>> optStrings(const Object::Ptr& body,
                                                   const std::string& name);

/// Paging from ?limit= (1-500, default 50) and ?before= (400 when malformed).
PageRequest pageOf(const Call& call);
/// {"items": items, "next": URL | null} with the request's other query parameters kept.
void sendPage(Call& call, const Array::Ptr& items, std::optional<int64_t> next);
void sendItems(Call& call, const Array::Ptr& items);

/// Refuses (400 naming `field`) a name with a control character (C0, DEL, C1), a line or
/// paragraph separator or a bidirectional override: names are printed with signatures and in the
/// audit trail, and must read the same everywhere.
void refuseControlCharacters(const std::string& field, const std::string& text);

/// What a person changes, as its audit event records it (21 CFR 11.10(e), Annex 11 §9): the old
/// and the new value of each element, and the reason. detail() is
/// {"before": {element: old, ...}, "after": {element: new, ...}, "reason": "..."}; an element that
/// did not exist before (a creation) is null in "before", one that is gone null in "after".
class ChangeDetail {
 public:
  ChangeDetail();
  /// Records `element` going from `before` to `after`.
  void element(const std::string& name, const Poco::Dynamic::Var& before,
               const Poco::Dynamic::Var& after);
  /// Records every member of `after` whose JSON differs from the same member of `before`.
  void differences(const Object::Ptr& before, const Object::Ptr& after);
  /// Records an element that the change creates.
  void created(const std::string& name, const Poco::Dynamic::Var& value);
  /// The audit detail with `reason` ("" when none was given).
  Object::Ptr detail(const std::string& reason) const;

 private:
  Object::Ptr before_, after_;
};

/// ISO-8601 UTC times.
std::string isoAt(int64_t unixMillis);
int64_t unixMillisNow();
/// Millis since the epoch of an ISO-8601 time; nullopt when it does not parse.
std::optional<int64_t> parseIso(const std::string& text);
/// ?from= / ?to=: must parse as ISO-8601 (400 naming the parameter); returned normalised.
std::string isoQuery(const Call& call, const std::string& name);

// ---- JSON forms of the records ------------------------------------------------------------
Object::Ptr userJson(const User& user);
Object::Ptr organisationJson(const Organisation& org);
Object::Ptr apiKeyJson(const ApiKeyRecord& key);
Object::Ptr roleJson(const Role& role);
/// A signature as the API shows it; `full` adds signed_bytes and signature (base64).
Object::Ptr signatureJson(const SignatureRecord& sig, bool full);
/// A finding as GET /api/v1/batches/{id} shows it (rule, severity, message, measured, limit, the
/// unit of the measured value, action).
Object::Ptr findingJson(const std::string& rule, const std::string& severity,
                        const std::string& message, const std::string& measured,
                        const std::string& limit, const std::string& action);
/// A batch evaluated again, or tried with a candidate mapping set (resources_reevaluation.cpp).
Object::Ptr reevaluationJson(const ReevaluationOutcome& outcome);
/// A mapping set tried on the last batches of an instrument (the dry-run of a mapping version).
Object::Ptr dryRunJson(const DryRunReport& report);

/// Answers 422 listing every problem of a mapping spreadsheet ({"errors": [{line, column,
/// column_name, message}]}; the detail names the first).
[[noreturn]] void refuseSpreadsheet(const std::vector<MappingProblemInfo>& problems);

class Api::Impl {
 public:
  Impl(std::shared_ptr<Store> store, SecuritySettings settings, const EngineView& engine,
       security::PasswordPolicy policy, RoleTable roles, const WallClock& clock);

  Status bootstrap(const char* adminPassword);
  void handle(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response);

  // Shared by the resource files.
  std::shared_ptr<Store> store;
  AccountStore accounts;
  SignatureStore signatures;
  MappingSetStore mappingSets;
  SecuritySettings settings;
  const EngineView& engine;
  /// The time sessions, API keys and lockouts are judged against (systemClock() in labgated).
  const WallClock& clock;
  security::PasswordPolicy policy;
  security::PasswordHasher hasher;
  RoleTable roles;
  security::LoginThrottle throttle;
  /// What credentials authenticated as, valid while accounts.generation() stays the same.
  AuthCache authCache;

  using Handler = std::function<void(Call&)>;
  /// Registers the handler of a route of the table (method + path exactly as in routes.cpp).
  void on(const std::string& method, const std::string& path, Handler handler);

  /// The audit event of a change made by the caller.
  AuditEvent event(const Call& call, const std::string& action, const std::string& subject,
                   const Object::Ptr& detail) const;
  /// The caller may grant `roleNames`: they exist (422), and the caller holds every permission
  /// of each (403 naming the role and the first missing permission).
  void checkGrantable(const Call& call, const std::vector<std::string>& roleNames) const;
  /// The caller may change, reset or disable `target`: the caller holds every permission the
  /// target holds (403 otherwise), so that nobody takes over a more powerful account.
  void checkManageable(const Call& call, const User& target) const;
  /// Re-authentication inside a session (password change, TOTP enrolment): `password` is the
  /// caller's. A wrong one is a failed login (throttled, counted towards the lock, recorded and
  /// audited as `user.reauthentication_failed`) and answers 403 "`what` is wrong"; while a delay
  /// runs the answer is 429 and nothing is checked.
  /// With `totp` (the first electronic signature of a session) a user with a second factor must
  /// give its code too; a wrong one counts like a wrong password. `auditAction` names the audit
  /// event of a failure ("signature.refused" for signings).
  void reauthenticate(Call& call, const std::string& password, const std::string& what,
                      const std::optional<std::string>& totp = std::nullopt,
                      const std::string& auditAction = "user.reauthentication_failed");
  /// The re-authentication of an electronic signature (§11.200), shared by POST /api/v1/signatures
  /// and mapping-set activations; the caller is a person in a session. The first signature of a
  /// session (batches and mapping sets alike) needs the password and, for a user with a second
  /// factor, the TOTP code: without the code 403 with "totp_required", audited
  /// "signature.refused" naming `endpoint`. Later signatures need the password. A wrong password
  /// or code: see reauthenticate ("signature.refused").
  void reauthenticateSigner(Call& call, const std::string& password,
                            const std::optional<std::string>& totp, const std::string& endpoint);
  /// A password that passes the policy, or 422 saying why.
  void checkPassword(const std::string& password, const std::string& username,
                     const std::string& orgId) const;
  /// Audits a refused request of an authenticated caller (21 CFR 11.10(f), (g)): a 403 as
  /// `access.denied`, and on POST /api/v1/signatures or a mapping-set activation a 403 or a 409
  /// (steps out of order, a changed record) as `signature.refused`, with the endpoint, the status
  /// and the server's own text (never what the client sent).
  void auditRefusal(const Call& call, const ApiError& error);
  /// Why the caller makes a change: the optional "reason" member of the JSON body (a request
  /// without a body has none). Checked like every free text a person writes that the store keeps
  /// (checkFreeText). With audit.change_reason = required an empty reason answers 422.
  std::string changeReason(Call& call);
  /// Free text a person writes that the store and the audit trail keep (a reason, a comment):
  /// no control characters, at most `maxBytes`, and nothing the PHI gate's patterns take for a
  /// patient identifier (422 naming the member and the pattern, never the text).
  void checkFreeText(const std::string& member, const std::string& text, size_t maxBytes) const;
  /// The user of the caller's organisation with id {id} (404 otherwise).
  User userOf(const Call& call);

 private:
  struct Bound {
    const RouteSpec* spec;
    std::vector<std::string> segments;
    Handler handler;
  };
  void registerSessionRoutes();
  void registerAccountRoutes();  // resources_accounts.cpp: calls the six below
  void registerCallerRoutes();
  void registerOrganisationRoutes();
  void registerUserRoutes();
  void registerUserActionRoutes();
  void registerRoleRoutes();
  void registerApiKeyRoutes();
  void registerDataRoutes();  // resources_data.cpp: calls the five below
  void registerConnectorRoutes();
  void registerSampleRoutes();
  void registerUploadRoutes();
  void registerDiagnosticsRoutes();
  void registerRecordRoutes();
  void registerBackupRoutes();
  void registerMessageRoutes();            // resources_messages.cpp: raw bodies, re-encryption
  void registerAuditVerificationRoutes();  // resources_audit.cpp
  void registerBatchRoutes();              // resources_batches.cpp: batches for QA review
  void registerSignatureRoutes();     // resources_signatures.cpp: electronic signatures (issue 13)
  void registerMappingSetRoutes();    // resources_mappings.cpp: versioned mapping sets (issue 14)
  void registerReevaluationRoutes();  // resources_reevaluation.cpp: re-evaluation (issue 14)
  void registerHealthRoutes();        // resources_health.cpp: instrument health (issue 19)
  void registerConsoleRoutes();       // resources_console.cpp: the console's read models (15)

  void login(Call& call);
  /// Authenticates the request into call.principal, or answers and returns false.
  bool authenticate(Call& call);
  bool authenticateSession(Call& call, const std::string& token, bool viaCookie);
  bool authenticateKey(Call& call, const std::string& key);
  /// The session of `digest` with its user and organisation as the store has them (401 when no
  /// open session has that digest), read under `generation`.
  std::shared_ptr<const SessionGrant> readSessionGrant(const std::string& digest,
                                                       uint64_t generation);
  /// The organisation `orgId` with its allow-list parsed; null when there is none.
  std::shared_ptr<const OrganisationGrant> readOrganisationGrant(const std::string& orgId);
  /// The organisation's allow-list admits the peer (403 and a login record otherwise).
  bool addressAllowed(Call& call, const Organisation& org, const std::string& who);
  /// The same with the list parsed already (`allow` nullopt: it does not parse, refused).
  bool addressAllowed(Call& call, const OrganisationGrant& org, const std::string& who);
  /// Uploads: the connector's allow-list admits the peer (403 otherwise), before credentials.
  void checkUploadAddress(Call& call);
  /// Answers 429 with Retry-After for a throttled login attempt (recorded once per delay).
  [[noreturn]] void throttled(Call& call, LoginRecord record,
                              const security::LoginThrottle::Admission& admission);
  /// Records a failed password or code check of `userId` (nullopt: no such account) and counts
  /// it towards the persistent lock; logs SECURITY when it locks. `audit`: an extra audit event
  /// in the same transaction (may be empty).
  void countFailure(LoginRecord& record, const std::string& outcome, std::optional<int64_t> userId,
                    const std::string& username, const AuditEvent* audit = nullptr);
  /// True when the account counts as locked: locked_until is in the future, or the evaluations in
  /// flight (`others`) could reach the threshold before this one is stored.
  bool lockedNow(const User& user, int64_t others, int64_t nowMillis) const;
  /// "", "password_change" or "totp_enrolment" for the user now.
  std::string restrictionOf(const User& user, const Organisation& org) const;

  std::vector<Bound> routes_;
};

}  // namespace labgate::api
