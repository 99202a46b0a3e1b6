// The injection order of a batch (rules/run_order.h): the samples sorted by injection number,
// else by acquisition time, else kept as listed; whether the order is known; and the one batch
// finding when it is not.
#include "rules/run_order.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace labgate::rules {
namespace {

Sample sampleOf(const std::string& id, SampleKind kind, std::optional<int64_t> injection = {},
                const std::string& acquiredAt = "") {
  Sample s;
  s.sampleId = id;
  s.kind = kind;
  s.injection = injection;
  s.acquiredAt = acquiredAt;
  return s;
}

std::vector<std::string> ids(const Message& m) {
  std::vector<std::string> out;
  for (const Sample& s : m.samples) out.push_back(s.sampleId);
  return out;
}

TEST(RunOrder, ANameSortedSummaryIsPutInInjectionOrder) {
  // A TargetLynx summary lists the samples by name; the "#" column gives the injection.
  Message m;
  m.samples.push_back(sampleOf("Blank", SampleKind::kBlank, 7));
  m.samples.push_back(sampleOf("Cal 1", SampleKind::kCalibrator, 1));
  m.samples.push_back(sampleOf("Cal 6", SampleKind::kCalibrator, 6));
  m.samples.push_back(sampleOf("P1", SampleKind::kUnknown, 9));
  m.samples.push_back(sampleOf("QC L", SampleKind::kQc, 8));
  m.samples.push_back(sampleOf("QC L2", SampleKind::kQc, 10));
  EXPECT_EQ(putInInjectionOrder(m), RunOrderSource::kInjectionNumber);
  EXPECT_TRUE(m.listedInRunOrder);
  EXPECT_EQ(ids(m), (std::vector<std::string>{"Cal 1", "Cal 6", "Blank", "QC L", "P1", "QC L2"}));
  EXPECT_FALSE(runOrderCheck(m).has_value());
}

TEST(RunOrder, AcquisitionTimesOrderWhenInjectionNumbersAreMissingOrRepeated) {
  Message m;
  m.samples.push_back(sampleOf("B", SampleKind::kQc, 1, "2024-03-05T09:10"));
  m.samples.push_back(sampleOf("A", SampleKind::kUnknown, 1, "2024-03-05T09:20"));
  m.samples.push_back(sampleOf("C", SampleKind::kQc, {}, "2024-03-05T09:01:02"));
  EXPECT_EQ(putInInjectionOrder(m), RunOrderSource::kAcquisitionTime);
  EXPECT_TRUE(m.listedInRunOrder);
  EXPECT_EQ(ids(m), (std::vector<std::string>{"C", "B", "A"}));
  // ASTM/HL7 times (YYYYMMDDHHMM[SS]) order as well.
  Message astm;
  astm.samples.push_back(sampleOf("late", SampleKind::kQc, {}, "20240101120000"));
  astm.samples.push_back(sampleOf("early", SampleKind::kUnknown, {}, "202401011155"));
  EXPECT_EQ(putInInjectionOrder(astm), RunOrderSource::kAcquisitionTime);
  EXPECT_EQ(ids(astm), (std::vector<std::string>{"early", "late"}));
  EXPECT_EQ(acquisitionMillis("20240101115500"), acquisitionMillis("2024-01-01T11:55:00"));
  EXPECT_FALSE(acquisitionMillis("4/19/2018 6:37 PM").has_value());
}

TEST(RunOrder, EqualTimesAreOrderedOnlyByARunOrderListing) {
  auto twoAtOneMinute = [](bool listed) {
    Message m;
    m.listedInRunOrder = listed;
    m.samples.push_back(sampleOf("QC", SampleKind::kQc, {}, "2024-03-05T09:10"));
    m.samples.push_back(sampleOf("P", SampleKind::kUnknown, {}, "2024-03-05T09:10"));
    m.samples.push_back(sampleOf("CAL", SampleKind::kCalibrator, {}, "2024-03-05T09:00"));
    return m;
  };
  Message listed = twoAtOneMinute(true);
  EXPECT_EQ(putInInjectionOrder(listed), RunOrderSource::kAcquisitionTime);
  EXPECT_EQ(ids(listed), (std::vector<std::string>{"CAL", "QC", "P"}));
  Message unlisted = twoAtOneMinute(false);
  EXPECT_EQ(putInInjectionOrder(unlisted), RunOrderSource::kUnknown);
  EXPECT_FALSE(unlisted.listedInRunOrder);
  EXPECT_EQ(ids(unlisted), (std::vector<std::string>{"QC", "P", "CAL"})) << "kept as listed";
}

TEST(RunOrder, WithoutNumbersOrTimesOnlyTheFormatsListingTells) {
  Message m;
  m.samples.push_back(sampleOf("QC", SampleKind::kQc, 3));
  m.samples.push_back(sampleOf("P", SampleKind::kUnknown));  // no injection number
  m.samples.push_back(sampleOf("CAL", SampleKind::kCalibrator, 1, "not a time"));
  Message unknown = m;
  EXPECT_EQ(putInInjectionOrder(unknown), RunOrderSource::kUnknown);
  EXPECT_FALSE(unknown.listedInRunOrder);
  EXPECT_EQ(ids(unknown), (std::vector<std::string>{"QC", "P", "CAL"}));
  std::optional<CheckResult> once = runOrderCheck(unknown);
  ASSERT_TRUE(once.has_value());
  EXPECT_EQ(once->code, "RUN_ORDER_UNKNOWN");
  EXPECT_EQ(once->outcome, Outcome::kNotEvaluable);
  EXPECT_EQ(once->subject, "batch");
  EXPECT_NE(once->message.find("QC bracketing"), std::string::npos) << once->message;
  Message listed = m;
  listed.listedInRunOrder = true;  // e.g. a MassHunter batch table, top to bottom
  EXPECT_EQ(putInInjectionOrder(listed), RunOrderSource::kListing);
  EXPECT_TRUE(listed.listedInRunOrder);
  EXPECT_EQ(ids(listed), (std::vector<std::string>{"QC", "P", "CAL"}));
}

TEST(RunOrder, PatientResultsAloneOrOneSampleNeedNoOrder) {
  Message patients;
  patients.samples.push_back(sampleOf("P1", SampleKind::kUnknown));
  patients.samples.push_back(sampleOf("P2", SampleKind::kUnknown));
  EXPECT_EQ(putInInjectionOrder(patients), RunOrderSource::kUnknown);
  EXPECT_FALSE(runOrderCheck(patients).has_value()) << "nothing order-dependent to report";
  Message one;
  one.samples.push_back(sampleOf("QC", SampleKind::kQc));
  EXPECT_EQ(putInInjectionOrder(one), RunOrderSource::kListing);
  EXPECT_TRUE(one.listedInRunOrder);
}

}  // namespace
}  // namespace labgate::rules
