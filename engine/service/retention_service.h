// The engine's retention pass (retention.*, docs/adr/0023-retention-and-archives.md): every
// retention.check_minutes it prunes delivered message bodies older than retention.body_days and
// peak data older than retention.peak_days, of messages nothing waits on, that an archive covers
// (or, with retention.archive_required = false, whether archived or not). Each transaction is
// audited "retention.pruned" by the store (engine/store/retention.h). Nothing runs when both
// periods are 0 (the default).
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include "engine/service/retention_settings.h"

namespace labgate {

class Store;

class RetentionService {
 public:
  RetentionService(std::shared_ptr<Store> store, RetentionSettings settings);
  ~RetentionService();
  RetentionService(const RetentionService&) = delete;
  RetentionService& operator=(const RetentionService&) = delete;

  /// Starts the pass's thread (first pass one minute after the start, so that a start-up is not
  /// slowed by it) when a period is set; does nothing otherwise.
  void start();
  /// Stops the thread; a pass in progress finishes its current transaction first.
  void stop();
  /// One pass now, on the caller's thread (tests, and the thread's loop).
  void runOnce();

 private:
  std::shared_ptr<Store> store_;
  RetentionSettings settings_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace labgate
