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

}  // namespace
}  // namespace labgate::rules
