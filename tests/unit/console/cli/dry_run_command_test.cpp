// labgate dry-run runs a named connector as the engine would: its codec comes from the registry,
// built from the connector's own keys (astm.*, hl7.*), and an ASTM capture with its E1381 framing
// (ENQ, STX frames with checksums, EOT) is de-framed by the receiver the connector uses.
#include "console/cli/dry_run_command.h"

#include <Poco/File.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/TemporaryFile.h>
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "connectors/astm/framing.h"
#include "server/plugins.h"

namespace labgate::cli {
namespace {

const char* kAstm =
    "H|\\^&|||ANALYZER^1\rP|1\rO|1|S-100||^^^GLU\rR|1|^^^GLU^ALT5|5.4|mmol/L||N||F\rL|1|N\r";
const char* kOru =
    "MSH|^~\\&|ANALYZER|LABFAC|LIS|HOSP|20250101120000||ORU^R01^ORU_R01|M1|P|2.5.1\r"
    "OBR|1|PLACER-7|FILLER-9|GLU^Glucose\rOBX|1|NM|GLU^Glucose||5.4|mmol/L|||||F\r";

class DryRunCommand : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = Poco::TemporaryFile::tempName();
    Poco::File(dir_).createDirectories();
    const std::string mappings = std::string(LABGATE_TEST_DATA_DIR) + "/integration/mappings.csv";
    std::string config = "data.dir = " + dir_ + "/data\nhttp.listen = 127.0.0.1:18480\n";
    config += "phi.patterns = " + std::string(LABGATE_SOURCE_DIR) + "/config/phi-patterns.json\n";
    config += "connectors = lab1,lab2,lab3\n";
    // lab1: ASTM with default options; lab3: ASTM taking the test code from R-3 component 5;
    // lab2: HL7 taking the sample id from OBR-2.
    const char* kinds[] = {"astm-tcp", "hl7-mllp", "astm-tcp"};
    for (int i = 1; i <= 3; ++i) {
      const std::string p = fmt::format("connector.lab{}.", i);
      config += fmt::format("{}kind = {}\n", p, kinds[i - 1]);
      config += fmt::format("{}listen = 127.0.0.1:{}\n", p, 19500 + i);
      config += fmt::format("{0}mappings = {1}\n{0}destinations = lis\n", p, mappings);
    }
    config += "connector.lab2.hl7.sample_id_field = OBR-2\n";
    config += "connector.lab3.astm.test_code_component = 5\n";
    config += "destinations = lis\ndestination.lis.kind = hl7-mllp\n";
    config += "destination.lis.host = 127.0.0.1\ndestination.lis.port = 2575\n";
    write("labgate.properties", config);
    registerPlugins(registry_);
  }
  void TearDown() override { Poco::File(dir_).remove(true); }

  std::string write(const std::string& name, const std::string& text) {
    std::string path = dir_ + "/" + name;
    std::ofstream(path, std::ios::binary) << text;
    return path;
  }

  /// Runs dry-run; each printed line parsed as a JSON object.
  std::vector<Poco::JSON::Object::Ptr> run(std::vector<std::string> args, int expectedExit = 0) {
    args.insert(args.begin(), {"--config", dir_ + "/labgate.properties"});
    std::ostringstream out, err;
    EXPECT_EQ(runDryRun(args, out, err, registry_), expectedExit)
        << "stdout: " << out.str() << "\nstderr: " << err.str();
    std::vector<Poco::JSON::Object::Ptr> lines;
    std::istringstream in(out.str());
    for (std::string line; std::getline(in, line);) {
      lines.push_back(Poco::JSON::Parser().parse(line).extract<Poco::JSON::Object::Ptr>());
    }
    return lines;
  }

  static std::string firstResult(const Poco::JSON::Object::Ptr& line, const std::string& field) {
    auto sample = line->getArray("samples")->getObject(0);
    if (field == "sample_id") return sample->getValue<std::string>("sample_id");
    return sample->getArray("results")->getObject(0)->getValue<std::string>(field);
  }

  std::string dir_;
  Registry registry_;
};

TEST_F(DryRunCommand, AcceptsAnE1381FramedCaptureAsTheConnectorReceivesIt) {
  const std::string capture =
      std::string(1, astm::kEnq) + astm::frameMessage(kAstm) + std::string(1, astm::kEot);
  auto lines = run({"--connector", "lab1", write("capture.bin", capture)});
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0]->getValue<std::string>("outcome"), "accepted");
  EXPECT_EQ(lines[0]->getValue<std::string>("connector"), "lab1");
  EXPECT_EQ(firstResult(lines[0], "sample_id"), "S-100");
  EXPECT_EQ(firstResult(lines[0], "lis_code"), "2345-7");

  // Without --connector, the capture is recognised as ASTM and taken by the first astm-tcp one.
  lines = run({write("capture2.bin", capture)});
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0]->getValue<std::string>("connector"), "lab1");
  EXPECT_EQ(lines[0]->getValue<std::string>("outcome"), "accepted");
}

TEST_F(DryRunCommand, ABrokenFrameIsInvalidAndSaysWhy) {
  std::string frames = astm::frameMessage(kAstm);
  const size_t etx = frames.find(astm::kEtx);
  ASSERT_NE(etx, std::string::npos);
  frames[etx + 1] = frames[etx + 1] == '0' ? '1' : '0';  // a wrong checksum digit
  auto lines = run(
      {"--connector", "lab1", write("bad.bin", std::string(1, astm::kEnq) + frames + astm::kEot)},
      1);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0]->getValue<std::string>("outcome"), "invalid");
  auto problem = lines[0]->getArray("problems")->getObject(0);
  EXPECT_EQ(problem->getValue<std::string>("location"), "E1381 framing");
  EXPECT_NE(problem->getValue<std::string>("reason").find("checksum"), std::string::npos)
      << problem->getValue<std::string>("reason");
}

TEST_F(DryRunCommand, AFrameRefusedAndThenRetransmittedIsTakenAsOnTheLink) {
  const std::string frames = astm::frameMessage(kAstm);
  std::string first = frames.substr(0, frames.find(astm::kLf) + 1);
  first[first.find(astm::kEtx) + 1] ^= 1;  // the first frame once with a wrong checksum
  auto lines = run({"--connector", "lab1",
                    write("resent.bin", std::string(1, astm::kEnq) + first + frames + astm::kEot)});
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0]->getValue<std::string>("outcome"), "accepted");
}

TEST_F(DryRunCommand, TheConnectorsOwnOptionsChangeTheParse) {
  const std::string astm = write("message.astm", kAstm);
  auto lines = run({"--connector", "lab1", astm});
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(firstResult(lines[0], "code"), "GLU") << "default: R-3 component 4";
  lines = run({"--connector", "lab3", astm});
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(firstResult(lines[0], "code"), "ALT5") << "astm.test_code_component = 5";

  const std::string hl7 = write("message.hl7", kOru);
  lines = run({"--connector", "lab2", hl7});
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0]->getValue<std::string>("outcome"), "accepted");
  EXPECT_EQ(firstResult(lines[0], "sample_id"), "PLACER-7") << "hl7.sample_id_field = OBR-2";
}

TEST_F(DryRunCommand, AnUnknownKindIsAConfigurationErrorNamingTheKey) {
  std::string config;
  {
    std::ifstream in(dir_ + "/labgate.properties");
    std::ostringstream all;
    all << in.rdbuf();
    config = all.str();
  }
  const std::string from = "connector.lab3.kind = astm-tcp";
  config.replace(config.find(from), from.size(), "connector.lab3.kind = astm");
  write("labgate.properties", config);
  std::ostringstream out, err;
  EXPECT_EQ(runDryRun({"--config", dir_ + "/labgate.properties", write("m.astm", kAstm)}, out, err,
                      registry_),
            2);
  EXPECT_NE(err.str().find("connector.lab3.kind: unknown kind \"astm\" (known: astm-tcp, "
                           "file-drop, hl7-mllp, upload)"),
            std::string::npos)
      << err.str();
}

}  // namespace
}  // namespace labgate::cli
