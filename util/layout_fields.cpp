// The layout field list (see layout_fields.h).
#include "util/layout_fields.h"

#include <algorithm>
#include <array>

namespace labgate::util {
namespace {

constexpr std::array<std::string_view, 8> kSampleFields = {
    "sample_id", "sample_type", "level",     "dilution",
    "position",  "acquired_at", "data_file", "injection"};

}  // namespace

const std::vector<std::string>& layoutFields() {
  static const std::vector<std::string> kFields = {"sample_id",
                                                   "sample_type",
                                                   "level",
                                                   "analyte",
                                                   "value",
                                                   "units",
                                                   "rt",
                                                   "expected_rt",
                                                   "area",
                                                   "height",
                                                   "is_name",
                                                   "is_area",
                                                   "is_rt",
                                                   "quantifier_area",
                                                   "qualifier_area",
                                                   "ion_ratio",
                                                   "signal_to_noise",
                                                   "width",
                                                   "symmetry",
                                                   "manual_integration",
                                                   "calculated_concentration",
                                                   "final_concentration",
                                                   "expected_concentration",
                                                   "accuracy",
                                                   "excluded_from_curve",
                                                   "dilution",
                                                   "position",
                                                   "acquired_at",
                                                   "data_file",
                                                   "injection"};
  return kFields;
}

bool isSampleLayoutField(std::string_view name) {
  return std::find(kSampleFields.begin(), kSampleFields.end(), name) != kSampleFields.end();
}

bool isLayoutField(std::string_view name) {
  const auto& fields = layoutFields();
  return std::find(fields.begin(), fields.end(), name) != fields.end();
}

}  // namespace labgate::util
