// Login throttling: growing delays after failed password checks, counted per (account, source
// address) and per source address, so that guessing is slow and one attacker cannot lock other
// people out (ADR 0007, "Lockout and throttling").
//
// A check is admitted (and counted as a failure at once) before the expensive password check
// runs, under one mutex: concurrent attempts cannot all slip through before the first failure is
// recorded. A success afterwards takes the reservation back (succeeded()); a check that ended
// without judging the password (released()) does the same.
//
// Counters live in memory (per engine node) and are forgotten after 2 x maxDelaySeconds without
// a failure. The persistent per-account lock (security.lockout.*) is the store's; this class
// only reserves attempts for it (beginEvaluation/endEvaluation) so that it is counted atomically
// too.
//
// Thread-safety: every method may be called concurrently.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>

namespace labgate::security {

struct ThrottleSettings {
  int64_t freeAttempts = 3;         // security.throttle.free_attempts (per account and address)
  int64_t sourceFreeAttempts = 20;  // security.throttle.source_free_attempts (per address)
  int64_t delaySeconds = 1;         // security.throttle.delay_seconds (the first delay)
  int64_t maxDelaySeconds = 900;    // security.throttle.max_delay_seconds
};

class LoginThrottle {
 public:
  explicit LoginThrottle(ThrottleSettings settings = {}) : settings_(settings) {}

  struct Admission {
    bool admitted = false;
    int64_t retryAfterSeconds = 0;   // when refused: how long until an attempt is admitted
    bool firstRefusal = false;       // the first refusal since the last admitted attempt
    std::string pairKey, sourceKey;  // what succeeded()/released() give back
  };
  /// Admits an attempt on `account` (e.g. "org/user") from `source`, reserving it as a failure
  /// of both counters, or refuses it while a delay runs. `nowMillis` is the caller's clock.
  Admission admit(const std::string& account, const std::string& source, int64_t nowMillis);
  /// The attempt succeeded: the (account, source) counter starts again; the source counter gets
  /// its reservation back.
  void succeeded(const Admission& admission);
  /// The attempt was not a failure (e.g. a TOTP code is still required): both reservations back.
  void released(const Admission& admission);

  /// Marks an evaluation of `account` in flight and returns how many others are: the caller reads
  /// the stored failure count after this call and treats the account as locked when that count
  /// plus the others reaches the threshold (each of them may still fail). endEvaluation() after
  /// the outcome is stored.
  int64_t beginEvaluation(const std::string& account);
  void endEvaluation(const std::string& account);

  /// The delay after `failures` failures with `free` of them free (0 while free; free 0 = off).
  int64_t delayAfter(int64_t failures, int64_t free) const;

 private:
  struct Counter {
    int64_t failures = 0;
    int64_t lastMillis = 0;
    bool refusedSinceAdmit = false;
  };
  Counter& counter(const std::string& key, int64_t nowMillis);
  void forgetOld(int64_t nowMillis);
  void giveBack(const std::string& key);

  ThrottleSettings settings_;
  std::mutex mutex_;
  std::map<std::string, Counter> counters_;
  std::map<std::string, int64_t> inFlight_;
  int64_t lastSweepMillis_ = 0;
};

}  // namespace labgate::security
