// Retention of delivered message bodies and peak data (docs/adr/0023-retention-and-archives.md,
// docs/operations.md "Retention and archives"): which messages' content may be pruned, archives
// written before pruning (encrypted and authenticated like backups), the archive ledger, and the
// pruning itself (audited "retention.pruned").
//
// What is pruned: the sealed received bytes of a message (message_bodies and, for an export, its
// sealed file under <data.dir>/bodies) and the peak rows of its results. Nothing else: messages,
// samples, results, findings, signatures, QC history and the audit trail stay for as long as the
// lab's records policy says (the engine never deletes them). A message is never touched while
// one of its results waits for a QA decision (held or rejected by the rules, not yet approved or
// rejected by QA) or while one of its outbound items is not delivered (queued, in flight,
// retrying, dead-lettered).
//
// Archive file format (NAME.lga):
//   "LGA1" | header length (uint32 BE) | header (JSON) | the payload, zlib-compressed, sealed
//   with security::Keyring::sealStream (the chunk format of sealFile) under the archive's own
//   data key
// The header names the key-encryption key (fingerprint), carries the archive's data key wrapped
// under it and the summary (range, counts, the payload's SHA-256). The exact header bytes are the
// sealed payload's AAD: a changed summary or key makes every chunk fail to open. The payload is a
// SQLite database (tables info, messages, samples, peaks, bodies, body_chunks) holding the pruned
// content in clear, readable with the key file alone. SQL on the store is portable between SQLite
// and PostgreSQL (COMMON17.md); the payload is always a SQLite file.
//
// Thread-safety: RetentionStore may be used from any thread (the store serialises writes);
// writeArchive and prune should not run twice at once on one store (the CLI runs one at a time).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "engine/model/status.h"
#include "engine/security/keyring.h"

namespace labgate {
class Store;
}

namespace labgate::retention {

inline constexpr const char* kArchiveMagic = "LGA1";
inline constexpr const char* kArchiveExtension = ".lga";

/// The retention.* keys as the engine's scheduled pass applies them.
struct Policy {
  int64_t bodyDays = 0;  // retention.body_days: 0 = kept forever
  int64_t peakDays = 0;  // retention.peak_days: 0 = kept forever
  /// retention.archive_required: true = the engine prunes only what an archive covers.
  bool archiveRequired = true;
};

/// What an archive holds (its header's summary).
struct Summary {
  std::string createdAt;  // ISO-8601 UTC
  std::string before;     // the --before bound, ISO-8601 UTC (received before it)
  std::string version;    // labgated's version
  int64_t messages = 0;
  int64_t samples = 0;
  int64_t bodies = 0;
  int64_t bodyBytes = 0;
  int64_t peaks = 0;
  int64_t firstMessage = 0;  // message ids, 0 when none
  int64_t lastMessage = 0;
  std::string firstReceived;  // received_at of the oldest and newest message held
  std::string lastReceived;
  std::string payloadSha256;
  int64_t payloadBytes = 0;

  std::string toJson() const;
};

/// What pruning removed (one pass).
struct Pruned {
  int64_t messages = 0;  // messages whose content was pruned
  int64_t bodies = 0;
  int64_t bodyBytes = 0;
  int64_t peaks = 0;
  int64_t skipped = 0;  // covered by the archive but not prunable now (held, undelivered)
};

/// One row of the archive ledger.
struct LedgerEntry {
  int64_t id = 0;
  std::string createdAt, createdBy, before, fileName, fileSha256;
  int64_t fileBytes = 0, messages = 0, bodies = 0, bodyBytes = 0, peaks = 0;
  int64_t pending = 0;  // covered messages not pruned yet
};

/// What writeArchive produced.
struct Written {
  std::string path;
  std::string sha256;  // of the whole file
  int64_t bytes = 0;
  Summary summary;
  int64_t ledgerId = 0;  // 0 when nothing was archived (no file written)
};

/// "2026-01-01" or a full ISO-8601 UTC time → the store's form "YYYY-MM-DDTHH:MM:SS.mmmZ"
/// (compared as text with received_at); nullopt when not a date.
std::optional<std::string> normaliseBound(const std::string& text);

/// The ISO-8601 UTC time `days` days before `nowIso` (store form); nullopt when `nowIso` is not
/// a time.
std::optional<std::string> daysBefore(const std::string& nowIso, int64_t days);

class RetentionStore {
 public:
  explicit RetentionStore(Store& store) : store_(store) {}

  /// Ids of the messages received before `before` (store form) that hold content to prune and
  /// may be pruned (no result waiting for QA, every outbound item delivered), ascending.
  std::vector<int64_t> prunable(const std::string& before);

  /// Writes the content of prunable(before) to the archive file `out` (which must not exist;
  /// written as out + ".partial", fsynced, renamed, its folder fsynced), decrypts it again to
  /// check it, and records it in the ledger (audit "retention.archived"). `workDir` holds the
  /// clear payload while it is built, in a private folder removed afterwards. Nothing in the
  /// store changes before the file is durable; on any failure no file is left and the store is
  /// untouched. With nothing to archive no file is written (ledgerId 0). `progress` (may be
  /// empty) is told what happens, for people.
  StatusOr<Written> writeArchive(const std::string& before, const security::KeyEncryptionKey& kek,
                                 const std::string& out, const std::string& workDir,
                                 const std::string& actor,
                                 const std::function<void(const std::string&)>& progress = {});

  /// Prunes the bodies and peaks of the messages archive `ledgerId` covers that may still be
  /// pruned, in transactions of at most `batch` messages, each with its audit event
  /// "retention.pruned" (counts and the archive's digest). Sealed body files are removed after
  /// their transaction committed.
  StatusOr<Pruned> pruneArchive(int64_t ledgerId, const std::string& actor, size_t batch = 200);

  /// The engine's scheduled pass at `nowIso`: bodies older than policy.bodyDays and peaks older
  /// than policy.peakDays, of prunable messages, that an archive covers; or, with
  /// archiveRequired false, whether archived or not. Nothing when both periods are 0.
  StatusOr<Pruned> pruneScheduled(const Policy& policy, const std::string& nowIso,
                                  size_t batch = 200);

  /// The ledger, oldest first.
  std::vector<LedgerEntry> ledger();

 private:
  /// Ids of prunable messages received before `before` that hold bodies and/or peaks.
  std::vector<int64_t> select(const std::string& before, bool bodies, bool peaks,
                              bool archivedOnly);
  /// What one pruning run removes and how its audit events name it.
  struct Job {
    std::string actor;
    std::string reason;         // "archive" | "period"
    std::string archiveSha256;  // the archive's digest; "" (not archived) or "archived" (period)
    int64_t archiveId = 0;
    bool bodies = true;
    bool peaks = true;
  };
  StatusOr<Pruned> pruneIds(const std::vector<int64_t>& ids, const Job& job, size_t batch);

  Store& store_;
};

/// What verifyArchive found.
struct Verified {
  Summary summary;
  std::string kekFingerprint;
  std::string fileSha256;
  int64_t fileBytes = 0;
  std::vector<std::string> instruments;  // distinct instruments of the archived messages
  std::vector<std::string> orgs;         // distinct organisations
};

/// Checks an archive file: the header, the key (Status::config naming both fingerprints when
/// `kek` is another key), every sealed chunk's authentication (Status::invalid "does not
/// authenticate" when a byte changed), the payload's SHA-256 and size, the counts of the summary
/// against the rows, and each body's SHA-256 and size. The clear payload is decrypted into a
/// private folder under `workDir`, removed afterwards.
StatusOr<Verified> verifyArchive(const std::string& file, const security::KeyEncryptionKey& kek,
                                 const std::string& workDir);

}  // namespace labgate::retention
