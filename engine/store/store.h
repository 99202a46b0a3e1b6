// Store: the one place LabGate's durable state lives (POCO Data on SQLite, the embedded default, or
// on PostgreSQL for several nodes: store.url, engine/store/sql_dialect.h, ADR 0021).
// Repository-style methods with intention-revealing names; no SQL outside engine/store.
//
// Durability: journal_mode=WAL with synchronous=FULL on every connection; a method that returns OK
// has committed. Throughput comes from group commit: all writes go through one writer thread, which
// takes every job waiting at that moment into one transaction (a SAVEPOINT per job, so one failing
// job does not undo the others) and confirms them together after a single fsync.
//
// Every change writes its audit event in the same transaction (see audit.h: append-only and
// hash-chained). Thread-safety: every public method may be called from any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <istream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/model/model.h"
#include "engine/model/outbound.h"
#include "engine/model/status.h"

namespace labgate {

namespace security {
class Keyring;
}
namespace retention {
class RetentionStore;
}

struct AuditEvent {
  std::string orgId = "default";
  std::string actor;    // "connector:lab1", "destination:lis", "engine"
  std::string action;   // "message.accepted", "message.refused", "outbound.delivered", ...
  std::string subject;  // "message:12", "outbound:7", ...
  std::string detail;   // JSON text; never a patient value
};

/// One outbound message to queue for a destination in the inbound commit.
struct OutboundDraft {
  std::string destination;
  std::string controlId;
  std::string payload;
};

/// An export's received file sealed under <data.dir>/bodies before its commit (encryption at rest,
/// docs/adr/0008-encryption-at-rest.md).
struct SealedBodyFile {
  std::string name;  // the file's name under <data.dir>/bodies
  uint32_t keyId = 0;
  int64_t size = 0;  // bytes received
};

/// Where the background re-encryption stands (Store::startReencrypt).
struct ReencryptProgress {
  std::string state = "idle";  // idle | running | done | failed
  int64_t total = 0;           // stored items to re-seal (bodies and TOTP secrets)
  int64_t done = 0;
  uint32_t keyId = 0;             // the data key the job seals with
  std::vector<uint32_t> retired;  // data keys retired at the end
  std::string error;              // failed: what went wrong (never content)
};

/// Everything one accepted inbound message commits, in one transaction.
struct InboundCommit {
  std::string orgId = "default";
  std::string connector;
  std::string instrument;
  std::string format;  // "astm", "hl7", ...
  std::string peer;
  std::string receivedAt;                 // ISO-8601 UTC
  std::string contentSha256;              // of the received bytes, to recognise retransmissions
  std::string sourceName;                 // exports: the file name, when the PHI gate passed it
  Message message;                        // after the PHI gate: holds nothing identifying
  std::vector<Disposition> dispositions;  // one per result, in message order
  std::vector<OutboundDraft> outbound;
  std::vector<AuditEvent> audit;  // extra events beside "message.accepted" (e.g. phi_stripped)
  /// When true and message.controlId is not empty, a message whose (connector, message.sender,
  /// controlId, contentSha256) was stored before is a resend and is not stored again: the commit
  /// records a "message.duplicate" audit event and reports the earlier message (an HL7 sender
  /// that lost our ACK). The same sender and control id with other content is a new message
  /// (instruments restart their counters): it is stored, with a "message.control_id_reused"
  /// audit event naming the earlier message (docs/adr/0010-resend-is-same-content.md).
  bool deduplicate = false;
  /// The key's sender when not message.sender (exports key on "file" + content hash).
  std::string dedupeSender;
  /// Encryption at rest: the received bytes, stored sealed with the message. Only bytes the PHI
  /// gate passed unchanged; ignored when the store has no keyring.
  std::string rawBody;
  /// Exports: the received file, sealed before the commit (Store::sealBodyFile); removed again
  /// when the commit stores nothing.
  std::optional<SealedBodyFile> bodyFile;
};

/// What commitInbound did.
struct InboundReceipt {
  int64_t messageId = 0;   // the new row, or the earlier one for a duplicate
  bool duplicate = false;  // true: nothing was stored, the message had been stored before
  /// Stored as new although an earlier message (this id) had the same sender and control id with
  /// other content; 0 when not.
  int64_t reusedControlIdOf = 0;
};

/// What became of one delivery attempt, recorded by Store::recordOutcomes (several in one
/// transaction: the delivery worker batches the outcomes of the LIS's ACKs).
struct OutboundOutcome {
  enum class Kind { kDelivered, kDeadLetter, kRetry };
  Kind kind = Kind::kDelivered;
  OutboundItem item;             // id, orgId, destination and controlId are used (not the payload)
  std::string ackCode;           // delivered, dead letter: the LIS's code
  std::string reason;            // dead letter: the LIS's (screened) reason; retry: why it failed
  int64_t retryDelayMillis = 0;  // retry: the item waits this long before it is sent again
};

/// One part of a batch export committed in parts (Store::commitExportStream, ADR 0017): samples
/// with one disposition per result, and the outbound messages of the part's released results.
struct ExportChunk {
  std::vector<Sample> samples;
  std::vector<Disposition> dispositions;  // one per result of `samples`, in order
  std::vector<OutboundDraft> outbound;
};

/// Hands a batch export to the store part by part, inside the batch's one transaction.
class ExportChunkSource {
 public:
  virtual ~ExportChunkSource() = default;
  /// The next part into `chunk` (empty when called); false when there is none left. An error
  /// abandons the commit: nothing of the batch is stored, and commitExportStream returns it.
  virtual StatusOr<bool> next(ExportChunk& chunk) = 0;
  /// After the last part: what the batch as a whole commits, into `commit` (its message without
  /// samples: sender, run order, rules version, batch findings, curves, QC values, metrics; and
  /// the outbound, audit and bodyFile members). An error abandons the commit as above.
  virtual Status finish(InboundCommit& commit) = 0;
};

struct OutboundCounts {
  int64_t queued = 0;
  int64_t delivered = 0;
  int64_t dead = 0;
};

/// Where the store lives: data.dir (SQLite's labgate.db, export body files), and store.url with
/// store.password_file for PostgreSQL (engine/store/store_url.h); url empty = SQLite.
struct StoreLocation {
  std::string dataDir;
  std::string url;
  std::string passwordFile;
};

/// Who delivers a destination's queue on a shared store (Store::acquireLease, ADR 0021).
struct DeliveryLease {
  std::string destination;
  bool held = false;            // by the node that asked
  std::string node;             // the holder ("" when nobody holds it)
  int64_t remainingMillis = 0;  // until it expires, by the database's clock
  int64_t generation = 0;       // grows with every change of holder
  bool taken = false;           // this call took it (from `previousNode`, "" = nobody)
  std::string previousNode;
};

class Store {
 public:
  /// Opens (creating when absent) `<dataDir>/labgate.db` and runs the schema migrations. With a
  /// keyring (security.key_file), received bytes are stored sealed: the data keys are unwrapped
  /// (those wrapped by the previous KEK re-wrapped, audited "key.rewrapped"), the first one made
  /// when there is none. A data key wrapped by another KEK is Status::config("security.key_file",
  /// ...) naming both fingerprints. Without a keyring nothing is sealed or opened (see
  /// encryptionKekFingerprint()).
  static StatusOr<std::shared_ptr<Store>> open(
      const std::string& dataDir, std::shared_ptr<security::Keyring> keyring = nullptr);
  /// The same at `location`: on PostgreSQL when location.url is set (the schema is migrated
  /// there, one node at a time). Status::config("store.url" / "store.password_file") for a bad
  /// value, Status::io("store.url", ...) when the server cannot be reached (no secret in it).
  static StatusOr<std::shared_ptr<Store>> open(
      const StoreLocation& location, std::shared_ptr<security::Keyring> keyring = nullptr);

  /// "sqlite" or "postgresql", and where (the file, or the URL without any secret).
  std::string backendName() const;
  std::string displayLocation() const { return display_; }
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  /// Commits an accepted message: message, samples, results, findings, outbound items and the
  /// audit events. Returns the message's row id once durable (see InboundCommit::deduplicate).
  StatusOr<InboundReceipt> commitInbound(const InboundCommit& commit);

  /// Commits a batch export in parts, in one transaction, so that only one part is in memory at
  /// a time (ADR 0017): `commit` carries what is known before the first part (organisation,
  /// connector, format, peer, content digest, source name, message.controlId, deduplicate,
  /// dedupeSender); then every part of `source` is stored as it comes, then source.finish(). A
  /// crash or an error before the end leaves nothing of the batch. The stored rows are those
  /// commitInbound stores for the same samples, dispositions and outbound messages. The writer is
  /// held for the whole import: other commits wait until it is durable.
  StatusOr<InboundReceipt> commitExportStream(InboundCommit& commit, ExportChunkSource& source);

  /// Appends one audit event on its own (e.g. a refused message, an engine start).
  Status appendAudit(const AuditEvent& event);

  /// The message stored earlier under (connector, sender, control id, content digest) by a
  /// deduplicating commit, if any: lets a 200 MB export dropped a second time be recognised
  /// before it is read.
  std::optional<int64_t> findInbound(const std::string& orgId, const std::string& connector,
                                     const std::string& sender, const std::string& controlId,
                                     const std::string& contentSha256);

  /// The oldest queued item of `destination` whose retry time has come, or nullopt. Strict order:
  /// while the head waits for its retry time, nothing behind it is returned.
  std::optional<OutboundItem> claimNext(const std::string& destination);
  /// Up to `limit` queued items of `destination` in queue order, leaving out the ids in `skip`
  /// (items sent whose outcome is not committed yet). Strict order: the list ends before the
  /// first item that waits for its retry time.
  std::vector<OutboundItem> claimQueued(const std::string& destination, size_t limit,
                                        const std::vector<int64_t>& skip);
  /// Records every outcome (as markDelivered, markDeadLetter and scheduleRetry do, with their
  /// audit events) in one transaction, in order: all of them are durable, or none (an error).
  Status recordOutcomes(const std::vector<OutboundOutcome>& outcomes);
  /// Milliseconds until the head of `destination` may be retried (0 = now), or nullopt if empty.
  std::optional<int64_t> millisUntilNext(const std::string& destination);

  /// True when several engine nodes may share this store (PostgreSQL): deliveries then need a
  /// lease. On SQLite one process owns the file and every lease is its own.
  bool shared() const;
  /// Takes or renews the lease on `destination` for `nodeId` for `ttlMillis`: held when this
  /// node held it or nobody holds it (never held, released, expired); otherwise not held, with
  /// the holder and what is left of its lease. A take is audited "delivery.lease_taken".
  /// On SQLite: held, nothing stored.
  StatusOr<DeliveryLease> acquireLease(const std::string& destination, const std::string& nodeId,
                                       int64_t ttlMillis);
  /// Gives the lease up now (a clean stop), so that another node takes over at once.
  Status releaseLease(const std::string& destination, const std::string& nodeId);

  Status markDelivered(const OutboundItem& item, const std::string& ackCode);
  Status markDeadLetter(const OutboundItem& item, const std::string& ackCode,
                        const std::string& reason);
  Status scheduleRetry(const OutboundItem& item, int64_t delayMillis, const std::string& error);

  /// Every state's count for `destination` (reads the whole queue: for start-up and tests).
  OutboundCounts outboundCounts(const std::string& destination);
  /// Items of `destination` still queued (an index range: cheap enough for every /health).
  int64_t queueDepth(const std::string& destination);
  /// How long the oldest queued item of `destination` has waited, or nullopt when none waits.
  std::optional<int64_t> oldestQueuedAgeMillis(const std::string& destination);

  /// Runs an empty job through the writer (a write transaction that changes nothing): OK when
  /// the store can take writes now (GET /ready).
  Status ping();

  /// The last `limit` QC values of (instrument, analyte), oldest first, all levels and lots: what
  /// Westgard evaluates across runs.
  std::vector<QcValue> qcHistory(const std::string& orgId, const std::string& instrument,
                                 const std::string& analyte, size_t limit);
  /// Engineering diagnostics of one instrument for the console's charts: per-batch metrics
  /// (IS area, RT, slope ...), QC values (Levey-Jennings) and how often each rule failed.
  struct Diagnostics {
    struct MetricPoint {
      std::string analyte, metric, receivedAt;
      int64_t batch = 0;
      double value = 0;
    };
    struct QcPoint {
      std::string analyte, level, lot, sampleId, receivedAt;
      int64_t batch = 0;
      double value = 0;
      std::optional<double> mean, sd;
      bool runRejected = false;
    };
    struct RuleCount {
      std::string ruleId;
      int64_t failures = 0;
    };
    std::vector<MetricPoint> metrics;
    std::vector<QcPoint> qc;
    std::vector<RuleCount> failuresByRule;
  };
  /// The last `batches` batches of `instrument` (all analytes, or one).
  Diagnostics diagnostics(const std::string& orgId, const std::string& instrument,
                          const std::string& analyte, size_t batches);

  /// The last `limit` values of a per-batch metric, oldest first (trends across batches).
  std::vector<double> batchMetricHistory(const std::string& orgId, const std::string& instrument,
                                         const std::string& analyte, const std::string& metric,
                                         size_t limit);

  /// The QC trends' state for /metrics (rules/qc_trend.h): the newest value of each per-batch
  /// metric "qc_<name>/<level>" per organisation, instrument and analyte (table qc_trend_state).
  struct LatestMetric {
    std::string orgId, instrument, analyte, metric;
    int64_t batch = 0;
    double value = 0;
  };
  std::vector<LatestMetric> latestQcTrendState();

  /// True when `orgId` has a stored message from `instrument` (another organisation's instrument
  /// is unknown to it).
  bool hasInstrument(const std::string& orgId, const std::string& instrument);

  /// Recomputes the audit chain; OK when every event's hash matches. Location names the first
  /// broken event.
  Status verifyAuditChain();

  /// Writes a consistent copy of the whole database to `path` (which must not exist) with
  /// VACUUM INTO on a connection of its own: the group-commit writer goes on committing while
  /// the copy is made (backups, engine/store/backup.h).
  Status snapshotTo(const std::string& path);

  /// True when received bytes are stored sealed (a keyring was given to open()).
  bool encryptsAtRest() const;
  /// The fingerprint of the key-encryption key wrapping the store's data keys in use; nullopt
  /// when the store holds none. The engine refuses to start without security.key_file when set.
  std::optional<std::string> encryptionKekFingerprint();
  /// Exports: seals what `in` reads, from its start, into <data.dir>/bodies, for
  /// InboundCommit::bodyFile. Memory stays bounded whatever the size.
  StatusOr<SealedBodyFile> sealBodyFile(const std::string& orgId, std::istream& in);
  /// The received bytes of message `messageId` of `orgId`, decrypted: `start` is called once with
  /// their size, then `sink` with each piece in order (false stops). Status::notFound when the
  /// message is another organisation's or no body was stored; Status::invalid when the sealed
  /// content does not verify (for an export file, possibly after earlier pieces were handed over).
  Status readRawBody(const std::string& orgId, int64_t messageId,
                     const std::function<void(int64_t size)>& start,
                     const std::function<bool(std::string_view)>& sink);
  /// Starts re-sealing every stored body and TOTP secret under a new data key, in batches through
  /// the writer, then retires the data keys that hold nothing (audit "key.created",
  /// "reencrypt.started", "reencrypt.finished"; `requestedBy` gives org and actor).
  /// Status::rejected while a job runs, Status::unavailable without a keyring.
  StatusOr<ReencryptProgress> startReencrypt(const AuditEvent& requestedBy);
  ReencryptProgress reencryptProgress() const;

  const std::string& path() const { return path_; }

 private:
  friend class AccountStore;       // writes and reads through impl_ (engine/store/accounts.cpp)
  friend class AuditLog;           // reads the chain, moves forwarders' cursors (audit_log.cpp)
  friend class SignatureStore;     // the same (engine/store/signatures.cpp)
  friend class MappingSetStore;    // the same (engine/store/mapping_sets.cpp)
  friend class ReevaluationStore;  // the same (engine/store/reevaluation_store.cpp)
  friend class TrafficStore;       // received messages, dead letters (engine/store/traffic.cpp)
  friend class ConsoleStore;       // the console's read models (engine/store/console_store.cpp)
  friend class retention::RetentionStore;  // archives and pruning (engine/store/retention.cpp)
  class Impl;
  explicit Store(std::string path);
  std::string path_;
  std::string display_;  // the file or the URL without secrets
  std::unique_ptr<Impl> impl_;
  class Encryption;  // engine/store/encryption.cpp: keys, bodies, the re-encryption job
  Status setUpEncryption();
  /// After commitInbound: removes an export's sealed file that the commit did not store.
  void finishBodyFile(const InboundCommit& commit, bool stored);
  std::shared_ptr<Encryption> encryption_;  // after impl_: destroyed (its job joined) first
};

/// The current UTC time as ISO-8601 with milliseconds, e.g. "2026-11-24T04:12:00.123Z".
std::string isoNow();
/// Milliseconds since the Unix epoch of an ISO-8601 time (util::parseIso8601, the parser the API
/// uses too); nullopt if it is not one of the forms util/iso8601.h accepts.
std::optional<int64_t> isoToUnixMillis(const std::string& iso);

}  // namespace labgate
