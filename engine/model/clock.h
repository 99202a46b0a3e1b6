// The time that session, API-key and lockout decisions are judged against, injectable so that tests
// move time forward instead of sleeping (issue 12). Production code uses systemClock(); tests give
// a ManualClock and advance() it.
//
// Named WallClock (not Clock) because several translation units already call
// std::chrono::steady_clock "Clock" inside namespace labgate.
//
// Thread-safety: nowMillis() may be called from any thread; ManualClock is atomic.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace labgate {

/// Milliseconds since the Unix epoch (UTC), as std::chrono::system_clock counts them.
class WallClock {
 public:
  virtual ~WallClock() = default;
  virtual int64_t nowMillis() const = 0;
};

/// The real time (std::chrono::system_clock).
class SystemClock final : public WallClock {
 public:
  int64_t nowMillis() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

/// The process-wide SystemClock, the default wherever a WallClock is taken.
inline const WallClock& systemClock() {
  static const SystemClock kClock;
  return kClock;
}

/// A clock that stands still until advance() or set(): for tests.
class ManualClock final : public WallClock {
 public:
  explicit ManualClock(int64_t startMillis = 1767225600000)  // 2026-01-01T00:00:00Z
      : now_(startMillis) {}
  int64_t nowMillis() const override { return now_.load(); }
  void advance(std::chrono::milliseconds by) { now_ += by.count(); }
  void set(int64_t millis) { now_ = millis; }

 private:
  std::atomic<int64_t> now_;
};

}  // namespace labgate
