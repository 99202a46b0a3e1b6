// Real, independently written HL7 senders against labgated: `mllp_send` from Debian's
// python3-hl7 and the npm package simple-hl7's TCP client (installed under tests/clients by the
// setup script, driven by tests/data/integration/simple_hl7_send.js). Each must get AA for a clean
// ORU^R01 and AR for one carrying (invented) PHI, and sending the same file again (same MSH-10)
// must not put a second result at the LIS. The tests skip, saying why, when a client is missing.
#include <iostream>

#include "tests/integration/harness_hl7.h"

namespace labgate::it {
namespace {

// Invented; used only to trip the structural PID-5 rule.
const char kInventedName[] = "Brockhurst^Lavinia";

std::string simpleHl7Dir() { return sourceDir() + "/tests/clients/node_modules/simple-hl7"; }
std::string nodeScript() { return testDataDir() + "/simple_hl7_send.js"; }

class Hl7ClientsTest : public Hl7EngineTest {
 protected:
  /// Writes an ORU file the way these clients' users keep them: LF between segments.
  std::string writeMessageFile(const std::string& name, const OruSpec& spec,
                               const std::string& segmentEnd) {
    std::string path = tmp_->file(name);
    writeFile(path, buildOru(spec, segmentEnd));
    return path;
  }

  OruSpec phiOru(const std::string& sampleId) {
    OruSpec spec = cleanOru(sampleId);
    spec.patientSegments = {std::string("PID|1||||") + kInventedName};
    return spec;
  }

  /// After a resend, a later message reaching the LIS shows nothing else is still on its way;
  /// then `sampleId` must have arrived exactly once.
  void expectForwardedOnce(const std::string& sampleId,
                           const std::function<void(const OruSpec&)>& sendSentinel) {
    OruSpec sentinel = cleanOru(newSampleId("SEN"));
    sendSentinel(sentinel);
    ASSERT_TRUE(waitForSample(sentinel.sampleId)) << "sentinel not forwarded";
    EXPECT_EQ(deliveredCount(sampleId), 1u) << "a resend with the same MSH-10 was forwarded again";
  }
};

// ---------------------------------------------------------------------------------------------
// python3-hl7: mllp_send --port P --loose --file MSG 127.0.0.1 prints each ACK it receives.

struct MllpSendResult {
  ProgramRun run;
  std::vector<Hl7Ack> acks;
};

MllpSendResult mllpSend(const std::string& program, int port, const std::string& file,
                        const std::string& captureDir) {
  MllpSendResult result;
  result.run =
      runProgram(program, {"--port", std::to_string(port), "--loose", "--file", file, "127.0.0.1"},
                 30000ms, captureDir);
  for (const auto& frame : mllp::frames(result.run.out)) result.acks.push_back(parseAck(frame));
  return result;
}

TEST_F(Hl7ClientsTest, PythonHl7MllpSend) {
  const std::string program = findProgram("mllp_send");
  if (program.empty())
    GTEST_FAIL() << "mllp_send (Debian python3-hl7) is not installed; scripts/setup.sh installs it";
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());

  auto expectAck = [&](const std::string& file, const std::string& controlId,
                       const std::string& code, const std::string& label) {
    MllpSendResult r = mllpSend(program, hl7Port(), file, tmp_->path());
    ASSERT_TRUE(r.run.finished) << label << ": mllp_send did not finish within 30 s";
    ASSERT_EQ(r.run.exitCode, 0) << label << ": mllp_send failed; stderr: " << r.run.err;
    ASSERT_EQ(r.acks.size(), 1u) << label << ": mllp_send printed " << r.acks.size()
                                 << " ACK frame(s)";
    EXPECT_EQ(r.acks[0].code, code) << label << ": MSA-1 (ERR-2 '" << r.acks[0].errLocation << "')";
    EXPECT_EQ(r.acks[0].controlId, controlId) << label << ": MSA-2";
  };

  OruSpec clean = cleanOru(newSampleId("PY"));
  const std::string cleanFile = writeMessageFile("python-clean.hl7", clean, "\n");
  expectAck(cleanFile, clean.controlId, "AA", "clean ORU (LF file, --loose)");
  ASSERT_TRUE(waitForSample(clean.sampleId));

  OruSpec crlf = cleanOru(newSampleId("PYC"));
  expectAck(writeMessageFile("python-crlf.hl7", crlf, "\r\n"), crlf.controlId, "AA",
            "clean ORU (CRLF file, --loose)");

  OruSpec phi = phiOru(newSampleId("PYP"));
  expectAck(writeMessageFile("python-phi.hl7", phi, "\n"), phi.controlId, "AR",
            "ORU with a name in PID-5");

  expectAck(cleanFile, clean.controlId, "AA", "resend of the clean file");
  EXPECT_EQ(settledHl7("messages_duplicate", 1), 1);
  expectForwardedOnce(clean.sampleId, [&](const OruSpec& sentinel) {
    expectAck(writeMessageFile("python-sentinel.hl7", sentinel, "\n"), sentinel.controlId, "AA",
              "sentinel");
  });
  EXPECT_TRUE(waitForSample(crlf.sampleId));
  EXPECT_EQ(deliveredCount(phi.sampleId), 0u);
}

// ---------------------------------------------------------------------------------------------
// npm simple-hl7: its TcpClient, driven by a small node script kept in tests/data/integration.

TEST_F(Hl7ClientsTest, NodeSimpleHl7TcpClient) {
  const std::string node = findProgram("node");
  if (node.empty()) GTEST_FAIL() << "node is not installed; scripts/setup.sh installs it";
  if (!fileExists(simpleHl7Dir() + "/package.json"))
    GTEST_FAIL() << "simple-hl7 is not installed at tests/clients/node_modules; run "
                    "scripts/setup.sh (npm install in tests/clients)";
  ASSERT_TRUE(fileExists(nodeScript())) << "missing " << nodeScript();
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());

  auto expectAck = [&](const std::string& file, const std::string& controlId,
                       const std::string& code, const std::string& label) {
    ProgramRun run =
        runProgram(node, {nodeScript(), simpleHl7Dir(), std::to_string(hl7Port()), file}, 30000ms,
                   tmp_->path());
    ASSERT_TRUE(run.finished) << label << ": node did not finish within 30 s";
    std::string line = run.out;
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
    EXPECT_EQ(run.exitCode, 0) << label << ": simple-hl7 client said '" << line
                               << "'; stderr: " << run.err;
    EXPECT_EQ(line, "MSA-1=" + code + " MSA-2=" + controlId) << label;
  };

  // simple-hl7 sends the file's text as it is: CR between segments, as HL7 requires.
  OruSpec clean = cleanOru(newSampleId("NJ"));
  const std::string cleanFile = writeMessageFile("node-clean.hl7", clean, "\r");
  expectAck(cleanFile, clean.controlId, "AA", "clean ORU");
  ASSERT_TRUE(waitForSample(clean.sampleId));

  OruSpec phi = phiOru(newSampleId("NJP"));
  expectAck(writeMessageFile("node-phi.hl7", phi, "\r"), phi.controlId, "AR",
            "ORU with a name in PID-5");

  expectAck(cleanFile, clean.controlId, "AA", "resend of the clean file");
  EXPECT_EQ(settledHl7("messages_duplicate", 1), 1);
  expectForwardedOnce(clean.sampleId, [&](const OruSpec& sentinel) {
    expectAck(writeMessageFile("node-sentinel.hl7", sentinel, "\r"), sentinel.controlId, "AA",
              "sentinel");
  });
  EXPECT_EQ(deliveredCount(phi.sampleId), 0u);
}

}  // namespace
}  // namespace labgate::it
