#include "util/layout_fields.h"

#include <gtest/gtest.h>

#include <set>

namespace labgate::util {
namespace {

TEST(LayoutFields, EveryFieldOnceWithQuantifierArea) {
  const auto& fields = layoutFields();
  EXPECT_EQ(std::set<std::string>(fields.begin(), fields.end()).size(), fields.size());
  EXPECT_TRUE(isLayoutField("quantifier_area"));
  EXPECT_TRUE(isLayoutField("qualifier_area"));
  EXPECT_FALSE(isLayoutField("patient_name"));
}

TEST(LayoutFields, SampleFieldsAreLayoutFields) {
  for (const char* name : {"sample_id", "sample_type", "level", "dilution", "position",
                           "acquired_at", "data_file", "injection"}) {
    EXPECT_TRUE(isSampleLayoutField(name)) << name;
    EXPECT_TRUE(isLayoutField(name)) << name;
  }
  EXPECT_FALSE(isSampleLayoutField("analyte"));
  // Issue 20: what autoverification needs from a generic export.
  EXPECT_TRUE(isLayoutField("final_concentration"));
  EXPECT_TRUE(isLayoutField("excluded_from_curve"));
  EXPECT_FALSE(isSampleLayoutField("final_concentration"));
}

}  // namespace
}  // namespace labgate::util
