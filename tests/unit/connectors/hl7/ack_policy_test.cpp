// Tests of the hl7-mllp acknowledgment decisions (connectors/hl7/ack_policy.h): every MSH-15 ×
// MSH-16 combination × verdict gives exactly the ACK codes of the table, ERR segments carry the
// right codes and locations and never more than location and reason.
#include "connectors/hl7/ack_policy.h"

#include <gtest/gtest.h>

namespace labgate::hl7 {
namespace {

std::string joined(const std::vector<std::string>& codes) {
  std::string out;
  for (const auto& c : codes) out.append(out.empty() ? "" : "+").append(c);
  return out;
}

struct Expected {
  Verdict verdict;
  const char* original;     // original mode
  const char* accept;       // accept ACK in enhanced mode
  const char* application;  // application ACK in enhanced mode
};

constexpr Expected kVerdicts[] = {
    {Verdict::kAccepted, "AA", "CA", "AA"},    {Verdict::kDuplicate, "AA", "CA", "AA"},
    {Verdict::kRefusedPhi, "AR", "CR", "AR"},  {Verdict::kInvalid, "AE", "CE", "AE"},
    {Verdict::kUnsupported, "AR", "CR", "AR"}, {Verdict::kFailed, "AR", "CE", "AR"},
};

// MSH-15, MSH-16, then which ACKs go out on success and on error: "A" accept, "P" application.
struct ModeRow {
  const char* msh15;
  const char* msh16;
  const char* onSuccess;
  const char* onError;
};

constexpr ModeRow kModes[] = {
    {"AL", "AL", "AP", "AP"}, {"AL", "NE", "A", "A"},  {"AL", "ER", "A", "AP"},
    {"AL", "SU", "AP", "A"},  {"AL", "", "A", "A"},    {"NE", "AL", "P", "P"},
    {"NE", "NE", "", ""},     {"NE", "ER", "", "P"},   {"NE", "SU", "P", ""},
    {"NE", "", "", ""},       {"ER", "AL", "P", "AP"}, {"ER", "NE", "", "A"},
    {"ER", "ER", "", "AP"},   {"ER", "SU", "P", "A"},  {"ER", "", "", "A"},
    {"SU", "AL", "AP", "P"},  {"SU", "NE", "A", ""},   {"SU", "ER", "A", "P"},
    {"SU", "SU", "AP", ""},   {"SU", "", "A", ""},     {"", "AL", "P", "P"},
    {"", "NE", "", ""},       {"", "ER", "", "P"},     {"", "SU", "P", ""},
};

TEST(AckPolicy, OriginalModeAnswersOneApplicationAck) {
  for (const Expected& e : kVerdicts) {
    EXPECT_EQ(joined(ackCodes("", "", e.verdict)), e.original) << toString(e.verdict);
    EXPECT_EQ(joined(ackCodes("  ", "", e.verdict)), e.original) << "blank counts as empty";
  }
}

TEST(AckPolicy, EnhancedModeFollowsMsh15AndMsh16ForEveryVerdict) {
  for (const ModeRow& m : kModes) {
    for (const Expected& e : kVerdicts) {
      std::string expected;
      for (const char* p = isSuccess(e.verdict) ? m.onSuccess : m.onError; *p; ++p) {
        expected.append(expected.empty() ? "" : "+").append(*p == 'A' ? e.accept : e.application);
      }
      // Where the rules ask for no ACK at all, the accept (commit) ACK still goes out (ADR 0004).
      if (expected.empty()) expected = e.accept;
      EXPECT_EQ(joined(ackCodes(m.msh15, m.msh16, e.verdict)), expected)
          << "MSH-15=" << m.msh15 << " MSH-16=" << m.msh16 << " " << toString(e.verdict);
    }
  }
}

TEST(AckPolicy, UnreadableHeaderIsAnsweredAeAndOversizeFramesAr) {
  for (const ModeRow& m : kModes) {
    EXPECT_EQ(joined(ackCodes(m.msh15, m.msh16, Verdict::kBadHeader)), "AE");
    EXPECT_EQ(joined(ackCodes(m.msh15, m.msh16, Verdict::kTooLarge)), "AR");
  }
  EXPECT_EQ(joined(ackCodes("", "", Verdict::kBadHeader)), "AE");
}

TEST(AckPolicy, ConditionValues) {
  EXPECT_EQ(ackCondition("AL"), AckCondition::kAlways);
  EXPECT_EQ(ackCondition("al"), AckCondition::kAlways);
  EXPECT_EQ(ackCondition(" NE "), AckCondition::kNever);
  EXPECT_EQ(ackCondition("ER"), AckCondition::kOnError);
  EXPECT_EQ(ackCondition("SU^x"), AckCondition::kOnSuccess);
  EXPECT_EQ(ackCondition(""), AckCondition::kNever);
  EXPECT_EQ(ackCondition("XX"), AckCondition::kAlways) << "unknown values answer";
  EXPECT_EQ(joined(ackCodes("XX", "", Verdict::kAccepted)), "CA");
}

TEST(AckPolicy, VerdictOfIntake) {
  Intake intake;
  intake.outcome = Intake::Outcome::kAccepted;
  EXPECT_EQ(verdictOf(intake), Verdict::kAccepted);
  intake.outcome = Intake::Outcome::kDuplicate;
  EXPECT_EQ(verdictOf(intake), Verdict::kDuplicate);
  intake.outcome = Intake::Outcome::kRefused;
  EXPECT_EQ(verdictOf(intake), Verdict::kRefusedPhi);
  intake.outcome = Intake::Outcome::kInvalid;
  intake.status = Status::invalid("OBX(1)-2", "unknown value type");
  EXPECT_EQ(verdictOf(intake), Verdict::kInvalid);
  intake.status = Status::rejected("MSH-9", "ADT^A01 is not a result message");
  EXPECT_EQ(verdictOf(intake), Verdict::kUnsupported);
  intake.outcome = Intake::Outcome::kFailed;
  EXPECT_EQ(verdictOf(intake), Verdict::kFailed);
}

TEST(AckPolicy, SuccessHasNoErrors) {
  EXPECT_TRUE(ackErrors(Verdict::kAccepted, Status()).empty());
  EXPECT_TRUE(ackErrors(Verdict::kDuplicate, Status()).empty());
  EXPECT_EQ(ackText(Verdict::kAccepted, Status()), "");
}

TEST(AckPolicy, PhiRefusalNamesFieldAndRuleButNoValue) {
  Status why = Status::phiRefused(
      "PID-5", "patient-identifying data (PID-5 (structural.PID-5), PID-7 (structural.PID-7))");
  auto errors = ackErrors(Verdict::kRefusedPhi, why);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].segment, "PID");
  EXPECT_EQ(errors[0].sequence, 1);
  EXPECT_EQ(errors[0].field, 5);
  EXPECT_EQ(errors[0].code, "207");
  EXPECT_EQ(errors[0].severity, "E");
  EXPECT_EQ(errors[0].applicationCode, "PHI");
  EXPECT_NE(errors[0].userMessage.find("structural.PID-5"), std::string::npos);
  EXPECT_NE(errors[0].userMessage.find("PID-5"), std::string::npos);
  EXPECT_EQ(ackText(Verdict::kRefusedPhi, why), "patient-identifying data at PID-5");

  OruHeader h;
  h.controlId = "ACK1";
  h.timestamp = "20250101000000";
  std::string ack = buildAck("AR", "MSG1", ackText(Verdict::kRefusedPhi, why), h, errors);
  EXPECT_NE(ack.find("\rERR||PID^1^5|207^Application internal error^HL70357|E|PHI^Patient-"
                     "identifying data refused^99LG|||refused: PID-5: patient-identifying data"),
            std::string::npos)
      << ack;
  auto parsed = parseAck(ack);
  ASSERT_TRUE(parsed.isOk());
  EXPECT_EQ(parsed->code, "AR");
  EXPECT_NE(parsed->error.find("location PID(1)-5"), std::string::npos) << parsed->error;
}

TEST(AckPolicy, InvalidCodesFollowTheReason) {
  auto code = [](const char* location, const char* reason) {
    auto errors = ackErrors(Verdict::kInvalid, Status::invalid(location, reason));
    return errors.at(0).code;
  };
  EXPECT_EQ(code("OBX(2)-2", "unknown value type"), "102");
  EXPECT_EQ(code("MSH-10", "the message control id is empty"), "101");
  EXPECT_EQ(code("OBR-3", "required field missing"), "101");
  EXPECT_EQ(code("OBR", "no OBR segment before the first OBX segment"), "100");
  auto errors = ackErrors(Verdict::kInvalid, Status::invalid("OBX(2)-2", "unknown value type"));
  EXPECT_EQ(errors[0].segment, "OBX");
  EXPECT_EQ(errors[0].sequence, 2);
  EXPECT_EQ(errors[0].field, 2);
  EXPECT_EQ(errors[0].userMessage, "OBX(2)-2: unknown value type");
  EXPECT_EQ(ackText(Verdict::kInvalid, Status::invalid("OBX(2)-2", "unknown value type")),
            "OBX(2)-2: unknown value type");
}

TEST(AckPolicy, UnsupportedFailedTooLargeAndHeaderErrors) {
  auto unsupported = ackErrors(Verdict::kUnsupported, Status::rejected("MSH-9", "not results"));
  EXPECT_EQ(unsupported.at(0).code, "200");
  EXPECT_EQ(unsupported[0].segment, "MSH");
  EXPECT_EQ(unsupported[0].field, 9);

  auto failed = ackErrors(Verdict::kFailed, Status::io("store", "disk full"));
  EXPECT_EQ(failed.at(0).code, "207");
  EXPECT_EQ(failed[0].applicationCode, "STORE");
  EXPECT_NE(failed[0].userMessage.find("again later"), std::string::npos);
  EXPECT_EQ(failed[0].segment, "") << "'store' is not a segment location";

  auto large = ackErrors(Verdict::kTooLarge, Status(), 4096);
  EXPECT_EQ(large.at(0).code, "207");
  EXPECT_EQ(large[0].applicationCode, "TOO_LARGE");
  EXPECT_NE(large[0].userMessage.find("4096"), std::string::npos);

  auto header = ackErrors(Verdict::kBadHeader, Status::invalid("MSH-2", "bad encoding characters"));
  EXPECT_EQ(header.at(0).code, "102");
  EXPECT_EQ(header[0].segment, "MSH");
  EXPECT_EQ(header[0].field, 2);
  EXPECT_EQ(header[0].applicationCode, "HEADER");
}

TEST(AckPolicy, ErrorLocations) {
  AckError e;
  EXPECT_TRUE(setErrorLocation(e, "PID-5"));
  EXPECT_EQ(e.segment + "^" + std::to_string(e.sequence) + "^" + std::to_string(e.field),
            "PID^1^5");
  EXPECT_TRUE(setErrorLocation(e, "OBX[3]-5.1"));
  EXPECT_EQ(e.sequence, 3);
  EXPECT_EQ(e.field, 5);
  EXPECT_TRUE(setErrorLocation(e, "MSH"));
  EXPECT_EQ(e.field, 0);
  EXPECT_TRUE(setErrorLocation(e, "ZNT-1"));
  AckError untouched;
  EXPECT_FALSE(setErrorLocation(untouched, "line 3"));
  EXPECT_FALSE(setErrorLocation(untouched, "message"));
  EXPECT_FALSE(setErrorLocation(untouched, "PIDX-1"));
  EXPECT_FALSE(setErrorLocation(untouched, "OBX(x)-1"));
  EXPECT_FALSE(setErrorLocation(untouched, ""));
  EXPECT_EQ(untouched.segment, "");
}

TEST(AckPolicy, BuildAckEchoesVersionAndWritesErr8) {
  OruHeader h;
  h.controlId = "A1";
  h.timestamp = "20250101000000";
  AckError e;
  e.segment = "MSH";
  e.sequence = 1;
  e.field = 9;
  e.code = "200";
  e.codeText = "Unsupported message type";
  e.userMessage = "MSH-9: not a result";
  std::string ack = buildAck("AR", "9", "", h, {e}, "A01", "2.3.1");
  EXPECT_EQ(ack,
            "MSH|^~\\&|LABGATE||||20250101000000||ACK^A01^ACK|A1|P|2.3.1\r"
            "MSA|AR|9\r"
            "ERR||MSH^1^9|200^Unsupported message type^HL70357|E||||MSH-9: not a result\r");
}

}  // namespace
}  // namespace labgate::hl7
