// DeliveryWorker: drains one destination's durable queue, in order.
// AA-like answers mark the item delivered; rejections dead-letter it with the reason and move on;
// no answer, timeouts and refused connections retry the same item with capped exponential
// backoff for as long as it takes. A restart resumes exactly where it stopped: the queue is the
// database.
// Pipelined (issue 16, docs/adr/0018-pipelined-delivery.md): the sending thread reads a window of
// queued items at once and, when the LIS answered quickly, sends the next item while a second
// thread commits the outcomes of the last ACKs, several in one transaction. At most
// `pipelineDepth` acknowledged outcomes wait for their commit at any time; a crash sends those
// (and the one on the wire) again: at-least-once, in order. A retry, a slow answer (the commit
// costs little beside it) or depth 0 waits for every outcome's commit before the next send.
// The LIS's reason for a rejection (MSA-3, ERR) is text the LIS wrote, which may name the patient
// it looked up: with a PHI gate it is screened before it is stored, logged or shown, and withheld
// (naming the pattern ids) when the gate finds identifying data in it.
#pragma once

#include <Poco/JSON/Object.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "engine/net/interfaces.h"
#include "engine/phi/phi_gate.h"
#include "engine/store/store.h"

namespace labgate {

struct RetryPolicy {
  int64_t initialMillis = 1000;
  int64_t maxMillis = 60000;
};

/// How a worker pipelines (destination.NAME.pipeline_depth).
struct PipelineOptions {
  /// Acknowledged outcomes that may wait for their commit while the next item is sent; 0: each
  /// outcome is committed before the next send (one resend at most after a crash).
  int depth = 32;
  /// Queued items read from the store at once.
  size_t window = 64;
  /// An answer slower than this is committed before the next send: the commit then costs little
  /// beside the LIS's own time, and a crash resends one message at most.
  std::chrono::milliseconds slowAnswer{20};
};

/// The delivery lease on a shared (PostgreSQL) store (node.id, delivery.lease_seconds; ADR 0021).
struct LeaseOptions {
  std::string nodeId = "local";
  /// How long a lease lasts without renewal; renewed when a third of it is used. A node that
  /// could not renew stops sending at 90 % of it, before any other node may take it over.
  std::chrono::milliseconds ttl{15000};
};

/// Delay before retry number `attempt` (1-based): initial * 2^(attempt-1), capped. Pure.
int64_t backoffMillis(const RetryPolicy& policy, int attempt);

/// `reason` (a LIS's rejection text) as it may be stored, logged and shown: unchanged when `gate`
/// finds nothing identifying in it, else a sentence that names the pattern ids and withholds it.
std::string screenLisReason(const phi::PhiGate& gate, const std::string& reason);

class DeliveryWorker {
 public:
  /// `gate` screens the LIS's rejection reasons (screenLisReason); null: stored as received.
  DeliveryWorker(std::string name, std::string kind, std::shared_ptr<Destination> destination,
                 std::shared_ptr<Store> store, RetryPolicy retry,
                 std::shared_ptr<const phi::PhiGate> gate = nullptr, PipelineOptions pipeline = {});
  ~DeliveryWorker();

  /// Before start(): the node's name and lease length (default: "local", 15 s).
  void setLease(LeaseOptions lease) { lease_ = std::move(lease); }
  void start();
  void stop();
  /// Something was queued: look now instead of at the next poll.
  void wake();
  Poco::JSON::Object::Ptr health() const;

 private:
  void run();
  void commitLoop();
  /// Sends `item` and hands its outcome to the committer. False: the items read after it must
  /// be read again from the queue (a retry, or a commit failed).
  bool deliverOne(const OutboundItem& item);
  /// Hands an outcome to the committer, then waits until at most `unrecorded` outcomes are left
  /// uncommitted. False when a commit failed (the outcome was not taken) or on stop.
  bool handOver(OutboundOutcome outcome, size_t unrecorded);
  /// The ids of the items whose outcome is not committed yet.
  std::vector<int64_t> unrecordedIds() const;
  /// Waits until the committer recorded something (or a stop).
  void waitCommitted();
  void waitFor(int64_t millis);
  /// True while this node may send: its lease is held and not near its end, renewing or taking
  /// it when due (always true on SQLite). Logs and records each change of holder.
  bool holdLease();
  /// The INFO summary of what was delivered since the last one (every 10 s at most while
  /// delivering, and when the queue runs empty); per-item lines are DEBUG.
  void logSummary(bool force);

  std::string name_;
  std::string kind_;
  std::shared_ptr<Destination> destination_;
  std::shared_ptr<Store> store_;
  RetryPolicy retry_;
  std::shared_ptr<const phi::PhiGate> gate_;
  PipelineOptions pipeline_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;       // the sender: new work, or stop
  std::condition_variable committed_;  // the committer: work to commit; the sender: progress
  bool stopping_ = false;
  bool committerStopping_ = false;
  bool woken_ = false;
  std::string state_ = "idle";
  std::string lastError_;
  int consecutiveFailures_ = 0;
  int64_t delivered_ = 0;                 // total: read from the store at start, then counted here
  std::vector<OutboundOutcome> pending_;  // handed over, not yet taken by the committer
  std::vector<int64_t> committing_;       // ids the committer is writing now
  bool resync_ = false;   // a commit failed: outcomes dropped, the sender reads the queue again
  uint64_t commits_ = 0;  // batches the committer finished (waitCommitted)
  // The summary line.
  int64_t summaryDelivered_ = 0;
  int64_t summaryDead_ = 0;
  int64_t summaryCommits_ = 0;
  int64_t summaryFirstId_ = 0;
  int64_t summaryLastId_ = 0;
  std::chrono::steady_clock::time_point summaryAt_ = std::chrono::steady_clock::now();
  // The lease (run()'s thread only, except the health fields under mutex_).
  LeaseOptions lease_;
  std::chrono::steady_clock::time_point leaseSendUntil_{};  // stop sending at this time
  std::chrono::steady_clock::time_point leaseRenewAt_{};    // renew from this time
  bool leaseHeld_ = false;                                  // under mutex_
  std::string leaseHolder_;                                 // under mutex_
  std::thread thread_;
  std::thread committer_;
};

}  // namespace labgate
