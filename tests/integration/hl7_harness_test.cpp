// Self-checks of the HL7 inbound harness (harness_hl7.*), without labgated: the MLLP framing and
// frame splitter, the field numbering of the ORU builder (read back with harness.h's independent
// HL7 helpers), the ACK reader, and the MLLP client against the fake LIS (which answers every
// frame with an ACK echoing MSH-10). A green HL7 suite must not come from a harness mistake.
#include "tests/integration/harness_hl7.h"

namespace labgate::it {
namespace {

TEST(Hl7HarnessTest, FramesAreSplitAndNoiseOutsideThemIsSkipped) {
  EXPECT_EQ(mllp::frame("MSH|x"), std::string("\x0bMSH|x\x1c\r"));
  std::string stream = "noise\r\n";
  stream.append(mllp::frame("A")).append("junk\x1c\r").append(mllp::frame("B")).append("\x0bC");
  EXPECT_EQ(mllp::frames(stream), (std::vector<std::string>{"A", "B"}))
      << "an unterminated frame at the end is not complete";
}

TEST(Hl7HarnessTest, OruBuilderPutsFieldsWhereHl7NumbersThem) {
  OruSpec spec;
  spec.controlId = "CTL1";
  spec.acceptAck = "AL";
  spec.appAck = "NE";
  spec.sampleId = "S42";
  spec.patientSegments = {"PID|1"};
  spec.results = {{"GLU", "5.6", "mmol/L"}, {"K", "4.1", "mmol/L"}};
  spec.trailingSegments = {"NTE|1|L|reagent pack checked"};
  const std::string message = buildOru(spec);
  auto segments = hl7Segments(message);
  ASSERT_EQ(segments.size(), 6u);
  EXPECT_EQ(message.find('\n'), std::string::npos);
  const std::string& msh = segments[0];
  EXPECT_EQ(hl7Field(msh, 2), "^~\\&");
  EXPECT_EQ(hl7Field(msh, 3), "ANALYZER");
  EXPECT_EQ(hl7Field(msh, 4), "LAB-A");
  EXPECT_EQ(hl7Field(msh, 9), "ORU^R01^ORU_R01");
  EXPECT_EQ(hl7Field(msh, 10), "CTL1");
  EXPECT_EQ(hl7Field(msh, 11), "P");
  EXPECT_EQ(hl7Field(msh, 12), "2.5.1");
  EXPECT_EQ(hl7Field(msh, 15), "AL");
  EXPECT_EQ(hl7Field(msh, 16), "NE");
  EXPECT_EQ(obrSampleIds(message), std::vector<std::string>{"S42"});
  auto obx = observations(message);
  ASSERT_EQ(obx.size(), 2u);
  EXPECT_EQ(obx[0].code, "GLU");
  EXPECT_EQ(obx[0].value, "5.6");
  EXPECT_EQ(obx[0].units, "mmol/L");
  EXPECT_EQ(hl7Field(segmentsNamed(message, "OBX")[1], 2), "NM");
  EXPECT_EQ(hl7Field(segmentsNamed(message, "OBX")[1], 11), "F");
  EXPECT_EQ(hl7Field(segmentsNamed(message, "NTE")[0], 3), "reagent pack checked");
  EXPECT_EQ(hl7Segments(buildOru(spec, "\r\n")), segments) << "CRLF variant, same segments";
}

TEST(Hl7HarnessTest, AckReaderSplitsMsaAndErr) {
  Hl7Ack ack = parseAck(
      "MSH|^~\\&|LABGATE|LAB|ANALYZER|LAB-A|20260115||ACK^R01^ACK|A9|P|2.5.1\r"
      "MSA|AR|CTL7|refused\r"
      "ERR||PID^1^5|100^Segment sequence error^HL70357|E||||PID-5 structural.PID-5\r");
  EXPECT_TRUE(ack.wellFormed());
  EXPECT_EQ(ack.code, "AR");
  EXPECT_EQ(ack.controlId, "CTL7");
  EXPECT_EQ(ack.errLocation, "PID^1^5");
  EXPECT_EQ(ack.errCode, "100");
  EXPECT_EQ(ack.errSeverity, "E");
  EXPECT_NE(ack.humanText().find("PID-5"), std::string::npos);
  EXPECT_EQ(ack.humanText().find("PID^1^5"), std::string::npos) << "ERR-2 is not human text";
  EXPECT_FALSE(parseAck("MSA|AA|X\r").wellFormed()) << "no MSH";
  EXPECT_FALSE(parseAck("MSH|^~\\&|a|b|c|d|t||ORU^R01|X|P|2.5.1\rMSA|AA|X\r").wellFormed())
      << "MSH-9 is not ACK";
}

TEST(Hl7HarnessTest, MllpClientExchangesWithTheFakeLis) {
  FakeLis lis(freePort());
  lis.start();
  OruSpec spec;
  spec.controlId = "SELF1";
  spec.sampleId = "S1";
  spec.results = {{"GLU", "5.6", "mmol/L"}};
  MllpClient client(lis.port());
  // Split sends and two frames in one write: the reader must buffer.
  const std::string framed = mllp::frame(buildOru(spec));
  client.sendRaw(framed.substr(0, 10));
  client.sendRaw(framed.substr(10));
  auto ack = client.readAck(5000ms);
  ASSERT_TRUE(ack);
  EXPECT_EQ(ack->code, "AA");
  EXPECT_EQ(ack->controlId, "SELF1");
  OruSpec second = spec;
  second.controlId = "SELF2";
  OruSpec third = spec;
  third.controlId = "SELF3";
  client.sendRaw(mllp::frame(buildOru(second)) + mllp::frame(buildOru(third)));
  auto a2 = client.readAck(5000ms);
  auto a3 = client.readAck(5000ms);
  ASSERT_TRUE(a2 && a3);
  EXPECT_EQ(a2->controlId, "SELF2");
  EXPECT_EQ(a3->controlId, "SELF3");
  EXPECT_FALSE(client.readAck(300ms)) << "no further frame";
  EXPECT_EQ(lis.count(), 3u);
  client.close();
  lis.stop();
}

}  // namespace
}  // namespace labgate::it
