// AccountStore: the repository for organisations, users, sessions, API keys and login records, and
// the read side of the REST API (samples and results search, the audit log). It writes through the
// Store's group-commit writer, so every change and its audit event commit in one transaction, and
// reads through the Store's reader. Every query that reads customer rows filters on org_id: a row
// of another organisation is "not found", never returned.
//
// Nothing here stores a password, token or key in clear: users carry an Argon2id PHC string,
// sessions and API keys a SHA-256 digest of the secret. Audit details never contain them either.
// (The TOTP shared secret must be kept to verify codes; it is stored base32 in the users row.)
//
// Times are ISO-8601 UTC strings with milliseconds (isoNow()), which sort as text.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/model/status.h"
#include "engine/store/store.h"

namespace labgate {

struct Organisation {
  std::string id;  // short slug, e.g. "default", "lab-north"; never reused
  std::string name;
  int passwordExpiryDays = 0;            // 0 = passwords do not expire
  bool mfaRequired = false;              // every user must enrol TOTP before using the API
  std::vector<std::string> ipAllowList;  // CIDR texts; empty = any address
  std::string createdAt;
};

struct User {
  int64_t id = 0;
  std::string orgId;
  std::string
      username;  // unique within the organisation, for ever (users are disabled, not deleted)
  std::string printedName;  // shown with electronic signatures
  std::vector<std::string> roles;
  std::string passwordHash;  // Argon2id PHC string
  std::string passwordChangedAt;
  bool mustChangePassword = false;  // an initial or reset password: only a change is allowed
  bool disabled = false;
  int failedAttempts = 0;    // consecutive failed logins
  std::string lockedUntil;   // "" = not locked
  std::string totpSecret;    // base32; "" = none
  bool totpEnabled = false;  // false while enrolment awaits its confirmation code
  int64_t totpLastStep = 0;  // the last time step used (replay protection)
  std::string createdAt;
  std::string lastLoginAt;
};

struct SessionRecord {
  int64_t id = 0;
  std::string orgId;
  int64_t userId = 0;
  std::string tokenSha256;
  std::string csrfSha256;  // cookie sessions: the CSRF token's digest; "" for bearer sessions
  std::string createdAt;
  std::string lastSeenAt;
  std::string expiresAt;  // absolute timeout
  std::string endedAt;    // "" while open
  std::string endReason;  // "logout", "user disabled", "password changed", ...
  std::string peer;
  std::string userAgent;
};

struct ApiKeyRecord {
  int64_t id = 0;
  std::string orgId;
  std::string name;
  std::string prefix;  // the first 12 characters of the key, shown in lists to tell keys apart
  std::string keySha256;
  std::vector<std::string> roles;
  std::string connector;  // "" = any connector of the organisation
  std::string createdBy;  // "user:alice"
  std::string createdAt;
  std::string expiresAt;  // "" = no expiry
  std::string lastUsedAt;
  std::string revokedAt;  // "" = active
};

struct LoginRecord {
  int64_t id = 0;
  std::string at;
  std::string orgId;     // as sent (may name no organisation)
  std::string username;  // as sent, or "apikey:<prefix>"
  std::string method;    // "password", "totp", "api_key"
  std::string peer;
  std::string userAgent;
  std::string outcome;  // "success", "bad_password", "unknown_user", "locked", "disabled",
                        // "totp_required", "bad_totp", "address_refused", "bad_key", ...
};

/// Keyset paging, newest first: `before` is the id to continue below (0 = from the newest).
struct PageRequest {
  int64_t before = 0;
  size_t limit = 50;
};
template <typename T>
struct Page {
  std::vector<T> items;
  std::optional<int64_t> next;  // pass as `before` for the following page; nullopt = last page
};

struct LoginFilter {
  std::string from, to;  // inclusive ISO-8601 bounds on `at`; "" = open
  std::string username;
  std::string outcome;
};

struct AuditRecord {
  int64_t id = 0;
  std::string orgId, at, actor, action, subject, detail, hash;
};
struct AuditFilter {
  std::string from, to;
  std::string actor;    // exact
  std::string action;   // exact, or a prefix ending in '.' ("user.")
  std::string subject;  // exact
};

struct SampleFilter {
  std::string sampleId;  // exact
  std::string instrument;
  std::string from, to;  // on the message's received_at
  std::string state;     // a result disposition: the sample has at least one result in it
};
struct SampleSummary {
  int64_t id = 0;  // samples row id
  int64_t messageId = 0;
  std::string sampleId, kind, instrument, connector, receivedAt;
  int64_t resultCount = 0;
  std::vector<std::string> states;  // distinct dispositions of its results, sorted
};
struct FindingRecord {
  std::string ruleId, severity, message, action;
};
struct ResultRecord {
  int64_t id = 0;
  std::string instrumentCode, lisCode, lisName, value, units, referenceRange, flags, status,
      measuredAt, disposition;
  std::vector<FindingRecord> findings;
};
struct SampleDetail {
  SampleSummary summary;
  std::vector<ResultRecord> results;
};

class AccountStore {
 public:
  explicit AccountStore(std::shared_ptr<Store> store);

  // ---- the authentication cache's generation (ADR 0020) ----------------------------------------
  /// A number that moves forward after every committed write that can change what a session
  /// token or an API key authenticates as: any change of an organisation, a user (roles,
  /// disabled, password, lock, TOTP, failure count, last login), a session opened or ended, an
  /// API key created or revoked, shared by every AccountStore over the same Store. It moves once
  /// the write's transaction has committed, before the writing call returns: an answer read from
  /// the store after generation() returned G is current for as long as generation() is still G.
  /// Activity touches (touchSession, touchApiKey) and login records do not move it.
  /// (One process: an in-memory counter. Several nodes on one database would read a shared
  /// counter row here instead; see the ADR.)
  uint64_t generation() const;

  // ---- organisations and the first start ------------------------------------------------------
  bool hasUsers();
  /// With no user at all: creates organisation `org` and `admin` (in one transaction, audited as
  /// actor "engine"). Fails if a user exists meanwhile.
  Status bootstrap(const Organisation& org, const User& admin);
  /// A new organisation and its first administrator. Id taken (ever) → Status::invalid("id", ...).
  StatusOr<int64_t> createOrganisation(const Organisation& org, const User& firstAdmin,
                                       const AuditEvent& event);
  std::optional<Organisation> organisation(const std::string& id);
  std::vector<Organisation> organisations();
  Status updateOrganisation(const Organisation& org, const AuditEvent& event);

  // ---- users ------------------------------------------------------------------------------------
  /// Username taken in the organisation (also by a disabled user) → Status::invalid("username").
  StatusOr<int64_t> createUser(const User& user, const AuditEvent& event);
  std::optional<User> user(const std::string& orgId, int64_t id);
  std::optional<User> userByName(const std::string& orgId, const std::string& username);
  std::vector<User> users(const std::string& orgId);
  /// Writes every mutable column of `user` (matched by org and id) and the audit event. When the
  /// user becomes disabled, or `endSessionsReason` is not empty, every open session of the user
  /// but `keepSessionId` (0: none is kept; a disabled user keeps none) ends in the same
  /// transaction, so that a password change never stands while other sessions stay open; when
  /// the user becomes disabled, every API key the user created
  /// (and every key those keys created) is revoked with it, each audited "apikey.revoked".
  /// Taking the role admin from, or disabling, the organisation's last enabled administrator is
  /// Status::rejected("administrator", ...) and changes nothing.
  Status updateUser(const User& user, const AuditEvent& event,
                    const std::string& endSessionsReason = "", int64_t keepSessionId = 0);

  // ---- logins -----------------------------------------------------------------------------------
  struct FailedLogin {
    int attempts = 0;        // consecutive failures after this one
    bool lockedNow = false;  // this failure reached the threshold: locked_until was set
  };
  /// Records a failed login. With a user: increments its failure count atomically and, when it
  /// reaches `threshold`, sets locked_until = `lockUntil` and appends a "user.locked" audit event.
  /// `audit`, when given, is appended in the same transaction (a failed re-authentication).
  StatusOr<FailedLogin> recordLoginFailure(const LoginRecord& record, std::optional<int64_t> userId,
                                           int threshold, const std::string& lockUntil,
                                           const AuditEvent* audit = nullptr);
  /// Records a refusal that does not count towards lockout (address refused, already locked,
  /// disabled, unknown organisation, TOTP still required ...).
  Status recordLoginRefused(const LoginRecord& record);
  /// Records a successful login: resets the failure count, sets last_login_at and opens
  /// `session`, in one transaction. Returns the session id.
  StatusOr<int64_t> recordLoginSuccess(const LoginRecord& record, int64_t userId,
                                       const SessionRecord& session);
  Page<LoginRecord> logins(const std::string& orgId, const LoginFilter& filter,
                           const PageRequest& page);

  /// Marks TOTP step `step` used by the user if it is later than the last one used (atomically).
  /// false: the step was used already (a replay).
  StatusOr<bool> useTotpStep(int64_t userId, int64_t step);

  // ---- sessions ---------------------------------------------------------------------------------
  /// The open session whose token digest is `tokenSha256` (any organisation: the token decides).
  std::optional<SessionRecord> sessionByToken(const std::string& tokenSha256);
  Status touchSession(int64_t sessionId, const std::string& at);
  Status endSession(int64_t sessionId, const std::string& reason);
  /// Ends every open session of the user except `exceptSessionId` (0 = all).
  Status endUserSessions(int64_t userId, const std::string& reason, int64_t exceptSessionId = 0);

  // ---- API keys ---------------------------------------------------------------------------------
  StatusOr<int64_t> createApiKey(const ApiKeyRecord& key, const AuditEvent& event);
  /// The key whose digest is `keySha256`, revoked or not (the caller decides).
  std::optional<ApiKeyRecord> apiKeyByDigest(const std::string& keySha256);
  std::optional<ApiKeyRecord> apiKey(const std::string& orgId, int64_t id);
  std::vector<ApiKeyRecord> apiKeys(const std::string& orgId);
  /// Sets revoked_at (once: revoking a revoked key is OK and writes nothing).
  Status revokeApiKey(const std::string& orgId, int64_t id, const AuditEvent& event);
  Status touchApiKey(int64_t id, const std::string& at);

  // ---- read side of the REST API ----------------------------------------------------------------
  Page<AuditRecord> audit(const std::string& orgId, const AuditFilter& filter,
                          const PageRequest& page);
  Page<SampleSummary> samples(const std::string& orgId, const SampleFilter& filter,
                              const PageRequest& page);
  std::optional<SampleDetail> sample(const std::string& orgId, int64_t id);

  /// Appends an audit event (convenience over Store::appendAudit).
  Status appendAudit(const AuditEvent& event);

 private:
  std::shared_ptr<Store> store_;
};

}  // namespace labgate
