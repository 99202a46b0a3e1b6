// Tests of connectors/hl7/builder.h: ORU^R01 and OUL^R22 Documents into the canonical Message —
// header fields, samples per OBR (and SPM in OUL), one result per OBX with values per OBX-2, NTE
// comments, and the rejected / invalid statuses. Synthetic inputs only.
#include "connectors/hl7/builder.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

namespace labgate::hl7 {
namespace {

std::string readData(const std::string& name) {
  std::ifstream in(std::string(LABGATE_TEST_DATA_DIR) + "/hl7/" + name, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

StatusOr<Message> build(const std::string& text, const Hl7Options& options = {}) {
  StatusOr<Document> document = parseHl7(text, options);
  if (!document.isOk()) return document.status();
  return buildMessage(document.value(), options);
}

const std::string kOru = "MSH|^~\\&|Analyzer|Lab|||20240101120000||ORU^R01|C1|P|2.5.1\rOBR|1||S1\r";

TEST(BuildMessage, ReadsTheChemistryOru) {
  StatusOr<Message> message = build(readData("oru_r01_chemistry_CR.hl7"));
  ASSERT_TRUE(message.isOk()) << message.status().toString();
  EXPECT_EQ(message->controlId, "CHEM-0001");
  EXPECT_EQ(message->sender, "ChemAnalyzer^LabNorth");
  EXPECT_EQ(message->processingId, "P");
  EXPECT_EQ(message->version, "2.5.1");
  EXPECT_EQ(message->sentAt, "20240105101500");
  ASSERT_EQ(message->samples.size(), 2u);
  const Sample& first = message->samples[0];
  EXPECT_EQ(first.sampleId, "S-1001");
  EXPECT_EQ(first.acquiredAt, "20240105100000");
  ASSERT_EQ(first.results.size(), 6u);

  const Result& glucose = first.results[0];
  EXPECT_EQ(glucose.instrumentCode, "GLU");
  EXPECT_EQ(glucose.value, "5.4");
  ASSERT_TRUE(glucose.numeric.has_value());
  EXPECT_DOUBLE_EQ(*glucose.numeric, 5.4);
  EXPECT_EQ(glucose.units, "mmol/L");
  EXPECT_EQ(glucose.referenceRange, "3.9-6.1");
  EXPECT_EQ(glucose.flags, "N");
  EXPECT_EQ(glucose.status, "F");
  EXPECT_EQ(glucose.measuredAt, "20240105101000");
  EXPECT_EQ(glucose.location, "OBX-4");

  const Result& crp = first.results[1];
  EXPECT_EQ(crp.value, "<0.5");
  EXPECT_FALSE(crp.numeric.has_value());
  EXPECT_EQ(crp.comment, "Below the limit of quantitation\nRepeat not required");
  EXPECT_EQ(first.results[2].value, "1:128");
  EXPECT_FALSE(first.results[2].numeric.has_value());
  EXPECT_EQ(first.results[3].value, "Slightly haemolysed & lipaemic");
  EXPECT_EQ(first.results[4].value, "Group A");
  EXPECT_EQ(first.results[5].flags, "H~A");
  EXPECT_EQ(first.results[5].status, "P");
  EXPECT_EQ(first.results[5].location, "OBX-11");

  const Sample& second = message->samples[1];
  EXPECT_EQ(second.sampleId, "S-1002");
  EXPECT_EQ(second.kind, SampleKind::kQc);  // SPM-11 Q
  ASSERT_EQ(second.results.size(), 1u);
  EXPECT_EQ(second.results[0].measuredAt, "20240105101300");  // OBX-19 fallback
}

TEST(BuildMessage, TakesTheSampleIdFromTheConfiguredField) {
  const std::string text = readData("oru_r01_chemistry_CR.hl7");
  Hl7Options placer;
  ASSERT_TRUE(setHl7Option(placer, "sample_id_field", "OBR-2").isOk());
  StatusOr<Message> byPlacer = build(text, placer);
  ASSERT_TRUE(byPlacer.isOk());
  EXPECT_EQ(byPlacer->samples[0].sampleId, "ORD-100");
  Hl7Options specimen;
  ASSERT_TRUE(setHl7Option(specimen, "sample_id_field", "SPM-2").isOk());
  StatusOr<Message> bySpecimen = build(text, specimen);
  ASSERT_TRUE(bySpecimen.isOk());
  EXPECT_EQ(bySpecimen->samples[0].sampleId, "S-1001");  // no SPM in that order: OBR-3
  EXPECT_EQ(bySpecimen->samples[1].sampleId, "S-1002");  // SPM-2 placer entity id
}

TEST(BuildMessage, ReadsOulSpecimens) {
  StatusOr<Message> message = build(readData("oul_r22_specimen_latin1_LF.hl7"));
  ASSERT_TRUE(message.isOk()) << message.status().toString();
  ASSERT_EQ(message->samples.size(), 2u);
  EXPECT_EQ(message->samples[0].sampleId, "SP-2001");
  EXPECT_EQ(message->samples[0].kind, SampleKind::kUnknown);
  EXPECT_EQ(message->samples[0].acquiredAt, "20240106080000+0100");
  EXPECT_EQ(message->samples[1].sampleId, "SP-2002");
  EXPECT_EQ(message->samples[1].kind, SampleKind::kQc);
  ASSERT_EQ(message->samples[1].results.size(), 2u);
  EXPECT_EQ(message->samples[1].results[1].units, "\xC2\xB5g/L");
  EXPECT_DOUBLE_EQ(*message->samples[1].results[1].numeric, 21.5);
}

TEST(BuildMessage, ReadsValueTypes) {
  StatusOr<Message> message =
      build(kOru +
            "OBX|1|NM|A||  -0.25 |\rOBX|2|NM|B||\rOBX|3|NM|C||1~2\rOBX|4|SN|D||^182\r"
            "OBX|5|SN|E||>^8\rOBX|6|SN|F||^10^-^20\rOBX|7|CE|G||^Text only^L\rOBX|8|CWE|H||CODE^\r"
            "OBX|9|TX|I||first\\.br\\second~third\rOBX|10|IS|J||CBC+DIFF\rOBX|11|ED|K||^IM^JPEG^"
            "Base64^QUJD\r"
            "OBX|12|FT|L||\\H\\bold\\N\\ text\rOBX|13||M||7\r");
  ASSERT_TRUE(message.isOk()) << message.status().toString();
  const std::vector<Result>& r = message->samples[0].results;
  ASSERT_EQ(r.size(), 13u);
  EXPECT_EQ(r[0].value, "-0.25");
  EXPECT_DOUBLE_EQ(*r[0].numeric, -0.25);
  EXPECT_EQ(r[1].value, "");
  EXPECT_FALSE(r[1].numeric.has_value());
  EXPECT_EQ(r[2].value, "1~2");
  EXPECT_FALSE(r[2].numeric.has_value());
  EXPECT_EQ(r[3].value, "182");
  EXPECT_DOUBLE_EQ(*r[3].numeric, 182);
  EXPECT_EQ(r[4].value, ">8");
  EXPECT_EQ(r[5].value, "10-20");
  EXPECT_EQ(r[6].value, "Text only");
  EXPECT_EQ(r[7].value, "CODE");
  EXPECT_EQ(r[8].value, "first\nsecond\nthird");
  EXPECT_EQ(r[9].value, "CBC+DIFF");
  EXPECT_EQ(r[10].value, "^IM^JPEG^Base64^QUJD");
  EXPECT_EQ(r[11].value, "bold text");
  EXPECT_EQ(r[12].value, "7");
  EXPECT_FALSE(r[12].numeric.has_value());  // numeric only for NM and SN
}

TEST(BuildMessage, AttachesNteOnlyToTheObservationGroup) {
  StatusOr<Message> message = build(kOru +
                                    "NTE|1||order note\rOBX|1|ST|A||x\rPRT|1\rNTE|1||one\r"
                                    "ZXY|1\rNTE|2||two~lines\rSPM|1\rNTE|1||specimen note\r");
  ASSERT_TRUE(message.isOk()) << message.status().toString();
  EXPECT_EQ(message->samples[0].results[0].comment, "one\ntwo\nlines");
}

TEST(BuildMessage, PutsObxBeforeAnyObrIntoASampleWithoutId) {
  StatusOr<Message> message =
      build("MSH|^~\\&|A||||||ORU^R01|C|P|2.5.1\rOBX|1|NM|X||1\rOBR|1||S9\rOBX|1|NM|Y||2\r");
  ASSERT_TRUE(message.isOk());
  ASSERT_EQ(message->samples.size(), 2u);
  EXPECT_EQ(message->samples[0].sampleId, "");
  EXPECT_EQ(message->samples[1].sampleId, "S9");
}

TEST(BuildMessage, RejectsOtherMessageTypes) {
  for (const char* type : {"ADT^A01", "ORU^R30", "ACK^R01", "ORM^O01", "OUL^R21"}) {
    StatusOr<Message> message =
        build(std::string("MSH|^~\\&|A||||||").append(type).append("|C|P|2.5.1\r"));
    ASSERT_FALSE(message.isOk()) << type;
    EXPECT_EQ(message.status().code(), Status::Code::kRejected);
    EXPECT_EQ(message.status().location(), "MSH-9");
    EXPECT_NE(message.status().reason().find(type), std::string::npos);
  }
}

TEST(BuildMessage, LocatesContentTheModelCannotRead) {
  struct Case {
    std::string segments;
    std::string location;
  };
  for (const Case& c : std::vector<Case>{
           {"OBX|1|NM|A||12 mg\r", "OBX-5"},
           {"OBX|1|NM|A||<10\r", "OBX-5"},
           {"OBX|1|NM|A||1,5\r", "OBX-5"},
           {"OBX|1|SN|A||=>^5\r", "OBX-5"},
           {"OBX|1|SN|A||^5^:\r", "OBX-5"},
           {"OBX|1|SN|A||^five\r", "OBX-5"},
           {"OBX|1|NM|A||1||||||F|||2024-01-01\r", "OBX-14"},
           {"OBX|1|NM|A||1||||||F|||20241301\r", "OBX-14"},
           {"OBX|1|NM|A||1||||||F|||2024010124\r", "OBX-14"},
           {"OBX|1|NM|A||1||||||F||||||||yesterday\r", "OBX-19"},
       }) {
    StatusOr<Message> message = build(kOru + c.segments);
    ASSERT_FALSE(message.isOk()) << c.location;
    EXPECT_EQ(message.status().code(), Status::Code::kInvalid);
    EXPECT_EQ(message.status().location(), c.location);
    EXPECT_NE(message.status().reason().find("segment 3"), std::string::npos);
  }
  StatusOr<Message> badObr = build("MSH|^~\\&|A||||||ORU^R01|C|P|2.5.1\rOBR|1||S|X|||01/02/2024\r");
  ASSERT_FALSE(badObr.isOk());
  EXPECT_EQ(badObr.status().location(), "OBR-7");
  StatusOr<Message> badMsh = build("MSH|^~\\&|A||||noon||ORU^R01|C|P|2.5.1\r");
  ASSERT_FALSE(badMsh.isOk());
  EXPECT_EQ(badMsh.status().location(), "MSH-7");
}

TEST(BuildMessage, ReadsEmptyFieldsOfStrippedDocuments) {
  StatusOr<Document> document =
      parseHl7(kOru + "OBX|1|ST|A||secret|||||F\rNTE|1||secret too\r", Hl7Options{});
  ASSERT_TRUE(document.isOk());
  for (Record& record : document->records) {
    for (Field& field : record.fields) {
      if (record.type == "NTE" || (record.type == "OBX" && &field == &record.fields[5])) {
        field = Field{"", "", true};
      }
    }
  }
  StatusOr<Message> message = buildMessage(document.value(), Hl7Options{});
  ASSERT_TRUE(message.isOk());
  EXPECT_EQ(message->samples[0].results[0].value, "");
  EXPECT_EQ(message->samples[0].results[0].comment, "");
}

TEST(Timestamps, FollowTheTsFormat) {
  for (const char* good :
       {"2024", "202401", "20240131", "2024013123", "202401312359", "20240131235959",
        "20240131235959.1234", "20080818183002.1-0700", "201410231322-0600", "20240131+0100"}) {
    EXPECT_TRUE(isHl7Timestamp(good)) << good;
  }
  for (const char* bad :
       {"", "24", "20241", "20240132", "2024013124", "20240131235960.", "20240131.5",
        "20240131235959.12345", "20240131+01", "2024-01-31", "20240131 ", "20240131+2400"}) {
    EXPECT_FALSE(isHl7Timestamp(bad)) << bad;
  }
}

TEST(Numbers, ArePlainDecimals) {
  EXPECT_DOUBLE_EQ(*parseHl7Number("42"), 42);
  EXPECT_DOUBLE_EQ(*parseHl7Number("+1.5"), 1.5);
  EXPECT_DOUBLE_EQ(*parseHl7Number(" -.5 "), -0.5);
  EXPECT_DOUBLE_EQ(*parseHl7Number("3."), 3);
  for (const char* bad : {"", "-", ".", "1e3", "1,5", "1.2.3", "+-1", "--1", ">8", "1 2"}) {
    EXPECT_FALSE(parseHl7Number(bad).has_value()) << bad;
  }
}

}  // namespace
}  // namespace labgate::hl7
