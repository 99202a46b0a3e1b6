// The backup.* configuration keys as values, and their parsing (header-only, so that the
// configuration fuzzer, which compiles config.cpp alone, needs nothing more). docs/backup.md and
// docs/configuration.md describe the keys; engine/service/backup_service.h acts on them.
#pragma once

#include <cstdint>
#include <map>
#include <sstream>
#include <string>

#include "engine/model/status.h"
#include "engine/net/interfaces.h"
#include "engine/store/backup.h"

namespace labgate {

/// backup.schedule: when the engine takes backups on its own.
struct BackupSchedule {
  enum class Kind {
    kOff,     // only on demand (API, `labgate backup now`)
    kHourly,  // at each full UTC hour
    kDaily,   // at each UTC midnight
    kEvery,   // every `everySeconds` after the newest backup
  };
  Kind kind = Kind::kOff;
  int64_t everySeconds = 0;

  bool on() const { return kind != Kind::kOff; }
};

struct BackupSettings {
  BackupSchedule schedule;
  std::string dir;  // backup.dir; "" = <data.dir>/backups
  backup::Retention keep;
};

/// "off", "hourly", "daily", "every N minutes" (N 1–10080) or "every N seconds" (N 1–86400: for
/// tests; operators use minutes). Status::config naming backup.schedule otherwise.
inline StatusOr<BackupSchedule> parseBackupSchedule(const std::string& text) {
  const std::string key = "backup.schedule";
  BackupSchedule s;
  if (text == "off") return s;
  if (text == "hourly" || text == "daily") {
    s.kind = text == "hourly" ? BackupSchedule::Kind::kHourly : BackupSchedule::Kind::kDaily;
    return s;
  }
  std::istringstream in(text);
  std::string every, count, unit, rest;
  in >> every >> count >> unit >> rest;
  const bool minutes = unit == "minutes" || unit == "minute";
  const bool seconds = unit == "seconds" || unit == "second";
  if (every != "every" || !rest.empty() || (!minutes && !seconds)) {
    return Status::config(
        key, "must be off, hourly, daily or \"every N minutes\"; got \"" + text + "\"");
  }
  int64_t n = 0;
  Status parsed = parseInteger(key, count, 1, minutes ? 10080 : 86400, n);
  if (!parsed.isOk()) return parsed;
  s.kind = BackupSchedule::Kind::kEvery;
  s.everySeconds = minutes ? n * 60 : n;
  return s;
}

/// Reads backup.schedule, backup.dir, backup.keep.hourly and backup.keep.daily from `keys`.
inline StatusOr<BackupSettings> parseBackupSettings(
    const std::map<std::string, std::string>& keys) {
  BackupSettings out;
  auto it = keys.find("backup.schedule");
  if (it != keys.end()) {
    StatusOr<BackupSchedule> schedule = parseBackupSchedule(it->second);
    if (!schedule.isOk()) return schedule.status();
    out.schedule = schedule.value();
  }
  it = keys.find("backup.dir");
  if (it != keys.end()) {
    if (it->second.empty()) return Status::config("backup.dir", "must not be empty when set");
    out.dir = it->second;
  }
  for (auto [name, target] :
       {std::pair<const char*, int64_t*>{"backup.keep.hourly", &out.keep.hourly},
        std::pair<const char*, int64_t*>{"backup.keep.daily", &out.keep.daily}}) {
    it = keys.find(name);
    if (it == keys.end()) continue;
    Status parsed = parseInteger(name, it->second, 0, 100000, *target);
    if (!parsed.isOk()) return parsed;
  }
  return out;
}

}  // namespace labgate
