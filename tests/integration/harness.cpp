// The integration-test harness (see harness.h): paths, temp directories, ports, the secret
// search, the config writer and the EngineTest fixture. Processes, the ASTM instrument and the
// fake LIS live in harness_process.cpp, harness_astm.cpp and harness_lis.cpp.
#include "tests/integration/harness.h"

#include <Poco/DateTime.h>
#include <Poco/DateTimeFormatter.h>
#include <Poco/DirectoryIterator.h>
#include <Poco/Environment.h>
#include <Poco/Exception.h>
#include <Poco/File.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/NetException.h>
#include <Poco/Path.h>
#include <Poco/StreamCopier.h>
#include <Poco/Timespan.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>

#include "tests/integration/harness_postgres.h"

namespace labgate::it {

namespace {

// Every labgated child inherits the first-start administrator password (see kTestAdminPassword).
// It replaces a value from the caller's environment: the tests log in with the constant.
[[maybe_unused]] const bool kAdminPasswordExported = [] {
  ::setenv("LABGATE_ADMIN_PASSWORD", kTestAdminPassword, 1);
  return true;
}();

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Paths and small utilities

std::string binDir() {
  // LABGATE_IT_BIN_DIR runs the suite against programs built or installed elsewhere.
  return Poco::Environment::get("LABGATE_IT_BIN_DIR", LABGATE_BIN_DIR);
}
std::string sourceDir() { return LABGATE_SOURCE_DIR; }
std::string sharedDir() { return LABGATE_SHARED_DIR; }
std::string testDataDir() { return std::string(LABGATE_TEST_DATA_DIR) + "/integration"; }
std::string phiPatternsPath() { return sourceDir() + "/config/phi-patterns.json"; }
std::string defaultMappingsPath() { return testDataDir() + "/mappings.csv"; }

Poco::Timespan toTimespan(std::chrono::milliseconds ms) {
  return Poco::Timespan(static_cast<Poco::Timespan::TimeDiff>(ms.count()) * 1000);
}

bool waitUntil(const std::function<bool()>& done, std::chrono::milliseconds timeout,
               std::chrono::milliseconds interval) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    if (done()) return true;
    if (Clock::now() >= deadline) return done();
    std::this_thread::sleep_for(interval);
  }
}

int freePort() {
  static std::mutex mutex;
  static std::set<int> handedOut;
  std::lock_guard<std::mutex> lock(mutex);
  for (int attempt = 0; attempt < 50; ++attempt) {
    Poco::Net::ServerSocket socket;
    socket.bind(Poco::Net::SocketAddress("127.0.0.1", 0), false, false);
    socket.listen(1);
    int port = socket.address().port();
    socket.close();
    if (handedOut.insert(port).second) return port;
  }
  throw std::runtime_error("no free loopback port");
}

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

void writeFile(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

bool fileExists(const std::string& path) {
  try {
    return Poco::File(path).exists();
  } catch (const Poco::Exception&) {
    return false;
  }
}

std::vector<std::string> listFilesRecursive(const std::string& dir) {
  std::vector<std::string> files;
  if (!fileExists(dir)) return files;
  for (Poco::DirectoryIterator it(dir), end; it != end; ++it) {
    if (it->isLink()) continue;
    if (it->isDirectory()) {
      auto below = listFilesRecursive(it->path());
      files.insert(files.end(), below.begin(), below.end());
    } else if (it->isFile()) {
      files.push_back(it->path());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::vector<std::string> findSecrets(const std::string& haystack,
                                     const std::vector<Secret>& secrets) {
  std::vector<std::string> found;
  const std::string hay = lower(haystack);
  for (const auto& secret : secrets) {
    if (secret.value.empty()) continue;
    if (hay.find(lower(secret.value)) != std::string::npos) found.push_back(secret.label);
  }
  return found;
}

std::vector<SecretHit> findSecretsInFiles(const std::vector<std::string>& paths,
                                          const std::vector<Secret>& secrets) {
  std::vector<SecretHit> hits;
  for (const auto& path : paths) {
    for (const auto& label : findSecrets(readFile(path), secrets)) hits.push_back({path, label});
  }
  return hits;
}

TempDir::TempDir() {
  static std::atomic<int> counter{0};
  std::random_device random;
  std::ostringstream name;
  name << "labgate-it-" << ::getpid() << "-" << counter++ << "-" << std::hex << random();
  Poco::Path path(Poco::Path::temp());
  path.pushDirectory(name.str());
  path_ = path.toString();
  if (!path_.empty() && path_.back() == '/') path_.pop_back();
  Poco::File(path_).createDirectories();
}

TempDir::~TempDir() {
  if (Poco::Environment::has("LABGATE_KEEP_TEST_DIRS")) return;
  try {
    Poco::File(path_).remove(true);
  } catch (const Poco::Exception&) {
  }
}

std::string TempDir::file(const std::string& name) const { return path_ + "/" + name; }

// ---------------------------------------------------------------------------------------------
// Configuration

std::vector<std::pair<std::string, std::string>> EngineConfig::entries() const {
  std::vector<std::pair<std::string, std::string>> e;
  e.emplace_back("data.dir", dataDir);
  e.emplace_back("http.listen", "127.0.0.1:" + std::to_string(httpPort));
  e.emplace_back("phi.patterns", phiPatterns);
  e.emplace_back("log.level", logLevel);
  std::string names;
  for (const auto& c : connectors) names += (names.empty() ? "" : ",") + c.name;
  e.emplace_back("connectors", names);
  for (const auto& c : connectors) {
    const std::string p = "connector." + c.name + ".";
    e.emplace_back(p + "kind", c.kind);
    e.emplace_back(p + "listen", "127.0.0.1:" + std::to_string(c.port));
    e.emplace_back(p + "instrument", c.instrument);
    e.emplace_back(p + "mappings", c.mappings);
    e.emplace_back(p + "destinations", c.destinations);
    e.emplace_back(p + "phi.policy", c.phiPolicy);
    e.emplace_back(p + "astm.receive_timeout_seconds", std::to_string(c.receiveTimeoutSeconds));
    for (const auto& [k, v] : c.extra) e.emplace_back(p + k, v);
  }
  std::string dests;
  for (const auto& d : destinations) dests += (dests.empty() ? "" : ",") + d.name;
  e.emplace_back("destinations", dests);
  for (const auto& d : destinations) {
    const std::string p = "destination." + d.name + ".";
    e.emplace_back(p + "kind", d.kind);
    e.emplace_back(p + "host", d.host);
    e.emplace_back(p + "port", std::to_string(d.port));
    e.emplace_back(p + "ack_timeout_seconds", std::to_string(d.ackTimeoutSeconds));
    e.emplace_back(p + "connect_timeout_seconds", std::to_string(d.connectTimeoutSeconds));
    e.emplace_back(p + "retry_initial_ms", std::to_string(d.retryInitialMs));
    e.emplace_back(p + "retry_max_ms", std::to_string(d.retryMaxMs));
    for (const auto& [k, v] : d.extra) e.emplace_back(p + k, v);
  }
  if (testStoreIsPostgres()) {
    // Issue 17: the run's PostgreSQL server, a fresh database per data.dir (harness_postgres.h).
    std::string why;
    auto url = testDatabaseFor(dataDir, &why);
    if (!url) ADD_FAILURE() << why;
    e.emplace_back("store.url", url.value_or("postgresql://unavailable@127.0.0.1:1/none"));
    e.emplace_back("store.password_file", runPostgres().passwordFile());
  }
  for (const auto& [key, value] : overrides) {
    // Clang 14 (clang-tidy) cannot capture a structured binding: bind it by name instead.
    auto it = std::find_if(e.begin(), e.end(),
                           [&wanted = key](const auto& kv) { return kv.first == wanted; });
    if (it != e.end()) {
      it->second = value;
    } else {
      e.emplace_back(key, value);
    }
  }
  e.erase(
      std::remove_if(e.begin(), e.end(), [&](const auto& kv) { return omitted.count(kv.first); }),
      e.end());
  return e;
}

std::string EngineConfig::render() const {
  std::string text = "# written by the LabGate integration tests\n";
  for (const auto& [key, value] : entries()) {
    text.append(key).append(" = ").append(value).append("\n");
  }
  return text;
}

void EngineConfig::write(const std::string& path) const { writeFile(path, render()); }

void EngineConfig::set(const std::string& key, const std::string& value) {
  overrides.emplace_back(key, value);
}

// ---------------------------------------------------------------------------------------------
// Fixture

void EngineTest::SetUp() {
  tmp_ = std::make_unique<TempDir>();
  config_ = EngineConfig{};
  config_.dataDir = tmp_->file("data");
  Poco::File(config_.dataDir).createDirectories();
  config_.httpPort = freePort();
  config_.phiPatterns = phiPatternsPath();
  ConnectorConfig connector;
  connector.port = freePort();
  connector.mappings = defaultMappingsPath();
  config_.connectors = {connector};
  DestinationConfig destination;
  destination.port = freePort();
  config_.destinations = {destination};
  configPath_ = tmp_->file("labgate.properties");
  lis_ = std::make_unique<FakeLis>(destination.port);
}

void EngineTest::TearDown() {
  if (engine_ && engine_->running()) engine_->stop();
  engine_.reset();
  if (lis_) lis_->stop();
}

void EngineTest::startEngine() {
  ASSERT_TRUE(fileExists(config_.phiPatterns))
      << "PHI pattern file missing: " << config_.phiPatterns;
  config_.write(configPath_);
  if (!engine_)
    engine_ = std::make_unique<EngineProcess>(configPath_, config_.httpPort, tmp_->path());
  std::string why;
  ASSERT_TRUE(engine_->start(30000ms, &why)) << why;
}

void EngineTest::stopEngine() {
  ASSERT_TRUE(engine_);
  auto code = engine_->stop();
  ASSERT_TRUE(code.has_value()) << "labgated did not exit within 20 s of SIGTERM (killed)";
  EXPECT_EQ(*code, 0) << "labgated exit status after SIGTERM";
}

bool EngineTest::waitForSample(const std::string& sampleId, std::chrono::milliseconds timeout) {
  return lis_->waitFor(
      [&](const std::vector<std::string>& messages) {
        return timesReceived(messages, sampleId) > 0;
      },
      timeout);
}

bool EngineTest::waitForDelivered(long delivered, std::chrono::milliseconds timeout) {
  return waitUntil([&] { return health().destination("lis", "delivered") >= delivered; }, timeout,
                   100ms);
}

long EngineTest::settledConnector(const std::string& key, long expected,
                                  std::chrono::milliseconds timeout) {
  long value = -1;
  waitUntil([&] { return (value = health().connector("lab1", key)) == expected; }, timeout, 100ms);
  return value;
}

long EngineTest::settledDestination(const std::string& key, long expected,
                                    std::chrono::milliseconds timeout) {
  long value = -1;
  waitUntil([&] { return (value = health().destination("lis", key)) == expected; }, timeout, 100ms);
  return value;
}

std::string EngineTest::newSampleId(const std::string& tag) {
  return tag + std::to_string(1000 + ++sampleCounter_);
}

std::vector<TestSample> twoSamplesThreeResults(const std::string& sample1,
                                               const std::string& sample2) {
  return {
      {sample1, {{"GLU", "5.6", "mmol/L"}, {"CREA", "0.82", "mg/dL"}}, {}},
      {sample2, {{"NA", "140", "mmol/L"}}, {}},
  };
}

std::vector<std::string> EngineTest::engineOutputs() const {
  auto files = listFilesRecursive(config_.dataDir);
  auto captures = engine_->capturePaths();
  files.insert(files.end(), captures.begin(), captures.end());
  return files;
}

void EngineTest::expectNoSecretsWritten(const std::vector<Secret>& secrets) const {
  auto files = engineOutputs();
  EXPECT_FALSE(files.empty());
  for (const auto& hit : findSecretsInFiles(files, secrets)) {
    ADD_FAILURE() << "PHI leak: " << hit.label << " found in " << hit.where;
  }
  const std::string db = config_.dataDir + "/labgate.db";
  if (!testStoreIsPostgres() && !fileExists(db)) return;  // PostgreSQL: the data.dir's database
  StoreReader store(db);
  ASSERT_TRUE(store.ok()) << store.error();
  for (const auto& secret : secrets) {
    for (const auto& column : store.columnsContaining(secret.value)) {
      ADD_FAILURE() << "PHI leak: " << secret.label << " found in the store at " << column;
    }
  }
}

}  // namespace labgate::it
