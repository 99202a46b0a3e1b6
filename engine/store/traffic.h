// TrafficStore: what came in and what the LIS refused (issue 14, docs/operations.md "Received
// messages" and "Dead letters").
//
// - Received messages are read from the audit trail, not from a table of their own: every
//   outcome of a received message is already an audit event written in the transaction that
//   decided it (message.accepted, message.duplicate in Store::commitInbound and the export path;
//   message.refused and message.invalid in the pipeline), with the connector as actor and field
//   locations, pattern ids and reasons in the detail, never a value. Reading them there needs no
//   second record of the same fact and lists messages received before this feature existed. The
//   cursor of a page is the audit event's sequence number.
// - Dead letters are outbound items in state 'dead' (the LIS answered AE/AR). resend() puts one
//   back into its destination's queue in its original place: the queue is ordered by the item's
//   id, so the message goes before every item created after it that still waits, and the
//   destination's worker delivers it as soon as the items created before it are done.
//
// Every query filters on org_id: another organisation's row is "not found".
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/model/status.h"
#include "engine/store/accounts.h"
#include "engine/store/store.h"

namespace labgate {

/// The outcomes a received message can have, as the API names them.
inline constexpr const char* kReceivedOutcomes[] = {"accepted", "refused", "invalid", "duplicate"};

struct ReceivedFilter {
  std::string connector;  // exact, "" = all
  std::string outcome;    // one of kReceivedOutcomes, "" = all
  std::string from, to;   // inclusive ISO-8601 bounds on the time the outcome was recorded
};

/// A field location and what was found there (never the field's value).
struct ReceivedLocation {
  std::string location;  // "PID-5", "R-3", "file name", "line 12"
  std::string reason;    // "refused by the PHI gate (structural.PID-5)"
};

struct ReceivedMessage {
  int64_t id = 0;  // the audit event's sequence number (the page cursor)
  std::string at;  // when the outcome was recorded (ISO-8601 UTC)
  std::string connector, instrument, outcome, peer;
  std::optional<int64_t> batchId;  // accepted: the stored batch; duplicate: the earlier one
  std::string file;                // exports: the file name (when the PHI gate passed it)
  std::string reason;              // one line: what happened and why
  std::vector<ReceivedLocation> locations;
};

struct DeadLetter {
  int64_t id = 0;  // the outbound item
  std::string destination, controlId, ackCode, reason, queuedAt, deadAt;
  int64_t batchId = 0;                 // the message whose results it carries
  std::vector<std::string> sampleIds;  // the batch's patient samples
  int64_t attempts = 0;
};

/// What resend() did.
struct Resent {
  int64_t id = 0;
  std::string controlId;
  int64_t aheadOf = 0;  // items of the destination still waiting that were created after it
};

class TrafficStore {
 public:
  explicit TrafficStore(std::shared_ptr<Store> store) : store_(std::move(store)) {}

  /// Received messages of `orgId`, newest first.
  Page<ReceivedMessage> received(const std::string& orgId, const ReceivedFilter& filter,
                                 const PageRequest& page);

  /// Dead letters of `destination` (which must be `orgId`'s), newest first.
  Page<DeadLetter> deadLetters(const std::string& orgId, const std::string& destination,
                               const PageRequest& page);

  /// How many dead letters `destination` holds now (an index range: cheap enough for /health).
  int64_t deadLetterCount(const std::string& destination);

  /// Puts dead letter `id` of `destination` back into the queue (state queued, attempts from 0,
  /// due now) and audits `outbound.resent` with `actor` and `reason`, in one transaction.
  /// Status::notFound when there is no such item of `orgId` and `destination`;
  /// Status::rejected when it is not (or no longer) a dead letter.
  StatusOr<Resent> resend(const std::string& orgId, const std::string& destination, int64_t id,
                          const std::string& actor, const std::string& reason);

 private:
  std::shared_ptr<Store> store_;
};

}  // namespace labgate
