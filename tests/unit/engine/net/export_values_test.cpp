// engine/net/export_values: the TargetLynx peak-flag splitter and injection numbers (issue 20).
#include "engine/net/export_values.h"

#include <gtest/gtest.h>

namespace labgate {
namespace {

TEST(TargetLynxFlags, IntegrationCodesAreNotFlags) {
  for (const char* code : {"bb", "bd", "db", "dd", "bv", "vb", "vv"}) {
    TargetLynxFlags f = splitTargetLynxFlags(code, false);
    EXPECT_EQ(f.integrationCode, code);
    EXPECT_FALSE(f.manual) << code;
    EXPECT_FALSE(f.excludedFromCurve) << code;
    EXPECT_EQ(f.flags, "") << code;
  }
  TargetLynxFlags manual = splitTargetLynxFlags(" MM ", false);
  EXPECT_EQ(manual.integrationCode, "MM");
  EXPECT_TRUE(manual.manual);
  EXPECT_EQ(manual.flags, "");
  TargetLynxFlags half = splitTargetLynxFlags("bM", false);  // end placed by hand
  EXPECT_EQ(half.integrationCode, "bM");
  EXPECT_TRUE(half.manual);
}

TEST(TargetLynxFlags, CalibratorExclusionAndOtherLetters) {
  TargetLynxFlags excluded = splitTargetLynxFlags("bdX", true);
  EXPECT_EQ(excluded.integrationCode, "bd");
  EXPECT_TRUE(excluded.excludedFromCurve);
  EXPECT_EQ(excluded.flags, "");

  TargetLynxFlags both = splitTargetLynxFlags("MMXI", true);
  EXPECT_EQ(both.integrationCode, "MM");
  EXPECT_TRUE(both.manual);
  EXPECT_TRUE(both.excludedFromCurve);
  EXPECT_EQ(both.flags, "I");  // a letter we cannot explain stays a flag

  // "X" outside a calibrator is not an exclusion from a curve: it stays a flag (fail closed).
  TargetLynxFlags patient = splitTargetLynxFlags("bbX", false);
  EXPECT_EQ(patient.integrationCode, "bb");
  EXPECT_FALSE(patient.excludedFromCurve);
  EXPECT_EQ(patient.flags, "X");

  TargetLynxFlags onlyX = splitTargetLynxFlags("X", true);
  EXPECT_EQ(onlyX.integrationCode, "");
  EXPECT_TRUE(onlyX.excludedFromCurve);

  EXPECT_EQ(splitTargetLynxFlags("", true).integrationCode, "");
  EXPECT_EQ(splitTargetLynxFlags("I", false).flags, "I");
  EXPECT_EQ(splitTargetLynxFlags("I", false).integrationCode, "");
  // Upper-case letters other than M are no integration code.
  EXPECT_EQ(splitTargetLynxFlags("BB", false).integrationCode, "");
  EXPECT_EQ(splitTargetLynxFlags("BB", false).flags, "BB");
}

TEST(InjectionNumber, PositiveWholeNumbersOnly) {
  EXPECT_EQ(parseInjectionNumber("17"), 17);
  EXPECT_EQ(parseInjectionNumber(" 109 "), 109);
  EXPECT_EQ(parseInjectionNumber("3.000"), 3);
  EXPECT_FALSE(parseInjectionNumber(""));
  EXPECT_FALSE(parseInjectionNumber("N/A"));
  EXPECT_FALSE(parseInjectionNumber("0"));
  EXPECT_FALSE(parseInjectionNumber("-2"));
  EXPECT_FALSE(parseInjectionNumber("2.5"));
  EXPECT_FALSE(parseInjectionNumber("2:A,1"));
}

}  // namespace
}  // namespace labgate
