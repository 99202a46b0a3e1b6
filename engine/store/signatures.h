// SignatureStore: batches as the QA staff see them, and the 21 CFR Part 11 electronic signatures
// on them (docs/signatures.md, docs/adr/0013-electronic-signatures.md).
//
// - A batch is one stored message. A result *waits* when the rules held it (disposition hold, or
//   reject = marked for re-run) and QA has not decided it yet (qa_state '' or 'reviewed'). A batch
//   is `held` while any result waits; otherwise `rejected` when QA rejected any result, else
//   `released`.
// - The canonical record of a batch version (canonicalRecord) is the JSON text whose SHA-256 a
//   signature covers: the batch id, each patient result (id, code, value, units, disposition,
//   findings) and the signatures made before, with object keys sorted and no white space. Nothing
//   in it changes when a signature is made except the list of earlier signatures, so a signature
//   stays verifiable for ever, and any later edit of a signed value breaks it.
// - sign() writes a signature, the results' QA state, the released results' outbound items and
//   the audit event in ONE transaction, after checking (in that transaction) that the batch is
//   still the version the signer saw.
//
// Every query filters on org_id: another organisation's batch is "not found".
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "engine/model/status.h"
#include "engine/store/accounts.h"
#include "engine/store/store.h"

namespace labgate {

struct BatchFilter {
  std::string state;       // "", "held", "released", "rejected"
  std::string instrument;  // exact
  std::string from, to;    // on received_at, inclusive
};

struct BatchSummary {
  int64_t id = 0;  // the message id
  std::string connector, instrument, format, sourceName, receivedAt, state;
  int64_t sampleCount = 0;
  int64_t resultCount = 0;
  int64_t waiting = 0;                      // results waiting for a QA decision
  std::vector<std::string> meaningsSigned;  // the meanings signed so far, oldest first
};

struct BatchFindingRecord {
  std::string analyte, ruleId, severity, message, measured, limit, action;
};

struct BatchResultFinding {
  std::string ruleId, severity, message, measured, limit, action;
};

struct BatchResult {
  int64_t id = 0;
  int64_t sampleRow = 0;
  std::string sampleId, sampleKind, sampleAcquiredAt;
  std::string instrumentCode, lisCode, lisName, value, units, referenceRange, flags, status,
      measuredAt, comment, disposition, qaState;
  int decimals =
      -1;  // the mapping's digits for the LIS (-1: as sent); not part of the signed record
  std::vector<BatchResultFinding> findings;
  /// Held by the rules and not decided by QA yet.
  bool waiting() const {
    return (disposition == "hold" || disposition == "reject") &&
           (qaState.empty() || qaState == "reviewed");
  }
};

struct SignatureRecord {
  int64_t id = 0;
  std::string orgId;
  int64_t batchId = 0;
  int64_t userId = 0;
  std::string username, printedName;
  int64_t sessionId = 0;
  std::string meaning, reason, signedAt;
  std::vector<int64_t> resultIds;
  std::string recordSha256;
  std::string signedBytes;  // exactly the bytes the server key signed (JSON text)
  std::string signature;    // base64 of the Ed25519 signature
  std::string keyId;        // the signing key's fingerprint
};

struct BatchDetail {
  BatchSummary summary;
  std::vector<BatchResult> results;  // patient results only (no internal standards)
  std::vector<BatchFindingRecord> batchFindings;
  std::vector<SignatureRecord> signatures;  // oldest first
};

/// What sign() is asked to write.
struct SignatureDraft {
  SignatureRecord signature;  // everything but id
  /// The canonical record's SHA-256 the signer saw: the batch must still hash to it.
  std::string expectedRecordSha256;
  /// The QA state the covered results take ("reviewed", "approved", ...).
  std::string qaState;
  /// Outbound items (approved results rendered for the connector's destinations).
  std::vector<OutboundDraft> outbound;
  AuditEvent audit;
};

/// The canonical JSON text of one result as a record holds it (keys sorted, no white space).
std::string canonicalResult(const BatchResult& result);
/// The canonical JSON text of a batch version: `results` of the batch and the `earlier`
/// signatures. Pure.
std::string canonicalRecord(int64_t batchId, const std::vector<BatchResult>& results,
                            const std::vector<SignatureRecord>& earlier);

class SignatureStore {
 public:
  explicit SignatureStore(std::shared_ptr<Store> store);

  Page<BatchSummary> batches(const std::string& orgId, const BatchFilter& filter,
                             const PageRequest& page);
  std::optional<BatchDetail> batch(const std::string& orgId, int64_t id);

  /// Writes `draft` (see the file comment). Status::rejected("record_sha256", ...) when the batch
  /// changed since; Status::notFound when it is not the organisation's. Returns the new id.
  StatusOr<int64_t> sign(const SignatureDraft& draft);

  std::optional<SignatureRecord> signature(const std::string& orgId, int64_t id);
  /// Whether the session has made a signature already (§11.200: the first needs every factor).
  bool sessionHasSigned(int64_t sessionId);

  /// Held results waiting for QA per instrument: count and the oldest one's received_at.
  struct Waiting {
    std::string orgId, instrument, oldestReceivedAt;
    int64_t results = 0;
  };
  static std::vector<Waiting> waitingByInstrument(Store& store);

  /// How many signatures (of every organisation) each signing key made: key fingerprint → count,
  /// ordered by fingerprint. Start-up warns about those another key made (docs/backup.md).
  static std::vector<std::pair<std::string, int64_t>> signaturesByKey(Store& store);

 private:
  std::shared_ptr<Store> store_;
};

}  // namespace labgate
