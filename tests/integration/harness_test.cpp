// Self-checks of the harness, so that a passing integration test means the engine is right and
// not that the test instrument and the engine share a mistake: the E1381 checksum is verified
// against frames recorded from real instruments, and the HL7 field numbering and the secret
// search are pinned down. No engine is started here.
#include "tests/integration/harness.h"

#include <algorithm>

namespace labgate::it {
namespace {

TEST(HarnessSelfTest, ChecksumAndFrameLayout) {
  EXPECT_EQ(astm::checksum("1H|\\^&\r\x03"), "E5");
  EXPECT_EQ(astm::frame(1, "H|\\^&\r", true),
            "\x02"
            "1H|\\^&\r\x03"
            "E5\r\n");
  EXPECT_EQ(astm::frame(8, "R|1", false),
            "\x02"
            "0R|1\x17"
            "46\r\n")
      << "FN wraps 7 → 0";
}

TEST(HarnessSelfTest, ChecksumAgreesWithRecordedInstrumentFrames) {
  const std::string path = sharedDir() + "/corpus/astm/roche_cobas_c111_etb_multiframe.astm";
  if (!fileExists(path)) GTEST_SKIP() << "corpus not found";
  const std::string bytes = readFile(path);
  int checked = 0;
  for (size_t stx = bytes.find(astm::kStx); stx != std::string::npos;
       stx = bytes.find(astm::kStx, stx + 1)) {
    size_t end = bytes.find_first_of(std::string{astm::kEtx, astm::kEtb}, stx);
    ASSERT_NE(end, std::string::npos);
    ASSERT_LE(end + 3, bytes.size());
    EXPECT_EQ(astm::checksum(bytes.substr(stx + 1, end - stx)), bytes.substr(end + 1, 2))
        << "frame " << checked + 1;
    ++checked;
  }
  EXPECT_EQ(checked, 7);
}

TEST(HarnessSelfTest, SplitIntoFramesKeepsTheTextAndMarksTheEnd) {
  std::vector<std::string> records = {"H|\\^&", std::string(500, 'x'), "L|1|N"};
  for (auto framing :
       {astm::Framing::kRecordPerFrame, astm::Framing::kContinuous, astm::Framing::kSingleFrame}) {
    auto frames = astm::splitIntoFrames(records, framing, 240);
    std::string joined;
    for (const auto& f : frames) {
      joined += f.text;
      if (framing != astm::Framing::kSingleFrame) {
        EXPECT_LE(f.text.size(), 240u);
      }
    }
    EXPECT_EQ(joined, "H|\\^&\r" + std::string(500, 'x') + "\rL|1|N\r");
    EXPECT_TRUE(frames.back().final);
  }
  auto perRecord = astm::splitIntoFrames(records, astm::Framing::kRecordPerFrame, 240);
  ASSERT_EQ(perRecord.size(), 5u);  // H, 3 pieces of the long record, L
  EXPECT_TRUE(perRecord[0].final);
  EXPECT_FALSE(perRecord[1].final);
  EXPECT_FALSE(perRecord[2].final);
  EXPECT_TRUE(perRecord[3].final);
}

TEST(HarnessSelfTest, AstmRecordPositions) {
  EXPECT_EQ(astm::record('P', {{2, "1"}, {6, "A^B"}}), "P|1||||A^B");
  auto records = buildAstmMessage({{"S1", {{"GLU", "5.6", "mmol/L"}}, {"c"}}});
  ASSERT_EQ(records.size(), 6u);  // H P O R C L
  EXPECT_EQ(records[2].substr(0, 7), "O|1|S1|");
  EXPECT_EQ(records[3].substr(0, 25), "R|1|^^^GLU|5.6|mmol/L||N|");
  EXPECT_EQ(records[4], "C|1|I|c|G");
  EXPECT_EQ(records[5], "L|1|N");
}

TEST(HarnessSelfTest, Hl7FieldNumbering) {
  const std::string m =
      "MSH|^~\\&|LABGATE|LAB|LIS|LAB|20240301||ORU^R01^ORU_R01|C1|P|2.5.1\r"
      "OBR|1||S7^LG|\rOBX|1|NM|2345-7^Glucose^L||5.6|mmol/L^^UCUM|\r";
  auto segments = hl7Segments(m);
  ASSERT_EQ(segments.size(), 3u);
  EXPECT_EQ(hl7Field(segments[0], 1), "|");
  EXPECT_EQ(hl7Field(segments[0], 9), "ORU^R01^ORU_R01");
  EXPECT_EQ(hl7Field(segments[0], 10), "C1");
  EXPECT_EQ(hl7Field(segments[0], 12), "2.5.1");
  EXPECT_EQ(obrSampleIds(m), std::vector<std::string>{"S7"});
  auto obx = observations(m);
  ASSERT_EQ(obx.size(), 1u);
  EXPECT_EQ(obx[0].code, "2345-7");
  EXPECT_EQ(obx[0].name, "Glucose");
  EXPECT_EQ(obx[0].system, "L");
  EXPECT_EQ(obx[0].value, "5.6");
  EXPECT_EQ(obx[0].units, "mmol/L");
}

TEST(HarnessSelfTest, SecretSearchIsCaseInsensitiveAndReportsLabels) {
  std::vector<Secret> secrets = {{"first", "AbcDef"}, {"second", "zz-9"}};
  EXPECT_EQ(findSecrets("xx abcdef yy", secrets), std::vector<std::string>{"first"});
  EXPECT_EQ(findSecrets(std::string("a\0ZZ-9", 6), secrets), std::vector<std::string>{"second"});
  EXPECT_TRUE(findSecrets("nothing here", secrets).empty());
}

TEST(HarnessSelfTest, FakeLisAnswersWithTheControlIdAndRecordsTheMessage) {
  FakeLis lis(freePort());
  lis.setMode(AckMode::kAE);
  lis.start();
  Poco::Net::StreamSocket socket;
  socket.connect(Poco::Net::SocketAddress("127.0.0.1", static_cast<Poco::UInt16>(lis.port())));
  const std::string oru = "MSH|^~\\&|LABGATE|LAB|LIS|LAB|20240301||ORU^R01^ORU_R01|CTL42|P|2.5.1\r";
  const std::string framed = "\x0b" + oru + "\x1c\r";
  // Sent in two pieces: the reader must reassemble.
  socket.sendBytes(framed.data(), 10);
  std::this_thread::sleep_for(50ms);
  socket.sendBytes(framed.data() + 10, static_cast<int>(framed.size() - 10));
  std::string answer;
  socket.setReceiveTimeout(Poco::Timespan(5, 0));
  char buffer[512];
  while (answer.find("\x1c\r") == std::string::npos) {
    int n = socket.receiveBytes(buffer, sizeof buffer);
    ASSERT_GT(n, 0);
    answer.append(buffer, static_cast<size_t>(n));
  }
  EXPECT_EQ(answer.front(), '\x0b');
  EXPECT_NE(answer.find("\rMSA|AE|CTL42\r"), std::string::npos);
  EXPECT_NE(answer.find("|ACK^R01^ACK|"), std::string::npos);
  ASSERT_EQ(lis.count(), 1u);
  EXPECT_EQ(lis.messages()[0], oru);
  lis.stop();
  Poco::Net::StreamSocket refused;
  EXPECT_THROW(
      refused.connect(Poco::Net::SocketAddress("127.0.0.1", static_cast<Poco::UInt16>(lis.port()))),
      Poco::Exception)
      << "a stopped FakeLis must refuse connections";
}

}  // namespace
}  // namespace labgate::it
