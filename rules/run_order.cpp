#include "rules/run_order.h"

#include <algorithm>
#include <cctype>
#include <numeric>
#include <set>
#include <vector>

#include "util/iso8601.h"

namespace labgate::rules {
namespace {

bool allDigits(const std::string& text) {
  return !text.empty() && std::all_of(text.begin(), text.end(),
                                      [](unsigned char c) { return std::isdigit(c) != 0; });
}

/// The samples' positions sorted by `key` (stable), or nullopt when a sample has no key. With
/// `distinct`, equal keys also answer nullopt (the order between them is unknown).
template <class Key>
std::optional<std::vector<size_t>> orderBy(const std::vector<Sample>& samples, Key key,
                                           bool distinct) {
  std::vector<int64_t> keys;
  keys.reserve(samples.size());
  for (const Sample& s : samples) {
    std::optional<int64_t> k = key(s);
    if (!k) return std::nullopt;
    keys.push_back(*k);
  }
  if (distinct && std::set<int64_t>(keys.begin(), keys.end()).size() != keys.size()) {
    return std::nullopt;
  }
  std::vector<size_t> order(samples.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return keys[a] < keys[b]; });
  return order;
}

void reorder(Message& message, const std::vector<size_t>& order) {
  std::vector<Sample> sorted;
  sorted.reserve(order.size());
  for (size_t i : order) sorted.push_back(std::move(message.samples[i]));
  message.samples = std::move(sorted);
}

}  // namespace

const char* toString(RunOrderSource source) {
  switch (source) {
    case RunOrderSource::kInjectionNumber:
      return "injection number";
    case RunOrderSource::kAcquisitionTime:
      return "acquisition time";
    case RunOrderSource::kListing:
      return "the export's listing";
    case RunOrderSource::kUnknown:
      return "unknown";
  }
  return "unknown";
}

std::optional<int64_t> acquisitionMillis(const std::string& text) {
  if (std::optional<int64_t> iso = util::parseIso8601(text)) return iso;
  // ASTM and HL7 write YYYYMMDDHHMM[SS]: rewritten as ISO 8601 and read by the one parser.
  if ((text.size() == 12 || text.size() == 14) && allDigits(text)) {
    std::string iso = text.substr(0, 4) + "-" + text.substr(4, 2) + "-" + text.substr(6, 2) + "T" +
                      text.substr(8, 2) + ":" + text.substr(10, 2);
    if (text.size() == 14) iso += ":" + text.substr(12, 2);
    return util::parseIso8601(iso);
  }
  return std::nullopt;
}

RunOrderSource putInInjectionOrder(Message& message) {
  const bool listed = message.listedInRunOrder;
  RunOrderSource source = RunOrderSource::kUnknown;
  if (auto byInjection = orderBy(
          message.samples, [](const Sample& s) { return s.injection; }, true)) {
    reorder(message, *byInjection);
    source = RunOrderSource::kInjectionNumber;
  } else if (auto byTime = orderBy(
                 message.samples, [](const Sample& s) { return acquisitionMillis(s.acquiredAt); },
                 !listed)) {
    // Equal times (exports that give minutes) keep the listed order, which is the run order
    // only when the format says so: otherwise the order between them is unknown.
    reorder(message, *byTime);
    source = RunOrderSource::kAcquisitionTime;
  } else if (listed || message.samples.size() <= 1) {
    source = RunOrderSource::kListing;
  }
  message.listedInRunOrder = source != RunOrderSource::kUnknown;
  return source;
}

std::optional<CheckResult> runOrderCheck(const Message& message) {
  if (message.listedInRunOrder) return std::nullopt;
  const bool batch = std::any_of(message.samples.begin(), message.samples.end(),
                                 [](const Sample& s) { return s.kind != SampleKind::kUnknown; });
  if (!batch) return std::nullopt;
  CheckResult c;
  c.outcome = Outcome::kNotEvaluable;
  c.ruleId = "batch.run_order";
  c.code = "RUN_ORDER_UNKNOWN";
  c.subject = "batch";
  c.message =
      "the export gives no injection order (no injection number or acquisition time on every "
      "sample, and the format does not list samples in run order): order-dependent checks (QC "
      "bracketing, carryover, IS and RT drift, IS drop against neighbouring injections, result "
      "after one above the ULOQ) not evaluated; patient results that need QC bracketing are held";
  c.limit = "injection number or acquisition time on every sample";
  return c;
}

}  // namespace labgate::rules
