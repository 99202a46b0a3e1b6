// The interface of the rules stage (rules/ implements it): a pure function of a built message
// and the history the runner reads for it. It attaches findings to results, and batch findings,
// QC values and per-batch metrics to the message; the decide stage then takes the worst action.
#pragma once

#include <functional>
#include <optional>
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

/// One analyte's calibration curve as the rules fit it (the console's chart, GET
/// /api/v1/batches/{id}/charts): the model and weighting the rule set and the export settle on,
/// the fitted coefficients and each calibrator's back-calculation.
struct CalibrationCurveView {
  struct Point {
    std::string sampleId, level;
    std::optional<double> expected, response, calculated, accuracy;  // accuracy in % of nominal
    bool excluded = false;  // left out of the fit (the analyst's exclusion or auto_exclude)
  };
  std::string model;      // "linear", "linear_through_origin", "quadratic"
  std::string weighting;  // "none", "1/x", "1/x2", "1/y", "1/y2"
  bool fitted = false;    // false: no curve (`error` says why), coefficients empty
  std::string error;
  /// response = c0 + c1·x (+ c2·x²): c0 is 0 for a line through the origin.
  std::vector<double> coefficients;
  std::optional<double> rSquared;
  std::vector<Point> points;  // the calibrators, in injection order
};

class RulesStage {
 public:
  virtual ~RulesStage() = default;
  /// Evaluates `message` in place. Never throws for bad data: a value a rule needs and does not
  /// find is a NOT_EVALUABLE finding.
  virtual void evaluate(Message& message, const RulesContext& context) const = 0;
  /// The rule set's version, stored with every decision.
  virtual const std::string& version() const = 0;
  /// The calibration curve of `analyte` in `message` fitted exactly as evaluate() fits it (the
  /// same settings, the same code); nullopt when the rule set reviews no calibration or the batch
  /// has no calibrator of the analyte.
  virtual std::optional<CalibrationCurveView> calibrationCurve(const Message& message,
                                                               const std::string& analyte) const {
    (void)message;
    (void)analyte;
    return std::nullopt;
  }
};

}  // namespace labgate
