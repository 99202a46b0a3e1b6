// LoginThrottle: free attempts, doubling delays per (account, address) and per address, the
// reservation before the check (issue 18, findings 10 and 16), with an injected clock.
#include "engine/security/login_throttle.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace labgate::security {
namespace {

ThrottleSettings settings(int64_t free, int64_t sourceFree) {
  ThrottleSettings s;
  s.freeAttempts = free;
  s.sourceFreeAttempts = sourceFree;
  s.delaySeconds = 1;
  s.maxDelaySeconds = 60;
  return s;
}

TEST(LoginThrottle, DelaysDoubleAfterTheFreeAttemptsUpToTheCap) {
  LoginThrottle t(settings(3, 0));
  EXPECT_EQ(t.delayAfter(0, 3), 0);
  EXPECT_EQ(t.delayAfter(2, 3), 0);
  EXPECT_EQ(t.delayAfter(3, 3), 1);
  EXPECT_EQ(t.delayAfter(4, 3), 2);
  EXPECT_EQ(t.delayAfter(8, 3), 32);
  EXPECT_EQ(t.delayAfter(9, 3), 60);
  EXPECT_EQ(t.delayAfter(1000, 3), 60);
  EXPECT_EQ(t.delayAfter(1000, 0), 0) << "0 free attempts switches the counter off";
}

// Concurrent requests read the clock before the throttle's lock: an attempt stamped a moment
// before one already admitted is not delayed while no delay is due (a spurious 429 before).
TEST(LoginThrottle, AnAttemptStampedBeforeTheLastOneIsAdmittedWhileNoDelayIsDue) {
  LoginThrottle t(settings(1000, 0));
  EXPECT_TRUE(t.admit("default/a", "127.0.0.1", 10'000).admitted);
  EXPECT_TRUE(t.admit("default/a", "127.0.0.1", 9'990).admitted);
  LoginThrottle delayed(settings(1, 0));
  EXPECT_TRUE(delayed.admit("default/a", "127.0.0.1", 10'000).admitted);
  EXPECT_FALSE(delayed.admit("default/a", "127.0.0.1", 9'990).admitted) << "a delay is due";
}

TEST(LoginThrottle, RefusesDuringTheDelayAndAdmitsAfterIt) {
  LoginThrottle t(settings(3, 0));
  int64_t now = 1'000'000;
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(t.admit("org/alice", "10.0.0.1", now).admitted);
  auto refused = t.admit("org/alice", "10.0.0.1", now + 10);
  EXPECT_FALSE(refused.admitted);
  EXPECT_EQ(refused.retryAfterSeconds, 1);
  EXPECT_TRUE(refused.firstRefusal);
  EXPECT_FALSE(t.admit("org/alice", "10.0.0.1", now + 20).firstRefusal) << "recorded once";
  // Another address, or another account, is not delayed: nobody locks others out.
  EXPECT_TRUE(t.admit("org/alice", "10.0.0.2", now + 20).admitted);
  EXPECT_TRUE(t.admit("org/bob", "10.0.0.1", now + 20).admitted);
  EXPECT_TRUE(t.admit("org/alice", "10.0.0.1", now + 1000).admitted);
  auto second = t.admit("org/alice", "10.0.0.1", now + 1001);
  EXPECT_FALSE(second.admitted);
  EXPECT_EQ(second.retryAfterSeconds, 2);
}

TEST(LoginThrottle, ASuccessStartsTheAccountCounterAgain) {
  LoginThrottle t(settings(2, 0));
  int64_t now = 5000;
  t.admit("o/u", "a", now);
  auto last = t.admit("o/u", "a", now);
  t.succeeded(last);
  EXPECT_TRUE(t.admit("o/u", "a", now).admitted);
  EXPECT_TRUE(t.admit("o/u", "a", now).admitted);
  EXPECT_FALSE(t.admit("o/u", "a", now).admitted);
}

TEST(LoginThrottle, ReleasedAttemptsDoNotCount) {
  LoginThrottle t(settings(1, 0));
  for (int i = 0; i < 5; ++i) {
    auto a = t.admit("o/u", "a", 100);
    ASSERT_TRUE(a.admitted) << i;
    t.released(a);
  }
}

TEST(LoginThrottle, TheSourceCounterSpansAccounts) {
  LoginThrottle t(settings(0, 4));
  for (int i = 0; i < 4; ++i) {
    EXPECT_TRUE(t.admit("o/user" + std::to_string(i), "10.1.1.1", 0).admitted);
  }
  EXPECT_FALSE(t.admit("o/another", "10.1.1.1", 10).admitted) << "password spraying";
  EXPECT_TRUE(t.admit("o/another", "10.1.1.2", 10).admitted);
}

TEST(LoginThrottle, ConcurrentAttemptsAreCountedBeforeTheyAreEvaluated) {
  LoginThrottle t(settings(5, 0));
  std::atomic<int> admitted{0};
  std::vector<std::thread> threads;
  threads.reserve(64);
  for (int i = 0; i < 64; ++i) {
    threads.emplace_back([&] {
      if (t.admit("o/u", "a", 42).admitted) ++admitted;
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(admitted.load(), 5);
}

TEST(LoginThrottle, EvaluationsInFlightAreCounted) {
  LoginThrottle t;
  EXPECT_EQ(t.beginEvaluation("o/u"), 0);
  EXPECT_EQ(t.beginEvaluation("o/u"), 1);
  EXPECT_EQ(t.beginEvaluation("o/v"), 0);
  t.endEvaluation("o/u");
  EXPECT_EQ(t.beginEvaluation("o/u"), 1);
  t.endEvaluation("o/u");
  t.endEvaluation("o/u");
  EXPECT_EQ(t.beginEvaluation("o/u"), 0);
}

TEST(LoginThrottle, CountersAreForgottenAfterTwiceTheLongestDelay) {
  LoginThrottle t(settings(1, 0));
  EXPECT_TRUE(t.admit("o/u", "a", 0).admitted);
  EXPECT_FALSE(t.admit("o/u", "a", 10).admitted);
  EXPECT_TRUE(t.admit("o/u", "a", 121'000).admitted);
  // Forgotten: free again (a remembered counter would now ask for 2 s).
  EXPECT_TRUE(t.admit("o/u", "a", 400'000).admitted);
}

}  // namespace
}  // namespace labgate::security
