// String forms of the model's enumerations, as stored and shown.
#include "engine/model/model.h"

namespace labgate {

const char* toString(SampleKind kind) {
  switch (kind) {
    case SampleKind::kUnknown:
      return "unknown";
    case SampleKind::kCalibrator:
      return "calibrator";
    case SampleKind::kQc:
      return "qc";
    case SampleKind::kBlank:
      return "blank";
    case SampleKind::kDoubleBlank:
      return "double_blank";
    case SampleKind::kSystemSuitability:
      return "system_suitability";
  }
  return "unknown";
}

const char* toString(Severity severity) {
  switch (severity) {
    case Severity::kInfo:
      return "info";
    case Severity::kWarning:
      return "warning";
    case Severity::kError:
      return "error";
  }
  return "warning";
}

const char* toString(DispositionKind kind) {
  switch (kind) {
    case DispositionKind::kRelease:
      return "release";
    case DispositionKind::kHold:
      return "hold";
    case DispositionKind::kReject:
      return "reject";
  }
  return "hold";
}

size_t Message::resultCount() const {
  size_t n = 0;
  for (const auto& s : samples) n += s.results.size();
  return n;
}

}  // namespace labgate
