// The engine's retention pass (see retention_service.h).
#include "engine/service/retention_service.h"

#include <Poco/Logger.h>

#include <chrono>

#include "engine/log/log.h"
#include "engine/store/retention.h"
#include "engine/store/store.h"

namespace labgate {
namespace {

Poco::Logger& logger() { return Poco::Logger::get("retention"); }

}  // namespace

RetentionService::RetentionService(std::shared_ptr<Store> store, RetentionSettings settings)
    : store_(std::move(store)), settings_(settings) {}

RetentionService::~RetentionService() { stop(); }

void RetentionService::start() {
  if (!settings_.on() || thread_.joinable()) return;
  logInfo(logger(),
          "retention: bodies kept {} day(s), peaks {} day(s), {}; checked every {} minute(s)",
          settings_.bodyDays, settings_.peakDays,
          settings_.archiveRequired ? "pruned only when an archive covers them"
                                    : "pruned without an archive (retention.archive_required "
                                      "= false)",
          settings_.checkMinutes);
  thread_ = std::thread([this] {
    std::unique_lock<std::mutex> lock(mutex_);
    auto wait = std::chrono::minutes(1);
    while (!wake_.wait_for(lock, wait, [this] { return stopping_; })) {
      lock.unlock();
      runOnce();
      lock.lock();
      wait = std::chrono::minutes(settings_.checkMinutes);
    }
  });
}

void RetentionService::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void RetentionService::runOnce() {
  retention::Policy policy;
  policy.bodyDays = settings_.bodyDays;
  policy.peakDays = settings_.peakDays;
  policy.archiveRequired = settings_.archiveRequired;
  retention::RetentionStore retention(*store_);
  StatusOr<retention::Pruned> pruned = retention.pruneScheduled(policy, isoNow());
  if (!pruned.isOk()) {
    logError(logger(), "retention pass failed: {}", pruned.status().toString());
    return;
  }
  const retention::Pruned& p = pruned.value();
  if (p.messages > 0) {
    logNotice(logger(),
              "retention: pruned {} message(s): {} body/bodies ({} bytes), {} peak row(s)",
              p.messages, p.bodies, p.bodyBytes, p.peaks);
  }
}

}  // namespace labgate
