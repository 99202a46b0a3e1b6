// DeliveryWorker implementation (see delivery_worker.h).
#include "engine/net/delivery_worker.h"

#include <Poco/Logger.h>

#include <algorithm>
#include <chrono>
#include <string_view>

#include "engine/log/log.h"
#include "engine/metrics/metrics.h"
#include "engine/store/traffic.h"

namespace labgate {
namespace {

Poco::Logger& logger() { return Poco::Logger::get("delivery"); }

constexpr int64_t kIdlePollMillis = 1000;

/// Counts one delivery attempt; a positive acknowledgement also observes the time from queueing.
void countAttempt(const OutboundItem& item, const char* outcome) {
  metrics::deliveryAttempts().inc({item.destination, outcome});
  if (std::string_view(outcome) != "delivered") return;
  std::optional<int64_t> queuedAt = isoToUnixMillis(item.createdAt);
  if (!queuedAt) return;
  const int64_t nowMillis = std::chrono::duration_cast<std::chrono::milliseconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count();
  const int64_t waited = std::max<int64_t>(0, nowMillis - *queuedAt);
  metrics::deliveryLatency().observe({item.destination}, static_cast<double>(waited) / 1000.0);
  logDebug(logger(), "destination {}: outbound {} acknowledged {} ms after it was queued",
           item.destination, static_cast<Poco::Int64>(item.id), static_cast<Poco::Int64>(waited));
}

}  // namespace

std::string screenLisReason(const phi::PhiGate& gate, const std::string& reason) {
  // Screened as the free text of an acknowledgement's MSA-3: every pattern applies.
  Document doc;
  doc.format = SourceFormat::kHl7;
  Record record;
  record.type = "MSA";
  record.fields.resize(4);
  record.fields[0] = Field("MSA", "MSA");
  record.fields[3] = Field(reason, reason);
  doc.records.push_back(std::move(record));
  const phi::Screening screening = gate.screen(doc, phi::Policy::kRefuse);
  if (screening.clean()) return reason;
  std::string patterns;
  for (const auto& hit : screening.hits) {
    if (!patterns.empty()) patterns += ", ";
    patterns += hit.patternId;
  }
  return "(the LIS's text is withheld: the PHI gate found patient-identifying data in it: " +
         patterns + ")";
}

int64_t backoffMillis(const RetryPolicy& policy, int attempt) {
  int64_t delay = std::max<int64_t>(1, policy.initialMillis);
  for (int i = 1; i < attempt && delay < policy.maxMillis; ++i) delay *= 2;
  return std::min(delay, policy.maxMillis);
}

DeliveryWorker::DeliveryWorker(std::string name, std::string kind,
                               std::shared_ptr<Destination> destination,
                               std::shared_ptr<Store> store, RetryPolicy retry,
                               std::shared_ptr<const phi::PhiGate> gate, PipelineOptions pipeline)
    : name_(std::move(name)),
      kind_(std::move(kind)),
      destination_(std::move(destination)),
      store_(std::move(store)),
      retry_(retry),
      gate_(std::move(gate)),
      pipeline_(pipeline) {
  pipeline_.depth = std::max(0, pipeline_.depth);
  pipeline_.window = std::max<size_t>(1, pipeline_.window);
}

DeliveryWorker::~DeliveryWorker() { stop(); }

void DeliveryWorker::start() {
  OutboundCounts counts = store_->outboundCounts(name_);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    delivered_ = counts.delivered;
  }
  committer_ = std::thread([this] { commitLoop(); });
  thread_ = std::thread([this] { run(); });
}

void DeliveryWorker::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  committed_.notify_all();
  destination_->cancel();
  if (thread_.joinable()) thread_.join();
  // The sender is gone: the committer records what was acknowledged, then ends.
  {
    std::lock_guard<std::mutex> lock(mutex_);
    committerStopping_ = true;
  }
  committed_.notify_all();
  if (committer_.joinable()) committer_.join();
  // Everything acknowledged is recorded: another node may take the queue over at once.
  bool held = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    held = leaseHeld_;
  }
  if (held && store_->shared()) {
    Status released = store_->releaseLease(name_, lease_.nodeId);
    if (!released.isOk()) {
      logWarning(logger(),
                 "destination {}: lease not released ({}); another node takes over when it expires",
                 name_, released.toString());
    }
  }
  logSummary(true);
}

void DeliveryWorker::wake() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    woken_ = true;
  }
  wake_.notify_all();
}

void DeliveryWorker::waitFor(int64_t millis) {
  std::unique_lock<std::mutex> lock(mutex_);
  wake_.wait_for(lock, std::chrono::milliseconds(millis), [this] { return stopping_ || woken_; });
  woken_ = false;
}

std::vector<int64_t> DeliveryWorker::unrecordedIds() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<int64_t> ids = committing_;
  for (const OutboundOutcome& o : pending_) ids.push_back(o.item.id);
  return ids;
}

void DeliveryWorker::waitCommitted() {
  std::unique_lock<std::mutex> lock(mutex_);
  const uint64_t seen = commits_;
  committed_.wait(lock, [&] {
    return stopping_ || resync_ || commits_ != seen || (pending_.empty() && committing_.empty());
  });
}

void DeliveryWorker::run() {
  std::deque<OutboundItem> window;  // read from the queue, not sent yet
  for (;;) {
    bool resync = false;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (stopping_) return;
      if (resync_) {
        // A commit failed and its outcomes were dropped: those items are still queued, and go
        // again, in order, from the head of the queue.
        resync_ = false;
        resync = true;
      }
    }
    if (resync) {
      window.clear();
      waitFor(retry_.initialMillis);
      continue;
    }
    if (!holdLease()) {
      // Another node delivers this queue (or the lease could not be renewed in time): what was
      // read is left for the holder; look again in a third of a lease.
      window.clear();
      waitFor(std::max<int64_t>(100, lease_.ttl.count() / 3));
      continue;
    }
    // A database error must not end the worker: the queue is still on disk; log, wait, retry.
    try {
      if (window.empty()) {
        const std::vector<int64_t> unrecorded = unrecordedIds();
        std::vector<OutboundItem> items = store_->claimQueued(name_, pipeline_.window, unrecorded);
        if (!items.empty()) {
          window.assign(std::make_move_iterator(items.begin()),
                        std::make_move_iterator(items.end()));
          continue;  // the resync check above runs before the first of them is sent
        }
        if (!unrecorded.empty()) {
          waitCommitted();  // what is left is being committed; look again after
          continue;
        }
        std::optional<int64_t> wait = store_->millisUntilNext(name_);
        {
          std::lock_guard<std::mutex> lock(mutex_);
          if (!wait) state_ = consecutiveFailures_ ? "retrying" : "idle";
        }
        if (!wait) logSummary(true);
        waitFor(wait ? std::clamp<int64_t>(*wait, 1, kIdlePollMillis) : kIdlePollMillis);
        continue;
      }
      OutboundItem item = std::move(window.front());
      window.pop_front();
      if (!deliverOne(item)) window.clear();
    } catch (const Poco::Exception& e) {
      logError(logger(), "destination {}: reading the queue failed: {}", name_, e.displayText());
      window.clear();
      waitFor(kIdlePollMillis);
    } catch (const std::exception& e) {
      logError(logger(), "destination {}: reading the queue failed: {}", name_,
               std::string(e.what()));
      window.clear();
      waitFor(kIdlePollMillis);
    }
  }
}

bool DeliveryWorker::deliverOne(const OutboundItem& item) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    state_ = "delivering";
  }
  const auto sentAt = std::chrono::steady_clock::now();
  Delivery answer = destination_->deliver(item);
  const bool slow = std::chrono::steady_clock::now() - sentAt >= pipeline_.slowAnswer;
  OutboundOutcome outcome;
  outcome.item.id = item.id;
  outcome.item.orgId = item.orgId;
  outcome.item.destination = item.destination;
  outcome.item.controlId = item.controlId;
  outcome.item.attempts = item.attempts;
  outcome.item.createdAt = item.createdAt;
  outcome.ackCode = answer.ackCode;
  size_t unrecorded = slow ? 0 : static_cast<size_t>(pipeline_.depth);
  switch (answer.outcome) {
    case Delivery::Outcome::kDelivered:
      outcome.kind = OutboundOutcome::Kind::kDelivered;
      logDebug(logger(), "destination {}: outbound {} ({}) delivered, {}", name_,
               static_cast<Poco::Int64>(item.id), item.controlId, answer.ackCode);
      {
        std::lock_guard<std::mutex> lock(mutex_);
        consecutiveFailures_ = 0;
        lastError_.clear();
      }
      break;
    case Delivery::Outcome::kRejected: {
      outcome.kind = OutboundOutcome::Kind::kDeadLetter;
      outcome.reason = gate_ ? screenLisReason(*gate_, answer.detail) : answer.detail;
      logWarning(logger(), "destination {}: outbound {} ({}) rejected with {}, dead-lettered: {}",
                 name_, static_cast<Poco::Int64>(item.id), item.controlId, answer.ackCode,
                 outcome.reason);
      std::lock_guard<std::mutex> lock(mutex_);
      consecutiveFailures_ = 0;
      lastError_ = answer.ackCode + ": " + outcome.reason;
      break;
    }
    case Delivery::Outcome::kRetry: {
      outcome.kind = OutboundOutcome::Kind::kRetry;
      outcome.reason = answer.detail;
      outcome.retryDelayMillis = backoffMillis(retry_, item.attempts + 1);
      logWarning(logger(), "destination {}: outbound {} ({}) not delivered ({}); retry {} in {} ms",
                 name_, static_cast<Poco::Int64>(item.id), item.controlId, answer.detail,
                 item.attempts + 1, static_cast<Poco::Int64>(outcome.retryDelayMillis));
      countAttempt(item, "retry");
      unrecorded = 0;  // recorded before anything behind it is looked at
      std::lock_guard<std::mutex> lock(mutex_);
      ++consecutiveFailures_;
      lastError_ = answer.detail;
      state_ = "retrying";
      break;
    }
  }
  const bool retry = outcome.kind == OutboundOutcome::Kind::kRetry;
  return handOver(std::move(outcome), unrecorded) && !retry;
}

bool DeliveryWorker::handOver(OutboundOutcome outcome, size_t unrecorded) {
  {
    std::unique_lock<std::mutex> lock(mutex_);
    // After a failed commit the outcome is not recorded: the item stays queued and is sent
    // again (at-least-once) with the others. On stop the committer still records it.
    if (resync_) return false;
    pending_.push_back(std::move(outcome));
    committed_.notify_all();
    committed_.wait(lock, [&] {
      return stopping_ || resync_ || pending_.size() + committing_.size() <= unrecorded;
    });
    return !resync_ && !stopping_;
  }
}

void DeliveryWorker::commitLoop() {
  std::vector<OutboundOutcome> batch;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mutex_);
      committed_.wait(lock, [this] { return committerStopping_ || !pending_.empty(); });
      if (pending_.empty()) return;
      batch.swap(pending_);
      committing_.clear();
      for (const OutboundOutcome& o : batch) committing_.push_back(o.item.id);
    }
    Status recorded;
    try {
      recorded = store_->recordOutcomes(batch);
    } catch (const std::exception& e) {
      recorded = Status::io("database", e.what());
    }
    int64_t delivered = 0, dead = 0;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      committing_.clear();
      ++commits_;
      if (recorded.isOk()) {
        for (const OutboundOutcome& o : batch) {
          if (o.kind == OutboundOutcome::Kind::kDelivered) ++delivered;
          if (o.kind == OutboundOutcome::Kind::kDeadLetter) ++dead;
          if (o.kind == OutboundOutcome::Kind::kRetry) continue;
          if (summaryFirstId_ == 0) summaryFirstId_ = o.item.id;
          summaryLastId_ = o.item.id;
        }
        delivered_ += delivered;
        summaryDelivered_ += delivered;
        summaryDead_ += dead;
        ++summaryCommits_;
      } else {
        // None of them is recorded: they stay queued and are sent again (at-least-once), with
        // those handed over meanwhile, in order from the head of the queue.
        pending_.clear();
        resync_ = true;
      }
    }
    committed_.notify_all();
    if (recorded.isOk()) {
      for (const OutboundOutcome& o : batch) {
        if (o.kind == OutboundOutcome::Kind::kDelivered) countAttempt(o.item, "delivered");
        if (o.kind == OutboundOutcome::Kind::kDeadLetter) countAttempt(o.item, "dead_letter");
      }
      logSummary(false);
    } else {
      logError(logger(),
               "destination {}: could not record the outcome of {} outbound item(s) from {}: {}; "
               "they are sent again",
               name_, batch.size(), static_cast<Poco::Int64>(batch.front().item.id),
               recorded.toString());
    }
    batch.clear();
  }
}

void DeliveryWorker::logSummary(bool force) {
  constexpr auto kSummaryEvery = std::chrono::seconds(10);
  int64_t delivered = 0, dead = 0, commits = 0, first = 0, last = 0;
  double seconds = 0;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    const auto at = std::chrono::steady_clock::now();
    if (summaryDelivered_ + summaryDead_ == 0) {
      summaryAt_ = at;
      return;
    }
    if (!force && at - summaryAt_ < kSummaryEvery) return;
    delivered = summaryDelivered_;
    dead = summaryDead_;
    commits = summaryCommits_;
    first = summaryFirstId_;
    last = summaryLastId_;
    seconds = std::chrono::duration<double>(at - summaryAt_).count();
    summaryDelivered_ = summaryDead_ = summaryCommits_ = summaryFirstId_ = summaryLastId_ = 0;
    summaryAt_ = at;
  }
  logInfo(logger(),
          "destination {}: {} delivered, {} dead-lettered in {:.1f} s (outbound {} to {}, {} "
          "commits)",
          name_, static_cast<Poco::Int64>(delivered), static_cast<Poco::Int64>(dead), seconds,
          static_cast<Poco::Int64>(first), static_cast<Poco::Int64>(last),
          static_cast<Poco::Int64>(commits));
}

bool DeliveryWorker::holdLease() {
  const auto now = std::chrono::steady_clock::now();
  if (leaseSendUntil_ > now && now < leaseRenewAt_) return true;
  StatusOr<DeliveryLease> lease = store_->acquireLease(name_, lease_.nodeId, lease_.ttl.count());
  bool wasHeld = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    wasHeld = leaseHeld_;
  }
  if (!lease.isOk()) {
    // Keep sending on what is left of the lease (the database may be back in a moment), never
    // past it.
    const bool usable = leaseSendUntil_ > std::chrono::steady_clock::now();
    logWarning(logger(), "destination {}: the delivery lease could not be renewed: {}{}", name_,
               lease.status().toString(),
               usable ? "; delivering on until it runs out" : "; not delivering");
    if (!usable) {
      std::lock_guard<std::mutex> lock(mutex_);
      leaseHeld_ = false;
      state_ = "lease lost";
    }
    return usable;
  }
  const DeliveryLease& l = lease.value();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    leaseHeld_ = l.held;
    leaseHolder_ = l.node;
    if (!l.held) state_ = "standby";
  }
  if (l.held) {
    // Measured from before the request: the database's expiry is later still.
    leaseSendUntil_ = now + lease_.ttl * 9 / 10;
    leaseRenewAt_ = now + lease_.ttl / 3;
    if (l.taken && store_->shared()) {
      logInfo(logger(),
              "destination {}: this node ({}) delivers the queue now (lease taken from {}, "
              "generation {})",
              name_, lease_.nodeId, l.previousNode.empty() ? "nobody" : l.previousNode,
              l.generation);
    }
    return true;
  }
  leaseSendUntil_ = {};
  if (wasHeld) {
    logWarning(
        logger(),
        "destination {}: node {} holds the delivery lease now; this node ({}) stops delivering",
        name_, l.node, lease_.nodeId);
  } else if (leaseRenewAt_ == std::chrono::steady_clock::time_point{}) {
    logInfo(logger(),
            "destination {}: standing by, node {} delivers the queue (its lease ends in {} ms "
            "unless renewed)",
            name_, l.node, l.remainingMillis);
  }
  leaseRenewAt_ = now;
  return false;
}

Poco::JSON::Object::Ptr DeliveryWorker::health() const {
  int64_t queued = store_->queueDepth(name_);
  // Counted in the store, not here: a dead letter resent through the API leaves the count.
  const int64_t dead = TrafficStore(store_).deadLetterCount(name_);
  Poco::JSON::Object::Ptr out = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
  std::lock_guard<std::mutex> lock(mutex_);
  out->set("name", name_);
  out->set("kind", kind_);
  out->set("state", state_);
  out->set("queue_depth", queued);
  out->set("delivered", delivered_);
  out->set("dead_letter", dead);
  out->set("last_error", lastError_);
  Poco::JSON::Object::Ptr lease = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
  lease->set("held", leaseHeld_);
  lease->set("holder", leaseHolder_);
  out->set("lease", lease);
  return out;
}

}  // namespace labgate
