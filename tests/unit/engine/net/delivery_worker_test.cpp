// Tests for engine/net/delivery_worker: backoff arithmetic, and a worker draining a real store
// through a scripted destination (retry, then delivered; rejected goes to dead-letter).
#include "engine/net/delivery_worker.h"

#include <Poco/File.h>
#include <Poco/TemporaryFile.h>
#include <gtest/gtest.h>

#include <deque>
#include <mutex>
#include <thread>

namespace labgate {
namespace {

TEST(Backoff, DoublesAndCaps) {
  RetryPolicy p{100, 1000};
  EXPECT_EQ(backoffMillis(p, 1), 100);
  EXPECT_EQ(backoffMillis(p, 2), 200);
  EXPECT_EQ(backoffMillis(p, 4), 800);
  EXPECT_EQ(backoffMillis(p, 5), 1000);
  EXPECT_EQ(backoffMillis(p, 500), 1000);
}

/// Answers deliveries from a script; remembers what it was given.
class ScriptedDestination : public Destination {
 public:
  explicit ScriptedDestination(std::deque<Delivery> script) : script_(std::move(script)) {}
  std::string render(const Message&, const std::string&, const std::string&) const override {
    return "";
  }
  Delivery deliver(const OutboundItem& item) override {
    std::lock_guard<std::mutex> lock(mutex_);
    seen_.push_back(item.controlId);
    if (script_.empty()) return {Delivery::Outcome::kDelivered, "AA", ""};
    Delivery d = script_.front();
    script_.pop_front();
    return d;
  }
  std::vector<std::string> seen() {
    std::lock_guard<std::mutex> lock(mutex_);
    return seen_;
  }

 private:
  std::mutex mutex_;
  std::deque<Delivery> script_;
  std::vector<std::string> seen_;
};

InboundCommit commitFor(const std::string& id) {
  InboundCommit c;
  c.connector = "lab1";
  c.instrument = "i";
  c.format = "astm";
  c.receivedAt = isoNow();
  c.contentSha256 = id;
  c.outbound.push_back({"lis", id, "payload"});
  return c;
}

TEST(DeliveryWorker, RetriesInOrderThenDeliversAndDeadLetters) {
  std::string dir = Poco::TemporaryFile::tempName();
  {
    auto store = Store::open(dir).value();
    ASSERT_TRUE(store->commitInbound(commitFor("A")).isOk());
    ASSERT_TRUE(store->commitInbound(commitFor("B")).isOk());
    ASSERT_TRUE(store->commitInbound(commitFor("C")).isOk());
    auto destination = std::make_shared<ScriptedDestination>(std::deque<Delivery>{
        {Delivery::Outcome::kRetry, "", "connection refused"},
        {Delivery::Outcome::kRetry, "", "no acknowledgement"},
        {Delivery::Outcome::kDelivered, "AA", ""},
        {Delivery::Outcome::kDelivered, "AA", ""},
        {Delivery::Outcome::kRejected, "AE", "unknown code"},
    });
    DeliveryWorker worker("lis", "test", destination, store, RetryPolicy{10, 20});
    worker.start();
    for (int i = 0; i < 500 && store->outboundCounts("lis").queued > 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    worker.stop();
    EXPECT_EQ(destination->seen(), (std::vector<std::string>{"A", "A", "A", "B", "C"}));
    OutboundCounts counts = store->outboundCounts("lis");
    EXPECT_EQ(counts.delivered, 2);
    EXPECT_EQ(counts.dead, 1);
    EXPECT_EQ(counts.queued, 0);
    auto health = worker.health();
    EXPECT_EQ(health->getValue<std::string>("last_error"), "AE: unknown code");
  }
  Poco::File(dir).remove(true);
}

}  // namespace
}  // namespace labgate

namespace labgate {
namespace {

// The LIS's rejection text (MSA-3, ERR) is screened with the shipped patterns before the worker
// stores, logs or shows it (issue 14): a text naming a patient is withheld, naming the pattern
// ids and never the value; an ordinary reason passes unchanged.
TEST(LisReason, NamingAPatientIsWithheldAnOrdinaryReasonIsKept) {
  auto gate = phi::PhiGate::loadFile(std::string(LABGATE_SOURCE_DIR) + "/config/phi-patterns.json");
  ASSERT_TRUE(gate.isOk()) << gate.status().toString();
  EXPECT_EQ(screenLisReason(gate.value(), "Order 4711 not found; code 204 Unknown key identifier"),
            "Order 4711 not found; code 204 Unknown key identifier");
  const std::string withheld =
      screenLisReason(gate.value(), "Patient Zenobia Quillfeather, DOB 1961-04-02, has no order");
  EXPECT_NE(withheld.find("withheld"), std::string::npos) << withheld;
  EXPECT_EQ(withheld.find("Quillfeather"), std::string::npos) << "the value is in the reason";
  EXPECT_EQ(withheld.find("1961"), std::string::npos) << "the value is in the reason";
}

}  // namespace
}  // namespace labgate
