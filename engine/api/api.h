// The REST API under /api/v1: authentication (sessions, API keys), the permission check of the
// route table (routes.h), organisation scoping, and the resources. docs/api.md is the behaviour;
// docs/openapi.yaml the reference.
//
// Order of checks for every request: route (404/405) → credentials (401) → the organisation's IP
// allow-list (403) → CSRF for cookie sessions (403) → restricted session (403) → permission (403)
// → the handler, which only ever reads and writes the caller's organisation (404 otherwise).
//
// Thread-safety: handle() is called concurrently from the HTTP server's threads.
#pragma once

#include <Poco/JSON/Object.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/model/clock.h"
#include "engine/model/mapping_stage.h"
#include "engine/model/rules_stage.h"
#include "engine/model/status.h"
#include "engine/net/http_util.h"
#include "engine/security/cidr.h"
#include "engine/security/login_throttle.h"
#include "engine/security/password.h"
#include "engine/security/signing_key.h"
#include "engine/store/backup.h"
#include "engine/store/store.h"

namespace labgate {
class MappingStage;
class Reevaluator;
}  // namespace labgate

namespace labgate::api {

/// The signatures.* configuration keys (docs/signatures.md, docs/configuration.md).
struct SignaturePolicy {
  /// Meaning → the permission a signer needs. Built in: reviewed ← results.review; approved,
  /// rejected, rerun-requested ← results.approve. signatures.meanings adds the lab's own
  /// (results.review unless signatures.meaning.NAME.permission says otherwise).
  std::map<std::string, std::string> meanings = {{"reviewed", "results.review"},
                                                 {"approved", "results.approve"},
                                                 {"rejected", "results.approve"},
                                                 {"rerun-requested", "results.approve"}};
  bool reviewBeforeApproval = true;    // signatures.review_before_approval
  bool distinctSigners = true;         // signatures.distinct_signers
  bool sendRejectedCancelled = false;  // signatures.send_rejected = cancelled (default never)
  // Mapping-set activation (POST .../activation) is signed, meaning "approved" (docs/mappings.md).
  bool mappingActivation = true;  // signatures.mapping_activation
  // Used by the next issues: rule-set changes need a signature.
  bool ruleSetChanges = false;  // signatures.rule_set_changes
};

/// The security.* and role.* configuration keys.
struct SecuritySettings {
  int64_t idleSeconds = 900;            // security.session.idle_seconds
  int64_t absoluteSeconds = 43200;      // security.session.absolute_seconds
  int64_t lockoutAttempts = 50;         // security.lockout.attempts (per account, all addresses)
  int64_t lockoutSeconds = 900;         // security.lockout.seconds
  security::ThrottleSettings throttle;  // security.throttle.*
  int64_t minPasswordLength = 12;       // security.password.min_length
  std::string blocklistPath;            // security.password.blocklist ("" = built-in list only)
  security::Argon2Params argon2;        // security.argon2.memory_kib, .iterations, .parallelism
  std::map<std::string, std::vector<std::string>> customRoles;  // role.NAME.permissions
  SignaturePolicy signatures;                                   // signatures.*
  bool changeReasonRequired = false;  // audit.change_reason = required (default optional)
};

/// Backups on demand (engine/service/backup_service.h implements it).
class BackupControl {
 public:
  struct Entry {
    backup::Listing listing;
    // Verified by this engine after writing (a backup.created event) and still the file that was
    // verified (the SHA-256 that event recorded).
    bool verified = false;
  };
  virtual ~BackupControl() = default;
  /// Takes, verifies and keeps a backup now, audited as `actor`. Status::unavailable at once while
  /// another backup runs.
  virtual StatusOr<backup::Created> backupNow(const std::string& actor) = 0;
  /// The backup directory's backups, newest first.
  virtual std::vector<Entry> list() const = 0;
};

/// What the API reads from the running engine: its connectors and destinations.
class EngineView {
 public:
  struct ConnectorInfo {
    std::string name, kind, orgId;
    security::AllowList allow;
    HttpSource* upload = nullptr;  // set for connectors of kind upload
    std::string instrument;        // connector.NAME.instrument (may be empty)
    std::string mappingSet;        // the mapping set the connector runs (docs/mappings.md)
  };
  virtual ~EngineView() = default;
  virtual std::vector<ConnectorInfo> connectorInfo() const = 0;
  /// The connector's /health object (state, counters), or null.
  virtual Poco::JSON::Object::Ptr connectorHealth(const std::string& name) const = 0;
  /// Destination name → organisation.
  virtual std::map<std::string, std::string> destinationOrgs() const = 0;
  virtual Poco::JSON::Object::Ptr destinationHealth(const std::string& name) const = 0;
  /// The backups, or nullptr when security.key_file is not set (backups are always encrypted).
  virtual BackupControl* backups() const { return nullptr; }
  /// The server's Ed25519 key that signs electronic signatures; null when there is none (the
  /// signature endpoints answer 503).
  virtual std::shared_ptr<const security::SigningKey> signingKey() const { return nullptr; }
  /// QA release: `released` (the approved results, with their signature) rendered for every
  /// destination of connector `connector`, exactly as the pipeline renders auto-released results.
  virtual std::vector<OutboundDraft> renderRelease(const std::string& connector,
                                                   const Message& released) const {
    (void)connector;
    (void)released;
    return {};
  }
  /// Wakes the delivery workers after a commit that queued outbound items.
  virtual void wakeDelivery() const {}
  /// The id of the first PHI-gate pattern that finds a patient identifier in `text` (free text a
  /// person wrote: a reason, a comment), or "" when none does. Never keeps or logs the text.
  virtual std::string identifyingPattern(const std::string& text) const {
    (void)text;
    return "";
  }
  /// Parses a mapping spreadsheet with the registered mapping stage (every problem listed);
  /// without one, a single problem says so.
  virtual ParsedMappings parseMappings(std::string_view bytes, const std::string& source) const {
    (void)bytes;
    ParsedMappings out;
    out.problems.push_back({0, 0, "", source + ": this build registers no mapping stage"});
    return out;
  }
  /// Version `version` of mapping set `name` of `orgId` was just activated: every connector bound
  /// to the set takes it for its next message (a message in progress finishes with the version
  /// it started with).
  virtual void mappingSetActivated(const std::string& orgId, const std::string& name,
                                   int64_t version) const {
    (void)orgId;
    (void)name;
    (void)version;
  }
  /// The calibration curve of `analyte` in stored batch `batch` of connector `connector` (of
  /// `orgId`), fitted by the connector's current rule set exactly as its rules fit it
  /// (RulesStage::calibrationCurve): the API does not link the rules, the engine holds them.
  /// nullopt without such a connector, without a rule set or without calibrators.
  virtual std::optional<CalibrationCurveView> calibrationCurve(const std::string& orgId,
                                                               const std::string& connector,
                                                               const Message& batch,
                                                               const std::string& analyte) const {
    (void)orgId;
    (void)connector;
    (void)batch;
    (void)analyte;
    return std::nullopt;
  }
  /// Stored batches evaluated again (engine/pipeline/reevaluation.h); null when there is none
  /// (the re-evaluation endpoints answer 503).
  virtual Reevaluator* reevaluator() const { return nullptr; }
};

class Api {
 public:
  /// Reads the password blocklist and custom roles (errors name the key). Session and API-key
  /// timeouts, logins and lockouts are judged against `clock` (it must outlive the Api).
  static StatusOr<std::unique_ptr<Api>> create(std::shared_ptr<Store> store,
                                               SecuritySettings settings, const EngineView& engine,
                                               const WallClock& clock = systemClock());
  ~Api();

  /// First start: with no user at all, creates organisation "default" and user "admin" with
  /// `adminPassword` (from LABGATE_ADMIN_PASSWORD; nullptr when unset). Refuses, naming the
  /// variable, when there is no user and no password, or the password fails the policy.
  Status bootstrap(const char* adminPassword);

  /// True for paths under /api/v1/.
  static bool handles(const std::string& path);
  void handle(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response);

 private:
  class Impl;
  explicit Api(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace labgate::api
