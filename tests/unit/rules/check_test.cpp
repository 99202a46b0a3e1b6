#include "rules/check.h"

#include <gtest/gtest.h>

namespace labgate::rules {
namespace {

TEST(Check, InjectionOfNamesTheExportsInjectionNumberElseTheSample) {
  Sample s;
  s.sampleId = "QC-L1";
  EXPECT_EQ(injectionOf(s), "sample QC-L1");
  s.injection = 17;
  EXPECT_EQ(injectionOf(s), "injection 17");
}

TEST(Check, PassMakesNoFinding) { EXPECT_FALSE(toFinding(CheckResult{}).has_value()); }

TEST(Check, FailUsesItsActionAndWarnIsANoteUnlessItHolds) {
  CheckResult fail;
  fail.outcome = Outcome::kFail;
  fail.code = "CAL_CURVE";
  fail.onFail = DispositionKind::kReject;
  auto f = toFinding(fail);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->severity, Severity::kError);
  EXPECT_EQ(f->action, DispositionKind::kReject);
  CheckResult warn;
  warn.outcome = Outcome::kWarn;
  EXPECT_EQ(toFinding(warn)->action, DispositionKind::kRelease);
  EXPECT_EQ(toFinding(warn, true)->action, DispositionKind::kHold);
  CheckResult missing;
  missing.outcome = Outcome::kNotEvaluable;
  EXPECT_EQ(toFinding(missing)->action, DispositionKind::kHold);
  EXPECT_EQ(num(0.052300001), "0.0523");
}

// Issue 20: findings at three significant figures, plain decimals where a reader expects them.
TEST(Check, NumbersAtThreeSignificantFigures) {
  EXPECT_EQ(num(112.7), "113");
  EXPECT_EQ(num(97.62), "97.6");
  EXPECT_EQ(num(0.5), "0.5");
  EXPECT_EQ(num(12.0), "12");
  EXPECT_EQ(num(2.5), "2.5");
  EXPECT_EQ(num(30.9903), "31");
  EXPECT_EQ(num(999.6), "1000");
  EXPECT_EQ(num(523456), "523000");
  EXPECT_EQ(num(1254321), "1.25e+06");
  EXPECT_EQ(num(0.00042), "0.00042");
  EXPECT_EQ(num(0.0000421), "4.21e-05");
  EXPECT_EQ(num(-0.1234), "-0.123");
  EXPECT_EQ(num(0), "0");
  EXPECT_EQ(valueText(0.0625), "0.0625");
  EXPECT_EQ(valueText(1234.5), "1234.5");
}

}  // namespace
}  // namespace labgate::rules
