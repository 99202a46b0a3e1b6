// MappingSetStore: code mapping sets kept in the store, versioned (docs/mappings.md, migration 10).
//
// - A set is (organisation, name). A version is the CSV text as uploaded (decoded to UTF-8), its
//   row count and SHA-256, who made it, when, and a comment. Versions are numbered 1, 2, ... per
//   set and never change.
// - The active version of a set is the one its latest activation names. Activations are kept for
//   ever (the history: who, when, old → new version, the reason and, when signed, the electronic
//   signature). Each activation and each new version is an audit event written in the same
//   transaction.
// - importFile() is the spreadsheet-on-disk workflow (connector.NAME.mappings): a file whose
//   content differs from the version the configuration stored last becomes a new version (created
//   by "configuration") and is activated, in one transaction, audited with actor "configuration".
//   An unchanged file changes nothing, so a version activated through the API stays active.
//
// Every query filters on org_id: another organisation's set is "not found".
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/model/mapping_stage.h"
#include "engine/model/status.h"
#include "engine/store/audit.h"
#include "engine/store/store.h"

namespace labgate {

struct MappingSetVersion {
  int64_t version = 0;
  std::string csv;  // the CSV text (UTF-8)
  int64_t rowCount = 0;
  std::string sha256;  // of csv
  std::string createdBy, createdAt, comment;
};

struct MappingSetActivation {
  int64_t id = 0;
  int64_t version = 0;
  int64_t previousVersion = 0;  // 0: none was active
  std::string activatedBy;      // audit actor: "user:alice", "apikey:3", "configuration"
  std::string activatedAt;
  std::string reason;
  int64_t sessionId = 0;  // the signer's session (0 when not signed)
  // The electronic signature (all empty when the activation was not signed).
  std::string printedName, meaning, signedBytes, signature, keyId;
  bool isSigned() const { return !signature.empty(); }
};

struct MappingSetSummary {
  std::string name;
  std::string createdAt;
  int64_t latestVersion = 0;
  std::optional<MappingSetActivation> active;  // the latest activation
};

struct MappingSetDetail {
  MappingSetSummary summary;
  std::vector<MappingSetVersion> versions;        // oldest first, csv left empty
  std::vector<MappingSetActivation> activations;  // oldest first
};

/// What activate() is asked to write.
struct MappingActivationDraft {
  std::string orgId, setName;
  int64_t version = 0;
  /// The version the caller saw active (0 = none); the activation is refused (Status::rejected)
  /// when another was activated since. nullopt: not checked.
  std::optional<int64_t> expectedPrevious;
  MappingSetActivation activation;  // activatedBy, reason and the signature fields
  /// The audit event (orgId, actor, action); the store fills subject and the old → new detail.
  AuditEvent audit;
};

class MappingSetStore {
 public:
  explicit MappingSetStore(std::shared_ptr<Store> store);

  std::vector<MappingSetSummary> list(const std::string& orgId);
  std::optional<MappingSetDetail> get(const std::string& orgId, const std::string& name);
  std::optional<MappingSetVersion> version(const std::string& orgId, const std::string& name,
                                           int64_t version);
  /// The active version with its CSV text, or nullopt (no such set, or none activated yet).
  std::optional<MappingSetVersion> activeVersion(const std::string& orgId, const std::string& name);

  /// Stores `csv` as the next version of set `name` (the set is created on its first version).
  /// The audit event `audit` (orgId, actor) is written as "mapping_set.version_created" with the
  /// version, row count, SHA-256 and comment. Returns the new version number.
  StatusOr<int64_t> addVersion(const std::string& orgId, const std::string& name,
                               const std::string& csv, int64_t rowCount, const std::string& comment,
                               const AuditEvent& audit);

  /// Activates a stored version (Status::notFound for no such set or version; Status::rejected
  /// when it is already active or another version was activated since expectedPrevious).
  /// Audited "mapping_set.activated" {set, old, new, reason, signed}. Returns the activation.
  StatusOr<MappingSetActivation> activate(const MappingActivationDraft& draft);

  /// The spreadsheet-on-disk workflow (see the file comment). Returns the activated version, or
  /// nullopt when the file is the active version already (nothing written).
  StatusOr<std::optional<int64_t>> importFile(const std::string& orgId, const std::string& name,
                                              const std::string& csv, int64_t rowCount,
                                              const std::string& path);

  /// Whether the session has signed a mapping-set activation (§11.200: the first signature of a
  /// session needs every factor).
  bool sessionHasSigned(int64_t sessionId);

 private:
  std::shared_ptr<Store> store_;
};

}  // namespace labgate
