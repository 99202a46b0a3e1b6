// Start-up validation: labgated refuses a bad configuration with a non-zero exit status and a
// message on stderr that names the offending key or file, within a bounded time.
#include <Poco/File.h>

#include <string>

#include "tests/integration/harness.h"

namespace labgate::it {
namespace {

struct BadConfigCase {
  const char* name;
  std::function<void(EngineConfig&, const TempDir&)> spoil;
  std::vector<std::string> mentionOneOf;  // stderr must contain at least one of these
};

class BadConfigTest : public EngineTest {
 protected:
  void expectRefused(const BadConfigCase& c) {
    SCOPED_TRACE(c.name);
    EngineConfig config = config_;
    c.spoil(config, *tmp_);
    config.write(configPath_);
    ProgramRun run =
        runProgram(binDir() + "/labgated", {"--config", configPath_}, 10000ms, tmp_->path());
    ASSERT_TRUE(run.finished) << c.name << ": labgated still running 10 s after start";
    EXPECT_NE(run.exitCode, 0) << c.name << ": exit status";
    bool named = false;
    for (const auto& m : c.mentionOneOf) named = named || run.err.find(m) != std::string::npos;
    EXPECT_TRUE(named) << c.name
                       << ": stderr does not name the problem; it says: " << run.err.substr(0, 300);
  }
};

TEST_F(BadConfigTest, MissingConfigFile) {
  ASSERT_TRUE(fileExists(binDir() + "/labgated"));
  const std::string missing = tmp_->file("no-such.properties");
  ProgramRun run = runProgram(binDir() + "/labgated", {"--config", missing}, 20000ms, tmp_->path());
  ASSERT_TRUE(run.finished);
  EXPECT_NE(run.exitCode, 0);
  EXPECT_NE(run.err.find("no-such.properties"), std::string::npos)
      << "stderr does not name the missing file: " << run.err.substr(0, 300);
}

TEST_F(BadConfigTest, MissingRequiredKeys) {
  ASSERT_TRUE(fileExists(binDir() + "/labgated"));
  expectRefused({"connector kind missing",
                 [](EngineConfig& c, const TempDir&) { c.omit("connector.lab1.kind"); },
                 {"connector.lab1.kind"}});
  expectRefused({"destination port missing",
                 [](EngineConfig& c, const TempDir&) { c.omit("destination.lis.port"); },
                 {"destination.lis.port"}});
  expectRefused({"connector listen missing",
                 [](EngineConfig& c, const TempDir&) { c.omit("connector.lab1.listen"); },
                 {"connector.lab1.listen"}});
}

TEST_F(BadConfigTest, UnknownKinds) {
  ASSERT_TRUE(fileExists(binDir() + "/labgated"));
  expectRefused({"unknown connector kind",
                 [](EngineConfig& c, const TempDir&) { c.connectors[0].kind = "astm-pigeon"; },
                 {"connector.lab1.kind"}});
  expectRefused({"unknown destination kind",
                 [](EngineConfig& c, const TempDir&) { c.destinations[0].kind = "fax"; },
                 {"destination.lis.kind"}});
  expectRefused({"unknown phi policy",
                 [](EngineConfig& c, const TempDir&) { c.connectors[0].phiPolicy = "ignore"; },
                 {"connector.lab1.phi.policy"}});
}

TEST_F(BadConfigTest, BadListenAddresses) {
  ASSERT_TRUE(fileExists(binDir() + "/labgated"));
  expectRefused({"listen port not a number",
                 [](EngineConfig& c, const TempDir&) {
                   c.set("connector.lab1.listen", "127.0.0.1:notaport");
                 },
                 {"connector.lab1.listen"}});
  expectRefused(
      {"listen port out of range",
       [](EngineConfig& c, const TempDir&) { c.set("connector.lab1.listen", "127.0.0.1:70000"); },
       {"connector.lab1.listen"}});
  expectRefused({"http listen without port",
                 [](EngineConfig& c, const TempDir&) { c.set("http.listen", "127.0.0.1"); },
                 {"http.listen"}});
}

TEST_F(BadConfigTest, ListenPortAlreadyInUse) {
  ASSERT_TRUE(fileExists(binDir() + "/labgated"));
  // Another process (this one) holds the connector's port: the engine must fail loudly rather
  // than share it (SO_REUSEPORT trap of POCO-NOTES.md).
  Poco::Net::ServerSocket holder;
  holder.bind(Poco::Net::SocketAddress("127.0.0.1", static_cast<Poco::UInt16>(astmPort())), false,
              false);
  holder.listen(1);
  expectRefused({"connector port in use",
                 [](EngineConfig&, const TempDir&) {},
                 {"connector.lab1.listen", std::to_string(astmPort())}});
}

TEST_F(BadConfigTest, SecondInstanceOnTheSamePortsFailsLoudly) {
  ASSERT_NO_FATAL_FAILURE(startEngine());
  // Same ports, its own data directory: it must not start and share the ports silently.
  EngineConfig second = config_;
  second.dataDir = tmp_->file("data2");
  Poco::File(second.dataDir).createDirectories();
  const std::string path = tmp_->file("second.properties");
  second.write(path);
  ProgramRun run = runProgram(binDir() + "/labgated", {"--config", path}, 10000ms, tmp_->path());
  ASSERT_TRUE(run.finished) << "a second labgated on the same ports kept running";
  EXPECT_NE(run.exitCode, 0);
  EXPECT_TRUE(run.err.find(std::to_string(astmPort())) != std::string::npos ||
              run.err.find(std::to_string(config_.httpPort)) != std::string::npos ||
              run.err.find("listen") != std::string::npos)
      << "stderr does not say which address is taken: " << run.err.substr(0, 300);
  EXPECT_TRUE(engine_->running()) << "the first instance died";
  EXPECT_TRUE(health().ok());
}

TEST_F(BadConfigTest, MissingMappingFile) {
  ASSERT_TRUE(fileExists(binDir() + "/labgated"));
  expectRefused({"mapping file missing",
                 [](EngineConfig& c, const TempDir& t) {
                   c.connectors[0].mappings = t.file("absent-mappings.csv");
                 },
                 {"absent-mappings.csv"}});
  expectRefused({"mapping file without the header",
                 [](EngineConfig& c, const TempDir& t) {
                   writeFile(t.file("bad-mappings.csv"), "GLU;2345-7;Glucose\n");
                   c.connectors[0].mappings = t.file("bad-mappings.csv");
                 },
                 {"bad-mappings.csv"}});
}

TEST_F(BadConfigTest, MalformedPhiPatternFile) {
  ASSERT_TRUE(fileExists(binDir() + "/labgated"));
  expectRefused({"PHI pattern file truncated JSON",
                 [](EngineConfig& c, const TempDir& t) {
                   writeFile(t.file("broken-phi.json"), "{\"patterns\": [ {\"id\": \"ssn\", ");
                   c.phiPatterns = t.file("broken-phi.json");
                 },
                 {"broken-phi.json"}});
  expectRefused(
      {"PHI pattern file missing",
       [](EngineConfig& c, const TempDir& t) { c.phiPatterns = t.file("absent-phi.json"); },
       {"absent-phi.json"}});
}

}  // namespace
}  // namespace labgate::it
