// The injection order of a batch (issue 20). Bracketing, carryover, drift and the IS-neighbour
// checks compare an injection with the ones before and after it, so the rules put the samples in
// the order they were injected before any of them runs, and say so when nothing in the export
// tells that order.
#pragma once

#include <optional>
#include <string>

#include "engine/model/model.h"
#include "rules/check.h"

namespace labgate::rules {

/// Where the injection order of a batch came from.
enum class RunOrderSource {
  kInjectionNumber,  // every sample has a distinct Sample::injection
  kAcquisitionTime,  // every sample has an acquisition time (ties broken by a run-order listing)
  kListing,          // the format lists the samples in run order (Message::listedInRunOrder)
  kUnknown,          // none of these: order-dependent checks are not evaluable
};

const char* toString(RunOrderSource source);

/// Puts `message.samples` in injection order: a stable sort by Sample::injection when every sample
/// has one and no two share one; else by Sample::acquiredAt when every sample has one that parses
/// (ISO 8601 as the export connectors write it, or the ASTM/HL7 form YYYYMMDDHHMM[SS]) and two
/// equal times are resolved by a run-order listing; else the listed order is kept. Sets
/// `message.listedInRunOrder` to whether the order is now known, and answers where it came from.
/// A batch of one sample is in order by itself.
RunOrderSource putInInjectionOrder(Message& message);

/// The acquisition time of `text` in milliseconds (ISO 8601, or YYYYMMDDHHMM[SS]); nullopt when it
/// is neither.
std::optional<int64_t> acquisitionMillis(const std::string& text);

/// The one batch finding for a batch whose order is unknown (RUN_ORDER_UNKNOWN, subject "batch"),
/// naming the checks that were not evaluated; nullopt when the order is known or the batch has
/// nothing whose order matters (a message of patient results only: no calibrator, QC or blank).
std::optional<CheckResult> runOrderCheck(const Message& message);

}  // namespace labgate::rules
