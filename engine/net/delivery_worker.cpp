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
                               std::shared_ptr<const phi::PhiGate> gate)
    : name_(std::move(name)),
      kind_(std::move(kind)),
      destination_(std::move(destination)),
      store_(std::move(store)),
      retry_(retry),
      gate_(std::move(gate)) {}

DeliveryWorker::~DeliveryWorker() { stop(); }

void DeliveryWorker::start() {
  OutboundCounts counts = store_->outboundCounts(name_);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    delivered_ = counts.delivered;
  }
  thread_ = std::thread([this] { run(); });
}

void DeliveryWorker::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  destination_->cancel();
  if (thread_.joinable()) thread_.join();
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

void DeliveryWorker::run() {
  for (;;) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (stopping_) return;
    }
    // A database error must not end the worker: the queue is still on disk; log, wait, retry.
    try {
      std::optional<OutboundItem> item = store_->claimNext(name_);
      if (item) {
        deliverOne(*item);
        continue;
      }
      std::optional<int64_t> wait = store_->millisUntilNext(name_);
      {
        std::lock_guard<std::mutex> lock(mutex_);
        if (!wait) state_ = consecutiveFailures_ ? "retrying" : "idle";
      }
      waitFor(wait ? std::clamp<int64_t>(*wait, 1, kIdlePollMillis) : kIdlePollMillis);
    } catch (const Poco::Exception& e) {
      logError(logger(), "destination {}: reading the queue failed: {}", name_, e.displayText());
      waitFor(kIdlePollMillis);
    } catch (const std::exception& e) {
      logError(logger(), "destination {}: reading the queue failed: {}", name_,
               std::string(e.what()));
      waitFor(kIdlePollMillis);
    }
  }
}

void DeliveryWorker::deliverOne(const OutboundItem& item) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    state_ = "delivering";
  }
  Delivery answer = destination_->deliver(item);
  Status recorded;
  switch (answer.outcome) {
    case Delivery::Outcome::kDelivered:
      recorded = store_->markDelivered(item, answer.ackCode);
      logInfo(logger(), "destination {}: outbound {} ({}) delivered, {}", name_,
              static_cast<Poco::Int64>(item.id), item.controlId, answer.ackCode);
      {
        std::lock_guard<std::mutex> lock(mutex_);
        consecutiveFailures_ = 0;
        lastError_.clear();
        if (recorded.isOk()) ++delivered_;
      }
      if (recorded.isOk()) countAttempt(item, "delivered");
      break;
    case Delivery::Outcome::kRejected: {
      const std::string reason = gate_ ? screenLisReason(*gate_, answer.detail) : answer.detail;
      recorded = store_->markDeadLetter(item, answer.ackCode, reason);
      logWarning(logger(), "destination {}: outbound {} ({}) rejected with {}, dead-lettered: {}",
                 name_, static_cast<Poco::Int64>(item.id), item.controlId, answer.ackCode, reason);
      {
        std::lock_guard<std::mutex> lock(mutex_);
        consecutiveFailures_ = 0;
        lastError_ = answer.ackCode + ": " + reason;
      }
      if (recorded.isOk()) countAttempt(item, "dead_letter");
      break;
    }
    case Delivery::Outcome::kRetry: {
      int64_t delay = backoffMillis(retry_, item.attempts + 1);
      recorded = store_->scheduleRetry(item, delay, answer.detail);
      logWarning(logger(), "destination {}: outbound {} ({}) not delivered ({}); retry {} in {} ms",
                 name_, static_cast<Poco::Int64>(item.id), item.controlId, answer.detail,
                 item.attempts + 1, static_cast<Poco::Int64>(delay));
      countAttempt(item, "retry");
      std::lock_guard<std::mutex> lock(mutex_);
      ++consecutiveFailures_;
      lastError_ = answer.detail;
      state_ = "retrying";
      break;
    }
  }
  if (!recorded.isOk()) {
    // The answer is not recorded: the item stays queued and is sent again (at-least-once).
    logError(logger(), "destination {}: could not record the outcome of outbound {}: {}", name_,
             static_cast<Poco::Int64>(item.id), recorded.toString());
    waitFor(retry_.initialMillis);
  }
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
  return out;
}

}  // namespace labgate
