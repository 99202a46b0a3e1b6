// The interface of the rules stage (rules/ implements it): a pure function of a built message
// and the history the runner reads for it. It attaches findings to results, and batch findings,
// QC values and per-batch metrics to the message; the decide stage then takes the worst action.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "engine/model/model.h"

namespace labgate {

/// What the rules may know beyond the message: where it came from and the stored history.
struct RulesContext {
  std::string orgId = "default";
  std::string instrument;
  /// The last values of an analyte's QC (all levels and lots), oldest first.
  std::function<std::vector<QcValue>(const std::string& analyte)> qcHistory;
  /// The last values of a per-batch metric of an analyte, oldest first.
  std::function<std::vector<double>(const std::string& analyte, const std::string& metric)>
      metricHistory;
};

class RulesStage {
 public:
  virtual ~RulesStage() = default;
  /// Evaluates `message` in place. Never throws for bad data: a value a rule needs and does not
  /// find is a NOT_EVALUABLE finding.
  virtual void evaluate(Message& message, const RulesContext& context) const = 0;
  /// The rule set's version, stored with every decision.
  virtual const std::string& version() const = 0;
};

}  // namespace labgate
