// Tests for connectors/hl7/ack: parsing AA/AE/AR/commit ACKs with ERR details in v2.5 and v2.3
// layouts, tolerance of LF/CRLF and missing final CR, errors for non-ACKs, and buildAck.
#include "connectors/hl7/ack.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "connectors/hl7/mllp.h"

namespace labgate::hl7 {
namespace {

const char* kMsh = "MSH|^~\\&|LIS|HOSP|LABGATE|LAB1|20250628173500||ACK^R01^ACK|A1|P|2.5.1";

TEST(ParseAck, ReadsAnAcceptance) {
  auto ack = parseAck(std::string(kMsh) + "\rMSA|AA|LG000042|Message accepted\r");
  ASSERT_TRUE(ack.isOk()) << ack.status().toString();
  EXPECT_EQ(ack->code, "AA");
  EXPECT_EQ(ack->controlId, "LG000042");
  EXPECT_EQ(ack->text, "Message accepted");
  EXPECT_EQ(ack->error, "");
  EXPECT_EQ(ack->sendingApplication, "LIS");
  EXPECT_EQ(ack->version, "2.5.1");
  EXPECT_TRUE(ack->accepted());
}

TEST(ParseAck, ReadsAnErrorWithV25ErrSegments) {
  auto ack = parseAck(std::string(kMsh) +
                      "\rMSA|AE|LG000042|Unknown test code\r"
                      "ERR||OBX^3^3^1^1|103^Table value not found^HL70357|E\r"
                      "ERR||OBR^1^4|207^Application internal error^HL70357|W|||diag|msg\r");
  ASSERT_TRUE(ack.isOk()) << ack.status().toString();
  EXPECT_EQ(ack->code, "AE");
  EXPECT_FALSE(ack->accepted());
  EXPECT_EQ(ack->text, "Unknown test code");
  EXPECT_EQ(ack->error,
            "code 103 Table value not found, severity E, location OBX(3)-3.1; "
            "code 207 Application internal error, severity W, location OBR(1)-4");
}

TEST(ParseAck, ReadsARejectionWithAV23ErrSegment) {
  auto ack = parseAck(
      "MSH|^~\\&|LIS||LABGATE||20250628||ACK|A2|P|2.3.1\r"
      "MSA|AR|LG7|Rejected\r"
      "ERR|MSH^1^12^203&Unsupported version id&HL70357\r");
  ASSERT_TRUE(ack.isOk()) << ack.status().toString();
  EXPECT_EQ(ack->code, "AR");
  EXPECT_EQ(ack->controlId, "LG7");
  EXPECT_EQ(ack->error, "code 203 Unsupported version id, location MSH(1)-12");
}

TEST(ParseAck, DecodesEscapesWithTheMessagesDelimiters) {
  auto ack = parseAck(
      "MSH#@*!$#LIS#####ACK#1#P#2.5.1\rMSA#AE#LG1#bad !F! in OBX-5#\r"
      "ERR##OBX@1@5#102@Data type error#E\r");
  ASSERT_TRUE(ack.isOk()) << ack.status().toString();
  EXPECT_EQ(ack->text, "bad # in OBX-5");
  EXPECT_EQ(ack->error, "code 102 Data type error, severity E, location OBX(1)-5");
}

TEST(ParseAck, ReadsCommitAcknowledgments) {
  for (const char* code : {"CA", "CE", "CR"}) {
    auto ack = parseAck(std::string(kMsh) + "\rMSA|" + code + "|X1");
    ASSERT_TRUE(ack.isOk()) << code;
    EXPECT_EQ(ack->code, code);
    EXPECT_EQ(ack->accepted(), std::string(code) == "CA");
  }
}

TEST(ParseAck, ToleratesLfCrlfMissingFinalCrBomAndFraming) {
  const std::string body = std::string(kMsh) + "\nMSA|AA|LG1";
  for (const std::string& text :
       {body, body + "\n", std::string(kMsh) + "\r\nMSA|AA|LG1\r\n\r\n", "\xEF\xBB\xBF" + body,
        frameMllp(std::string(kMsh) + "\rMSA|AA|LG1\r"),
        std::string(kMsh) + "\r\n\r\nMSA|AA|LG1"}) {
    auto ack = parseAck(text);
    ASSERT_TRUE(ack.isOk()) << ack.status().toString();
    EXPECT_EQ(ack->code, "AA");
    EXPECT_EQ(ack->controlId, "LG1");
  }
}

TEST(ParseAck, RefusesWhatIsNotAnAck) {
  auto noMsh = parseAck("MSA|AA|LG1\r");
  ASSERT_FALSE(noMsh.isOk());
  EXPECT_EQ(noMsh.status().code(), Status::Code::kInvalid);
  EXPECT_EQ(noMsh.status().location(), "segment 1");  // the parser's words: not an MSH first

  auto noMsa = parseAck(std::string(kMsh) + "\rPID|1||SECRET-MRN\r");
  ASSERT_FALSE(noMsa.isOk());
  EXPECT_EQ(noMsa.status().location(), "MSA");
  EXPECT_EQ(noMsa.status().toString().find("SECRET"), std::string::npos);

  auto badCode = parseAck(std::string(kMsh) + "\rMSA|OK|LG1\r");
  ASSERT_FALSE(badCode.isOk());
  EXPECT_EQ(badCode.status().location(), "MSA-1");

  EXPECT_FALSE(parseAck("").isOk());
  EXPECT_FALSE(parseAck(std::string(kMsh) + "\rMSA\r").isOk());
}

TEST(BuildAck, RoundTripsThroughParseAck) {
  OruHeader h;
  h.sendingApplication = "LABGATE";
  h.sendingFacility = "LAB1";
  h.receivingApplication = "ELite 580";
  h.receivingFacility = "Erba";
  h.controlId = "ACK0001";
  h.timestamp = "20250628173500";
  AckError e;
  e.code = "101";
  e.codeText = "Required field missing";
  e.segment = "OBR";
  e.sequence = 1;
  e.field = 3;
  std::string ack = buildAck("AE", "ORU|42", "missing filler order number", h, {e});
  EXPECT_EQ(ack,
            "MSH|^~\\&|LABGATE|LAB1|ELite 580|Erba|20250628173500||ACK^R01^ACK|ACK0001|P|2.5.1\r"
            "MSA|AE|ORU\\F\\42|missing filler order number\r"
            "ERR||OBR^1^3|101^Required field missing^HL70357|E\r");
  auto parsed = parseAck(ack);
  ASSERT_TRUE(parsed.isOk()) << parsed.status().toString();
  EXPECT_EQ(parsed->code, "AE");
  EXPECT_EQ(parsed->controlId, "ORU|42");
  EXPECT_EQ(parsed->text, "missing filler order number");
  EXPECT_EQ(parsed->error, "code 101 Required field missing, severity E, location OBR(1)-3");
}

TEST(BuildAck, WritesAMinimalAcceptance) {
  OruHeader h;
  h.controlId = "9";
  h.timestamp = "20250101000000";
  EXPECT_EQ(buildAck("AA", "77", "", h, {}, "O33"),
            "MSH|^~\\&|LABGATE||||20250101000000||ACK^O33^ACK|9|P|2.5.1\rMSA|AA|77\r");
}

TEST(ParseAck, ReadsTheErbaHostAckTranscript) {
  const std::string path = std::string(LABGATE_SHARED_DIR) +
                           "/corpus/hl7/transcripts/erba_elite580_host_ack_raw_crlf.txt";
  std::ifstream in(path, std::ios::binary);
  if (!in) GTEST_SKIP() << "corpus file not present: " << path;
  std::stringstream bytes;
  bytes << in.rdbuf();
  auto ack = parseAck(bytes.str());
  ASSERT_TRUE(ack.isOk()) << ack.status().toString();
  EXPECT_EQ(ack->code, "AA");
  EXPECT_EQ(ack->controlId, "ac84fae48b0e475996af764673f793fb");
  EXPECT_EQ(ack->text, "Message Accepted");
  EXPECT_EQ(ack->version, "2.3.1");
  EXPECT_EQ(ack->error, "");
}

}  // namespace
}  // namespace labgate::hl7
