// The retention.* configuration keys as values, and their parsing (header-only, like
// backup_settings.h, so that the configuration fuzzer compiling config.cpp alone needs nothing
// more). docs/configuration.md and docs/operations.md ("Retention and archives") describe them;
// engine/store/retention.h acts on them; docs/adr/0023-retention-and-archives.md has the why.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "engine/model/status.h"
#include "engine/net/interfaces.h"

namespace labgate {

struct RetentionSettings {
  /// retention.body_days: delivered message bodies (the sealed received bytes) are kept this
  /// many days after they were received; 0 (the default) keeps them forever.
  int64_t bodyDays = 0;
  /// retention.peak_days: the same for the LC-MS/MS peak rows of results.
  int64_t peakDays = 0;
  /// retention.archive_required (default true): the engine prunes only what an archive written
  /// by `labgate archive` covers; false prunes everything past the period without one.
  bool archiveRequired = true;
  /// retention.records_years: the lab's records policy for results, signatures and the audit
  /// trail (Part 11). The engine never prunes those; the value is reported (labgate archive
  /// verify, --check-config), not acted on. 0 = not stated.
  int64_t recordsYears = 0;
  /// retention.check_minutes: how often the engine's pass looks for content to prune.
  int64_t checkMinutes = 60;

  bool on() const { return bodyDays > 0 || peakDays > 0; }
};

/// Reads retention.*; Status::config naming the key otherwise.
inline StatusOr<RetentionSettings> parseRetentionSettings(
    const std::map<std::string, std::string>& keys) {
  RetentionSettings out;
  struct Number {
    const char* key;
    int64_t low, high;
    int64_t* value;
  };
  for (const Number& n : {Number{"retention.body_days", 0, 36500, &out.bodyDays},
                          Number{"retention.peak_days", 0, 36500, &out.peakDays},
                          Number{"retention.records_years", 0, 100, &out.recordsYears},
                          Number{"retention.check_minutes", 1, 1440, &out.checkMinutes}}) {
    auto it = keys.find(n.key);
    if (it == keys.end()) continue;
    if (Status s = parseInteger(n.key, it->second, n.low, n.high, *n.value); !s.isOk()) return s;
  }
  if (auto it = keys.find("retention.archive_required"); it != keys.end()) {
    if (it->second != "true" && it->second != "false") {
      return Status::config("retention.archive_required",
                            "must be true (prune only what an archive covers) or false (prune "
                            "past the period without an archive); got \"" +
                                it->second + "\"");
    }
    out.archiveRequired = it->second == "true";
  }
  return out;
}

}  // namespace labgate
