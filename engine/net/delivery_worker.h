// DeliveryWorker: drains one destination's durable queue, in order, one item at a time.
// AA-like answers mark the item delivered; rejections dead-letter it with the reason and move on;
// no answer, timeouts and refused connections retry the same item with capped exponential
// backoff for as long as it takes. Every state change is committed before the next item.
// A restart resumes exactly where it stopped: the queue is the database.
// The LIS's reason for a rejection (MSA-3, ERR) is text the LIS wrote, which may name the patient
// it looked up: with a PHI gate it is screened before it is stored, logged or shown, and withheld
// (naming the pattern ids) when the gate finds identifying data in it.
#pragma once

#include <Poco/JSON/Object.h>

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "engine/net/interfaces.h"
#include "engine/phi/phi_gate.h"
#include "engine/store/store.h"

namespace labgate {

struct RetryPolicy {
  int64_t initialMillis = 1000;
  int64_t maxMillis = 60000;
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
                 std::shared_ptr<const phi::PhiGate> gate = nullptr);
  ~DeliveryWorker();

  void start();
  void stop();
  /// Something was queued: look now instead of at the next poll.
  void wake();
  Poco::JSON::Object::Ptr health() const;

 private:
  void run();
  void deliverOne(const OutboundItem& item);
  void waitFor(int64_t millis);

  std::string name_;
  std::string kind_;
  std::shared_ptr<Destination> destination_;
  std::shared_ptr<Store> store_;
  RetryPolicy retry_;
  std::shared_ptr<const phi::PhiGate> gate_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  bool woken_ = false;
  std::string state_ = "idle";
  std::string lastError_;
  int consecutiveFailures_ = 0;
  int64_t delivered_ = 0;  // total: read from the store at start, then counted here
  std::thread thread_;
};

}  // namespace labgate
