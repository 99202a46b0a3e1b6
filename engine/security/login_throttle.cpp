// LoginThrottle (see login_throttle.h).
#include "engine/security/login_throttle.h"

#include <algorithm>

namespace labgate::security {
namespace {

constexpr size_t kMaxCounters = 100000;  // beyond this the oldest counters are dropped
constexpr int64_t kSweepMillis = 60000;

}  // namespace

int64_t LoginThrottle::delayAfter(int64_t failures, int64_t free) const {
  if (free <= 0 || failures < free) return 0;
  int64_t delay = std::max<int64_t>(settings_.delaySeconds, 1);
  for (int64_t i = free; i < failures && delay < settings_.maxDelaySeconds; ++i) delay *= 2;
  return std::min(delay, std::max<int64_t>(settings_.maxDelaySeconds, 1));
}

LoginThrottle::Counter& LoginThrottle::counter(const std::string& key, int64_t nowMillis) {
  forgetOld(nowMillis);
  return counters_[key];
}

void LoginThrottle::forgetOld(int64_t nowMillis) {
  if (nowMillis - lastSweepMillis_ < kSweepMillis && counters_.size() < kMaxCounters) return;
  lastSweepMillis_ = nowMillis;
  const int64_t keep = 2 * settings_.maxDelaySeconds * 1000;
  for (auto it = counters_.begin(); it != counters_.end();) {
    it = nowMillis - it->second.lastMillis > keep ? counters_.erase(it) : std::next(it);
  }
  while (counters_.size() >= kMaxCounters) {
    auto oldest = std::min_element(
        counters_.begin(), counters_.end(),
        [](const auto& a, const auto& b) { return a.second.lastMillis < b.second.lastMillis; });
    counters_.erase(oldest);
  }
}

LoginThrottle::Admission LoginThrottle::admit(const std::string& account, const std::string& source,
                                              int64_t nowMillis) {
  Admission a;
  a.pairKey = "p\n" + account + "\n" + source;
  a.sourceKey = "s\n" + source;
  std::lock_guard<std::mutex> lock(mutex_);
  Counter& pair = counter(a.pairKey, nowMillis);
  Counter& src = counter(a.sourceKey, nowMillis);
  // No delay due means admitted, whatever the times: callers read their clock before the lock,
  // so a concurrent attempt may have stored a later time than this one's `nowMillis`.
  const int64_t pairDelay = delayAfter(pair.failures, settings_.freeAttempts);
  const int64_t sourceDelay = delayAfter(src.failures, settings_.sourceFreeAttempts);
  const int64_t pairReady = pairDelay > 0 ? pair.lastMillis + pairDelay * 1000 : 0;
  const int64_t sourceReady = sourceDelay > 0 ? src.lastMillis + sourceDelay * 1000 : 0;
  const int64_t ready = std::max(pairReady, sourceReady);
  if (nowMillis < ready) {
    a.retryAfterSeconds = (ready - nowMillis + 999) / 1000;
    a.firstRefusal = !pair.refusedSinceAdmit;
    pair.refusedSinceAdmit = true;
    return a;
  }
  a.admitted = true;
  for (Counter* c : {&pair, &src}) {
    ++c->failures;
    c->lastMillis = std::max(c->lastMillis, nowMillis);
    c->refusedSinceAdmit = false;
  }
  return a;
}

void LoginThrottle::giveBack(const std::string& key) {
  auto it = counters_.find(key);
  if (it != counters_.end() && it->second.failures > 0) --it->second.failures;
}

void LoginThrottle::succeeded(const Admission& admission) {
  if (!admission.admitted) return;
  std::lock_guard<std::mutex> lock(mutex_);
  counters_.erase(admission.pairKey);
  giveBack(admission.sourceKey);
}

void LoginThrottle::released(const Admission& admission) {
  if (!admission.admitted) return;
  std::lock_guard<std::mutex> lock(mutex_);
  giveBack(admission.pairKey);
  giveBack(admission.sourceKey);
}

int64_t LoginThrottle::beginEvaluation(const std::string& account) {
  std::lock_guard<std::mutex> lock(mutex_);
  return inFlight_[account]++;
}

void LoginThrottle::endEvaluation(const std::string& account) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = inFlight_.find(account);
  if (it == inFlight_.end()) return;
  if (--it->second <= 0) inFlight_.erase(it);
}

}  // namespace labgate::security
