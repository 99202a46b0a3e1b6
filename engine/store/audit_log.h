// The audit trail as a sequence for the ones who check and carry it: walking the hash chain
// (labgate audit verify, GET /api/v1/audit/verification, backups) and reading it in order behind a
// durable cursor per forwarder (engine/net/audit_forwarder.h, migration 9). The chain itself is
// defined in audit.h; events are written only by Store (in the transaction of each change).
// Thread-safety: every method may be called from any thread (reads on the store's reader, writes
// through its writer).
#pragma once

#include <Poco/Data/Session.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/model/status.h"

namespace labgate {

class Store;

/// One stored audit event with its place in the chain: `id` is its sequence number.
struct ChainedEvent {
  int64_t id = 0;
  std::string orgId, at, actor, action, subject, detail, prevHash, hash;
};

/// The outcome of walking the chain from the first event to the last (or the first broken one).
struct AuditChainReport {
  bool valid = true;
  int64_t events = 0;  // events checked (up to and including a broken one)
  int64_t lastId = 0;  // the last event checked
  std::string head;    // hash of the last event of an intact chain (64 zeros when none)
  // When !valid: the first broken event and what differs.
  int64_t brokenId = 0;
  std::string brokenOrg, brokenAt, brokenAction;
  std::string problem;  // "content" (fields changed) | "link" (prev_hash not the previous hash)
  std::string reason;   // in words, naming the event and the hashes (never a field's value)
  std::string expected, stored;  // the hash the chain expects here, and the one stored
};

/// Reads up to `count` events after sequence number `afterId`, in order.
using AuditPageReader = std::function<std::vector<ChainedEvent>(int64_t afterId, size_t count)>;
/// Walks the chain page by page (memory stays bounded; a live store's reader is held for one
/// page at a time, not for the whole walk).
AuditChainReport walkAuditChain(const AuditPageReader& readPage);
/// Walks the chain of the database behind `session`.
AuditChainReport walkAuditChain(Poco::Data::Session& session);
/// Walks the chain of the SQLite file `dbPath` (a stopped engine's labgate.db, a restored or
/// decrypted backup) without migrating or writing it. Status::notFound when it does not exist,
/// Status::io when it is not a LabGate database.
StatusOr<AuditChainReport> verifyAuditDatabase(const std::string& dbPath);
/// The report as JSON text: {"valid", "events", "last_id", "head", "broken": null | {...}}.
std::string auditReportJson(const AuditChainReport& report);
/// One event as the JSON object forwarders send (members in a fixed order; detail as the exact
/// stored text, so that a receiver can recompute the chain hash).
std::string auditEventJson(const ChainedEvent& event);

/// What a forwarder has not sent yet.
struct AuditLag {
  int64_t events = 0;                      // events after the cursor
  std::optional<int64_t> oldestAgeMillis;  // age of the oldest of them; nullopt when none
};

class AuditLog {
 public:
  explicit AuditLog(std::shared_ptr<Store> store);

  /// The chain of the live store.
  AuditChainReport verify();
  /// Up to `limit` events after sequence number `afterId`, in order.
  std::vector<ChainedEvent> after(int64_t afterId, size_t limit);
  /// Forwarder `name`'s cursor: the last sequence number it delivered (0 = none yet).
  int64_t cursor(const std::string& name);
  /// Moves `name`'s cursor to `event` (durable when OK).
  Status advance(const std::string& name, const ChainedEvent& event);
  /// The sequence number of the last event (0 when there is none).
  int64_t lastId();
  /// Events after `cursorId` and the age of the oldest of them.
  AuditLag lag(int64_t cursorId);

 private:
  std::shared_ptr<Store> store_;
};

}  // namespace labgate
