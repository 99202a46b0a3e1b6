// Operating labgated, seen from outside: GET /metrics counts the flow (messages, refusals by PHI
// pattern, findings by rule, deliveries and their latency, logins) and never shows a value;
// GET /ready fails while the LIS is unreachable; JSON-lines debug logs of a PHI run hold none of
// the values; SIGTERM in the middle of a transfer exits 0 and loses nothing acknowledged; SIGHUP
// swaps mapping sets and rule sets under a connected instrument; --check-config validates without
// opening anything. Every identifying value here is invented; assertions print labels only.
#include <Poco/File.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <mutex>
#include <sstream>

#include "tests/integration/harness.h"
#include "tests/integration/harness_api.h"

namespace labgate::it {
namespace {

// An invented person; the distinctive parts are searched for separately.
const char kSurname[] = "Fernleigh";
const char kGivenName[] = "Odalys";
const char kBirthDate[] = "19510316";
const char kPhone[] = "(608) 437-2291";
const char kSsn[] = "518-63-4402";
const char kEmail[] = "odalys.fernleigh@example.org";

std::vector<Secret> secrets() {
  return {{"P-6 surname", kSurname},
          {"P-6 given name", kGivenName},
          {"P-8 birth date", kBirthDate},
          {"P-13 phone", kPhone},
          {"P-13 phone digits", "437-2291"},
          {"C SSN", kSsn},
          {"C SSN digits", "518634402"},
          {"C e-mail", kEmail},
          {"C e-mail local part", "odalys.fernleigh"}};
}

/// One GET /metrics.
struct Scrape {
  int status = 0;
  std::string contentType;
  std::string body;

  /// The value of `series` (name and labels exactly as rendered), or nullopt when absent.
  std::optional<double> value(const std::string& series) const {
    const std::string key = series + " ";
    size_t at = body.rfind("\n" + key);
    if (at == std::string::npos) {
      if (body.rfind(key, 0) != 0) return std::nullopt;
      at = 0;
    } else {
      at += 1;
    }
    return std::strtod(body.c_str() + at + key.size(), nullptr);
  }
  /// Whether some series line starts with `prefix` (e.g. a name and the first labels).
  bool hasSeriesStarting(const std::string& prefix) const {
    return body.rfind(prefix, 0) == 0 || body.find("\n" + prefix) != std::string::npos;
  }
};

Scrape scrape(int port) {
  ApiResponse r = apiRequest("GET", port, "/metrics");
  return Scrape{r.status, r.contentType(), r.body};
}

/// `series` once it equals `expected` (counters settle a moment after the event), or its value
/// after the timeout (-1 when absent).
double settledMetric(int port, const std::string& series, double expected,
                     std::chrono::milliseconds timeout = 15000ms) {
  double value = -1;
  waitUntil(
      [&] {
        value = scrape(port).value(series).value_or(-1);
        return value == expected;
      },
      timeout, 100ms);
  return value;
}

/// The observations of the first message the LIS received for `sampleId`.
std::vector<Observation> observationsOf(const std::vector<std::string>& messages,
                                        const std::string& sampleId) {
  for (const auto& m : messages) {
    auto ids = obrSampleIds(m);
    if (std::find(ids.begin(), ids.end(), sampleId) != ids.end()) return observations(m);
  }
  return {};
}

/// labgated started directly, so that the test can send it any signal (EngineProcess sends only
/// the one that stops it). Its stdout and stderr go to files in `dir`.
class SignalledEngine {
 public:
  SignalledEngine(std::string configPath, int httpPort, std::string dir)
      : configPath_(std::move(configPath)), httpPort_(httpPort), dir_(std::move(dir)) {}

  bool start(std::string* why) {
    Poco::File(dir_ + "/signalled-cwd").createDirectories();
    child_ = std::make_unique<ChildProcess>(
        binDir() + "/labgated", std::vector<std::string>{"--config", configPath_},
        dir_ + "/signalled.stdout", dir_ + "/signalled.stderr", dir_ + "/signalled-cwd");
    const bool up = waitUntil(
        [&] { return child_->poll().has_value() || fetchHealth(httpPort_).ok(); }, 30000ms, 100ms);
    if (up && !child_->poll()) return true;
    *why = "labgated did not answer /health (exit " + std::to_string(child_->poll().value_or(-1)) +
           "): " + readFile(dir_ + "/signalled.stderr");
    return false;
  }
  void signal(int sig) { child_->signal(sig); }
  bool running() { return child_ && !child_->poll(); }
  /// SIGTERM and the exit status (nullopt: it had to be killed after 20 s).
  std::optional<int> stop() {
    if (!running()) return child_ ? child_->poll() : std::nullopt;
    child_->signal(SIGTERM);
    return child_->waitForExit(20000ms);
  }
  ~SignalledEngine() { stop(); }

 private:
  std::string configPath_;
  int httpPort_;
  std::string dir_;
  std::unique_ptr<ChildProcess> child_;
};

class OperationsTest : public EngineTest {
 protected:
  void SetUp() override {
    EngineTest::SetUp();
    // A test instrument writing to a connection the engine closed must get EPIPE, not die.
    std::signal(SIGPIPE, SIG_IGN);
  }

  std::string logPath() const { return config_.dataDir + "/logs/labgated.log"; }
  int metricsPort() const { return config_.httpPort; }
};

// ---- /metrics and /ready --------------------------------------------------------------------

TEST_F(OperationsTest, MetricsCountTheFlowAndReadyFollowsTheLis) {
  ASSERT_NO_FATAL_FAILURE(startEngine());  // the LIS is down until later
  const int port = metricsPort();

  // A clean message with one mapped and one unmapped code (finding mapping.unmapped), and one
  // message refused for the name in P-6.
  const std::string clean = newSampleId("MC");
  {
    AstmInstrument instrument(astmPort());
    Transfer t = instrument.sendSession(
        buildAstmMessage({{clean, {{"GLU", "5.4", "mmol/L"}, {"ZZUNMAPPED", "1.0", "U"}}, {}}}));
    ASSERT_TRUE(t.complete) << "clean message: " << astm::replyName(t.finalReply);
    Transfer refused = instrument.sendSession(
        buildAstmMessage({{newSampleId("MR"), {{"GLU", "5.6", "mmol/L"}}, {}}},
                         {{6, std::string(kSurname) + "^" + kGivenName}}));
    EXPECT_EQ(refused.finalReply, astm::kNak) << "the PHI message must be refused";
  }

  // While the LIS is down: one item queued and ageing, the destination retrying, not ready.
  EXPECT_EQ(settledMetric(port, "labgate_queue_depth{destination=\"lis\"}", 1), 1);
  EXPECT_EQ(settledMetric(port, "labgate_destination_retrying{destination=\"lis\"}", 1), 1);
  EXPECT_TRUE(waitUntil(
      [&] {
        return scrape(port)
                   .value("labgate_queue_oldest_age_seconds{destination=\"lis\"}")
                   .value_or(0) > 0;
      },
      15000ms))
      << "the oldest queued item's age never rose above 0";
  ApiResponse notReady = apiRequest("GET", port, "/ready");
  EXPECT_EQ(notReady.status, 503) << notReady.describe();
  ASSERT_FALSE(notReady.json.isNull());
  EXPECT_EQ(notReady.text("status"), "not ready");
  bool storeOk = false, lisFailed = false;
  Poco::JSON::Array::Ptr checks = notReady.json->getArray("checks");
  ASSERT_FALSE(checks.isNull());
  for (size_t i = 0; i < checks->size(); ++i) {
    auto check = checks->getObject(static_cast<unsigned>(i));
    const std::string name = check->getValue<std::string>("name");
    if (name == "store") storeOk = check->getValue<bool>("ok");
    if (name == "destination:lis") lisFailed = !check->getValue<bool>("ok");
  }
  EXPECT_TRUE(storeOk) << "the store check must pass";
  EXPECT_TRUE(lisFailed) << "the destination check must fail while the LIS is down";

  // Logins: one success, one wrong password.
  ApiClient api(port);
  EXPECT_FALSE(api.login("default", "admin", kTestAdminPassword).empty());
  EXPECT_TRUE(api.login("default", "admin", "Wrong-Password-Entirely-1").empty());

  startLis();
  ASSERT_TRUE(waitForSample(clean));
  EXPECT_EQ(settledMetric(port, "labgate_messages_delivered_total{destination=\"lis\"}", 1), 1);
  EXPECT_EQ(settledMetric(port, "labgate_queue_depth{destination=\"lis\"}", 0), 0);
  EXPECT_EQ(settledMetric(port, "labgate_destination_retrying{destination=\"lis\"}", 0), 0);
  ASSERT_TRUE(waitUntil([&] { return apiRequest("GET", port, "/ready").status == 200; }, 15000ms))
      << "/ready did not turn 200 once the LIS answered";

  Scrape s = scrape(port);
  ASSERT_EQ(s.status, 200);
  EXPECT_EQ(s.contentType, "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(s.body.rfind("# HELP ", 0), 0u) << "the document starts with a HELP line";
  EXPECT_EQ(s.value("labgate_messages_received_total{connector=\"lab1\"}"), 2);
  EXPECT_EQ(s.value("labgate_messages_stored_total{connector=\"lab1\"}"), 1);
  EXPECT_EQ(s.value("labgate_messages_refused_total{connector=\"lab1\",reason=\"phi\"}"), 1);
  EXPECT_EQ(s.value("labgate_phi_refusals_total{connector=\"lab1\",pattern=\"structural.P-6\"}"),
            1);
  EXPECT_TRUE(s.hasSeriesStarting(
      "labgate_rule_findings_total{connector=\"lab1\",rule=\"mapping.unmapped\","))
      << "no mapping.unmapped finding counted";
  EXPECT_EQ(s.value("labgate_delivery_attempts_total{destination=\"lis\",outcome=\"delivered\"}"),
            1);
  EXPECT_GE(
      s.value("labgate_delivery_attempts_total{destination=\"lis\",outcome=\"retry\"}").value_or(0),
      1);
  EXPECT_EQ(s.value("labgate_delivery_latency_seconds_count{destination=\"lis\"}"), 1);
  EXPECT_EQ(s.value("labgate_delivery_latency_seconds_bucket{destination=\"lis\",le=\"+Inf\"}"), 1);
  EXPECT_EQ(s.value("labgate_queue_oldest_age_seconds{destination=\"lis\"}"), 0);
  EXPECT_EQ(s.value("labgate_logins_total{outcome=\"success\"}"), 1);
  EXPECT_EQ(s.value("labgate_logins_total{outcome=\"bad_password\"}"), 1);
  EXPECT_EQ(s.value("labgate_connector_up{connector=\"lab1\",kind=\"astm-tcp\"}"), 1);
  EXPECT_NE(s.body.find("# TYPE labgate_backup_last_success_timestamp_seconds gauge\n"),
            std::string::npos);
  for (const auto& label : findSecrets(s.body, secrets())) {
    ADD_FAILURE() << "PHI in /metrics: " << label;
  }

  // Only GET and HEAD; no credentials needed (a loopback or firewalled scraper).
  EXPECT_EQ(apiRequest("HEAD", port, "/metrics").status, 200);
  ApiResponse post = apiRequest("POST", port, "/metrics", "{}");
  EXPECT_EQ(post.status, 405) << post.describe();
  EXPECT_EQ(post.header("Allow"), "GET, HEAD");
  ASSERT_NO_FATAL_FAILURE(stopEngine());
}

// ---- Logs -----------------------------------------------------------------------------------

TEST_F(OperationsTest, JsonDebugLogsOfAPhiRunHoldNoValues) {
  config_.logLevel = "debug";
  config_.set("log.format", "json");
  config_.set("log.level.pipeline", "trace");
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());

  const std::vector<std::pair<const char*, std::map<int, std::string>>> patientCases = {
      {"name in P-6", {{6, std::string(kSurname) + "^" + kGivenName}}},
      {"birth date in P-8", {{8, kBirthDate}}},
      {"phone in P-13", {{13, kPhone}}},
  };
  const std::vector<std::pair<const char*, std::string>> commentCases = {
      {"SSN in a C record", std::string("patient SSN ") + kSsn},
      {"e-mail in a C record", std::string("report to ") + kEmail},
  };
  AstmInstrument instrument(astmPort());
  for (const auto& [label, patient] : patientCases) {
    Transfer t = instrument.sendSession(
        buildAstmMessage({{newSampleId("JP"), {{"GLU", "5.6", "mmol/L"}}, {}}}, patient));
    EXPECT_EQ(t.finalReply, astm::kNak) << label;
  }
  for (const auto& [label, comment] : commentCases) {
    Transfer t = instrument.sendSession(
        buildAstmMessage({{newSampleId("JC"), {{"GLU", "5.6", "mmol/L"}}, {comment}}}));
    EXPECT_EQ(t.finalReply, astm::kNak) << label;
  }
  const std::string clean = newSampleId("JK");
  ASSERT_TRUE(
      instrument.sendSession(buildAstmMessage({{clean, {{"NA", "141", "mmol/L"}}, {}}})).complete);
  ASSERT_TRUE(waitForSample(clean));
  ASSERT_TRUE(waitForDelivered(1));
  instrument.close();
  ASSERT_NO_FATAL_FAILURE(stopEngine());

  // Every line of the file is one JSON object with time, level, logger and message.
  std::ifstream in(logPath());
  ASSERT_TRUE(in) << "no log file at " << logPath();
  std::string line;
  int lines = 0, debugLines = 0, refusals = 0;
  while (std::getline(in, line)) {
    ++lines;
    Poco::JSON::Object::Ptr event;
    try {
      event = Poco::JSON::Parser().parse(line).extract<Poco::JSON::Object::Ptr>();
    } catch (const Poco::Exception& e) {
      ADD_FAILURE() << "log line " << lines << " is not a JSON object: " << e.displayText();
      continue;
    }
    std::vector<std::string> names;
    event->getNames(names);
    std::sort(names.begin(), names.end());
    EXPECT_EQ(names, (std::vector<std::string>{"level", "logger", "message", "time"}))
        << "log line " << lines;
    if (event->getValue<std::string>("level") == "debug") ++debugLines;
    if (event->getValue<std::string>("message").find("refused: PHI at") != std::string::npos) {
      ++refusals;
    }
  }
  EXPECT_GT(lines, 0);
  EXPECT_GE(debugLines, 1) << "log.level = debug logged nothing at debug";
  EXPECT_EQ(refusals, static_cast<int>(patientCases.size() + commentCases.size()))
      << "one line per refusal";
  expectNoSecretsWritten(secrets());
}

// ---- SIGTERM --------------------------------------------------------------------------------

TEST_F(OperationsTest, SigtermMidTransferExitsZeroAndLosesNothingAcknowledged) {
  ASSERT_NO_FATAL_FAILURE(startEngine());  // LIS down: everything acknowledged waits in the queue

  // A sender transmitting message after message on one connection until the engine goes away.
  constexpr int kMessages = 2000;
  std::vector<std::string> ids;
  ids.reserve(kMessages);
  for (int i = 0; i < kMessages; ++i) ids.push_back(newSampleId("ST"));
  std::mutex mutex;
  std::vector<std::string> acknowledged;
  std::thread sender([&] {
    AstmInstrument instrument(astmPort());
    for (const auto& id : ids) {
      Transfer t = instrument.sendSession(buildAstmMessage({{id, {{"GLU", "5.4", "mmol/L"}}, {}}}));
      if (!t.complete) return;
      std::lock_guard<std::mutex> lock(mutex);
      acknowledged.push_back(id);
    }
  });
  auto acked = [&] {
    std::lock_guard<std::mutex> lock(mutex);
    return acknowledged.size();
  };
  const bool someAcked = waitUntil([&] { return acked() >= 5; }, 60000ms);

  // And one instrument stopped in the middle of a message: ENQ and the frames before the last.
  const std::string partial = newSampleId("SP");
  AstmInstrument midway(astmPort());
  const auto records = buildAstmMessage({{partial, {{"GLU", "6.1", "mmol/L"}}, {}}});
  const auto frames = astm::splitIntoFrames(records, astm::Framing::kRecordPerFrame);
  EXPECT_EQ(midway.enq(), astm::kAck);
  for (size_t i = 0; i + 1 < frames.size(); ++i) {
    EXPECT_EQ(midway.sendFrame(frames[i].text, frames[i].final), astm::kAck) << "frame " << i + 1;
  }

  std::optional<int> code = engine_->stop(20000ms, SIGTERM);
  sender.join();
  ASSERT_TRUE(someAcked) << "the sender got fewer than 5 messages through";
  ASSERT_TRUE(code.has_value()) << "labgated did not exit within 20 s of SIGTERM";
  EXPECT_EQ(*code, 0) << "exit status after SIGTERM";
  const std::vector<std::string> sent = [&] {
    std::lock_guard<std::mutex> lock(mutex);
    return acknowledged;
  }();
  std::cout << "[ info     ] acknowledged before SIGTERM: " << sent.size() << "\n";

  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());
  EXPECT_TRUE(lis_->waitFor(
      [&](const std::vector<std::string>& m) {
        return std::all_of(sent.begin(), sent.end(),
                           [&](const std::string& id) { return timesReceived(m, id) > 0; });
      },
      120000ms))
      << "an acknowledged message was lost over SIGTERM and restart";
  // The queue drains completely; the half-sent message was never stored, so never sent.
  EXPECT_TRUE(waitUntil([&] { return health().destination("lis", "queue_depth") == 0; }, 60000ms));
  EXPECT_EQ(timesReceived(lis_->messages(), partial), 0u) << "a message never completed was sent";
  ASSERT_NO_FATAL_FAILURE(stopEngine());
}

// ---- SIGHUP ---------------------------------------------------------------------------------

TEST_F(OperationsTest, SighupSwapsMappingsAndRulesUnderAConnectedInstrument) {
  const std::string mappings = tmp_->file("mappings.csv");
  const std::string rules = tmp_->file("rules.json");
  const std::string header = "instrument_code,lis_code,lis_name,units,decimals\n";
  auto writeRules = [&](const std::string& version) {
    writeFile(rules, "{\"version\": \"" + version +
                         "\", \"checks\": {\"peaks\": false, \"calibration\": false, \"qc\": "
                         "false, \"diagnostics\": false, \"trends\": false, \"autoverify\": "
                         "false}}\n");
  };
  writeFile(mappings, header + "GLU,2345-7,Glucose,mmol/L,1\n");
  writeRules("ops-1");
  config_.connectors[0].mappings = mappings;
  config_.connectors[0].extra["rules"] = rules;
  config_.write(configPath_);
  startLis();
  SignalledEngine engine(configPath_, config_.httpPort, tmp_->path());
  std::string why;
  ASSERT_TRUE(engine.start(&why)) << why;

  AstmInstrument instrument(astmPort());
  auto send = [&](const std::string& id) {
    return instrument.sendSession(buildAstmMessage({{id, {{"GLU", "5.4", "mmol/L"}}, {}}}));
  };
  auto codeReceivedFor = [&](const std::string& id) {
    if (!waitForSample(id)) return std::string("(not delivered)");
    auto obs = observationsOf(lis_->messages(), id);
    return obs.empty() ? std::string("(no OBX)") : obs.front().code;
  };

  const std::string first = newSampleId("H");
  ASSERT_TRUE(send(first).complete);
  EXPECT_EQ(codeReceivedFor(first), "2345-7");

  // A new mapping and rule-set version, then SIGHUP: the next message on the same connection
  // uses them.
  writeFile(mappings, header + "GLU,9999-9,Glucose (new code),mmol/L,1\n");
  writeRules("ops-2");
  engine.signal(SIGHUP);
  ASSERT_EQ(settledMetric(config_.httpPort, "labgate_config_reloads_total{result=\"ok\"}", 1), 1)
      << "the reload was not counted";
  const std::string second = newSampleId("H");
  Transfer t = send(second);
  ASSERT_TRUE(t.complete) << "the instrument's connection did not survive SIGHUP: "
                          << astm::replyName(t.finalReply);
  EXPECT_EQ(codeReceivedFor(second), "9999-9") << "the reloaded mapping was not used";

  // A broken mapping file: the engine keeps running with the previous mapping, and says which
  // file is at fault.
  writeFile(mappings, "this is not the mapping header\n");
  engine.signal(SIGHUP);
  ASSERT_EQ(settledMetric(config_.httpPort, "labgate_config_reloads_total{result=\"error\"}", 1),
            1);
  ASSERT_TRUE(engine.running());
  const std::string third = newSampleId("H");
  ASSERT_TRUE(send(third).complete) << "the connection did not survive a failed reload";
  EXPECT_EQ(codeReceivedFor(third), "9999-9") << "a failed reload must keep the previous mapping";
  EXPECT_EQ(health().connector("lab1", "connections"), 1) << "the instrument was disconnected";
  const std::string log = readFile(logPath());
  EXPECT_NE(log.find("connector.lab1.mappings: " + mappings), std::string::npos)
      << "the failed reload's log line does not name the key and the file";

  instrument.close();
  std::optional<int> code = engine.stop();
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, 0);

  const std::string db = config_.dataDir + "/labgate.db";
  auto reloads = storeQuery(db, "SELECT count(*) FROM audit WHERE action = 'config.reloaded';");
  ASSERT_TRUE(reloads.has_value()) << "the store could not be read through StoreReader";
  EXPECT_EQ(*reloads, "2") << "one config.reloaded event per reload";
  auto detail = storeQuery(
      db, "SELECT detail FROM audit WHERE action = 'config.reloaded' ORDER BY id LIMIT 1;");
  EXPECT_NE(detail.value_or("").find("\"rules_version\":\"ops-2\""), std::string::npos)
      << "the audit event does not carry the new rule-set version";
  EXPECT_EQ(storeQuery(db, "SELECT rules_version FROM messages ORDER BY id;").value_or(""),
            "ops-1\nops-2\nops-2")
      << "rule-set version stored with each message";
}

// ---- --check-config -------------------------------------------------------------------------

TEST_F(OperationsTest, CheckConfigValidatesWithoutOpeningAnything) {
  config_.dataDir = tmp_->file("never-opened");
  config_.write(configPath_);
  // The connector's and the API's ports are taken: a check that bound them would fail.
  Poco::Net::ServerSocket busyAstm(Poco::Net::SocketAddress("127.0.0.1", astmPort()));
  Poco::Net::ServerSocket busyHttp(Poco::Net::SocketAddress("127.0.0.1", config_.httpPort));
  const std::string labgated = binDir() + "/labgated";
  ProgramRun ok =
      runProgram(labgated, {"--check-config", "--config", configPath_}, 60000ms, tmp_->path());
  ASSERT_TRUE(ok.finished);
  EXPECT_EQ(ok.exitCode, 0) << ok.err;
  EXPECT_NE(ok.out.find("configuration OK"), std::string::npos) << ok.out;
  EXPECT_FALSE(fileExists(config_.dataDir)) << "--check-config created data.dir";

  struct Bad {
    const char* what;
    std::string key;
    std::string value;
    std::string mentions;  // what stderr must name besides the key
  };
  const std::string missingCsv = tmp_->file("no-such-mappings.csv");
  const std::vector<Bad> cases = {
      {"missing mapping file", "connector.lab1.mappings", missingCsv, missingCsv},
      {"bad log format", "log.format", "xml", "xml"},
      {"missing PHI pattern file", "phi.patterns", tmp_->file("nope.json"), "nope.json"},
      {"bad rotation", "log.rotation", "whenever", "whenever"},
      {"missing key file", "security.key_file", tmp_->file("no-such.key"), "no-such.key"},
  };
  for (const auto& c : cases) {
    EngineConfig bad = config_;
    bad.set(c.key, c.value);
    const std::string path = tmp_->file("bad.properties");
    bad.write(path);
    ProgramRun run =
        runProgram(labgated, {"--check-config", "--config", path}, 60000ms, tmp_->path());
    ASSERT_TRUE(run.finished) << c.what;
    EXPECT_EQ(run.exitCode, 1) << c.what;
    EXPECT_NE(run.err.find(c.key), std::string::npos) << c.what << ": " << run.err;
    EXPECT_NE(run.err.find(c.mentions), std::string::npos) << c.what << ": " << run.err;
    EXPECT_NE(run.err.find(path), std::string::npos) << c.what << ": the file is not named";
    EXPECT_EQ(run.out.find("configuration OK"), std::string::npos) << c.what;
  }
  EXPECT_FALSE(fileExists(config_.dataDir));
}

}  // namespace
}  // namespace labgate::it
