// Implementation of the integration-test harness (see harness.h): processes, sockets, the fake
// LIS and the small parsers the tests assert with.
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
#include <fstream>
#include <random>
#include <sstream>

namespace labgate::it {

namespace {

Poco::Timespan toTimespan(std::chrono::milliseconds ms) {
  return Poco::Timespan(static_cast<Poco::Timespan::TimeDiff>(ms.count()) * 1000);
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

int decodeWaitStatus(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

/// Copies everything from a pipe into a file until the writer closes it.
void drainPipe(Poco::Pipe pipe, const std::string& path) {
  std::ofstream out(path, std::ios::binary | std::ios::app);
  char buffer[4096];
  try {
    for (;;) {
      int n = pipe.readBytes(buffer, sizeof buffer);
      if (n <= 0) break;
      out.write(buffer, n);
      out.flush();
    }
  } catch (const Poco::Exception&) {
  }
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
  for (const auto& [key, value] : overrides) {
    auto it = std::find_if(e.begin(), e.end(), [&](const auto& kv) { return kv.first == key; });
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
  for (const auto& [key, value] : entries()) text += key + " = " + value + "\n";
  return text;
}

void EngineConfig::write(const std::string& path) const { writeFile(path, render()); }

void EngineConfig::set(const std::string& key, const std::string& value) {
  overrides.emplace_back(key, value);
}

// ---------------------------------------------------------------------------------------------
// Processes

ChildProcess::ChildProcess(std::string program, std::vector<std::string> args,
                           std::string stdoutPath, std::string stderrPath,
                           const std::string& workingDir)
    : stdoutPath_(std::move(stdoutPath)), stderrPath_(std::move(stderrPath)) {
  Poco::Process::Args a(args.begin(), args.end());
  handle_ = std::make_unique<Poco::ProcessHandle>(
      workingDir.empty()
          ? Poco::Process::launch(program, a, nullptr, &outPipe_, &errPipe_)
          : Poco::Process::launch(program, a, workingDir, nullptr, &outPipe_, &errPipe_));
  pid_ = handle_->id();
  outThread_ = std::thread(drainPipe, outPipe_, stdoutPath_);
  errThread_ = std::thread(drainPipe, errPipe_, stderrPath_);
}

ChildProcess::~ChildProcess() {
  if (!poll()) kill();
  joinDrainers();
}

std::optional<int> ChildProcess::poll() {
  if (exit_) return exit_;
  int status = 0;
  pid_t rc;
  do {
    rc = ::waitpid(pid_, &status, WNOHANG);
  } while (rc < 0 && errno == EINTR);
  if (rc == pid_) {
    exit_ = decodeWaitStatus(status);
  } else if (rc < 0) {
    exit_ = -1;  // not our child any more
  }
  return exit_;
}

std::optional<int> ChildProcess::waitForExit(std::chrono::milliseconds timeout) {
  waitUntil([&] { return poll().has_value(); }, timeout, 20ms);
  return poll();
}

void ChildProcess::signal(int sig) {
  if (!poll()) ::kill(pid_, sig);
}

int ChildProcess::kill() {
  if (!poll()) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    pid_t rc;
    do {
      rc = ::waitpid(pid_, &status, 0);
    } while (rc < 0 && errno == EINTR);
    exit_ = rc == pid_ ? decodeWaitStatus(status) : -1;
  }
  return *exit_;
}

void ChildProcess::joinDrainers() {
  if (outThread_.joinable()) outThread_.join();
  if (errThread_.joinable()) errThread_.join();
}

std::string ChildProcess::capturedOut() {
  if (poll()) joinDrainers();
  return readFile(stdoutPath_);
}

std::string ChildProcess::capturedErr() {
  if (poll()) joinDrainers();
  return readFile(stderrPath_);
}

ProgramRun runProgram(const std::string& program, const std::vector<std::string>& args,
                      std::chrono::milliseconds timeout, const std::string& captureDir) {
  static std::atomic<int> counter{0};
  const std::string base = captureDir + "/run-" + std::to_string(counter++);
  ProgramRun run;
  ChildProcess child(program, args, base + ".stdout", base + ".stderr");
  auto code = child.waitForExit(timeout);
  run.finished = code.has_value();
  run.exitCode = code ? *code : child.kill();
  run.out = child.capturedOut();
  run.err = child.capturedErr();
  return run;
}

namespace {

Poco::Dynamic::Var findNamed(const Poco::JSON::Object::Ptr& root, const std::string& array,
                             const std::string& name, const std::string& key) {
  if (root.isNull()) return {};
  auto items = root->getArray(array);
  if (items.isNull()) return {};
  for (size_t i = 0; i < items->size(); ++i) {
    auto item = items->getObject(static_cast<unsigned>(i));
    if (item.isNull()) continue;
    if (item->optValue<std::string>("name", "") == name) return item->get(key);
  }
  return {};
}

long asNumber(const Poco::Dynamic::Var& v) {
  if (v.isEmpty()) return -1;
  try {
    return v.convert<long>();
  } catch (const Poco::Exception&) {
    return -1;
  }
}

std::string asText(const Poco::Dynamic::Var& v) {
  if (v.isEmpty()) return {};
  try {
    return v.convert<std::string>();
  } catch (const Poco::Exception&) {
    return {};
  }
}

}  // namespace

long Health::connector(const std::string& name, const std::string& key) const {
  return asNumber(findNamed(root, "connectors", name, key));
}
std::string Health::connectorText(const std::string& name, const std::string& key) const {
  return asText(findNamed(root, "connectors", name, key));
}
long Health::destination(const std::string& name, const std::string& key) const {
  return asNumber(findNamed(root, "destinations", name, key));
}
std::string Health::destinationText(const std::string& name, const std::string& key) const {
  return asText(findNamed(root, "destinations", name, key));
}

Health fetchHealth(int port, std::chrono::milliseconds timeout) {
  Health health;
  try {
    Poco::Net::HTTPClientSession session("127.0.0.1", static_cast<Poco::UInt16>(port));
    session.setTimeout(toTimespan(timeout));
    Poco::Net::HTTPRequest request(Poco::Net::HTTPRequest::HTTP_GET, "/health",
                                   Poco::Net::HTTPMessage::HTTP_1_1);
    session.sendRequest(request);
    Poco::Net::HTTPResponse response;
    std::istream& in = session.receiveResponse(response);
    std::string body;
    Poco::StreamCopier::copyToString(in, body);
    health.httpStatus = static_cast<int>(response.getStatus());
    try {
      Poco::JSON::Parser parser;
      health.root = parser.parse(body).extract<Poco::JSON::Object::Ptr>();
    } catch (const Poco::Exception&) {
      health.root = nullptr;
    }
  } catch (const Poco::Exception&) {
    health.httpStatus = 0;
  }
  return health;
}

EngineProcess::EngineProcess(std::string configPath, int httpPort, std::string captureDir)
    : configPath_(std::move(configPath)), httpPort_(httpPort), captureDir_(std::move(captureDir)) {}

EngineProcess::~EngineProcess() {
  if (child_ && !child_->poll()) {
    if (!stop(10000ms)) kill();
  }
}

bool EngineProcess::start(std::chrono::milliseconds timeout, std::string* why) {
  const std::string program = binDir() + "/labgated";
  if (!fileExists(program)) {
    if (why) *why = "labgated is not built at " + program;
    return false;
  }
  ++runs_;
  Poco::File(workingDir()).createDirectories();
  const std::string base = captureDir_ + "/labgated-run" + std::to_string(runs_);
  child_ =
      std::make_unique<ChildProcess>(program, std::vector<std::string>{"--config", configPath_},
                                     base + ".stdout", base + ".stderr", workingDir());
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (auto code = child_->poll()) {
      if (why) {
        std::string err = child_->capturedErr();
        if (err.size() > 400) err.resize(400);
        *why = "labgated exited with status " + std::to_string(*code) +
               " before /health answered; stderr: " + err;
      }
      return false;
    }
    if (fetchHealth(httpPort_, 1000ms).httpStatus == 200) return true;
    std::this_thread::sleep_for(100ms);
  }
  if (why) *why = "/health did not answer 200 within the start timeout";
  return false;
}

std::optional<int> EngineProcess::stop(std::chrono::milliseconds timeout, int sig) {
  if (!child_) return 0;
  if (auto code = child_->poll()) return code;
  child_->signal(sig);
  auto code = child_->waitForExit(timeout);
  if (!code) {
    child_->kill();
    return std::nullopt;
  }
  child_->capturedErr();  // joins the drainers
  return code;
}

void EngineProcess::kill() {
  if (child_) {
    child_->kill();
    child_->capturedErr();
  }
}

bool EngineProcess::running() { return child_ && !child_->poll(); }

std::vector<std::string> EngineProcess::capturePaths() const {
  std::vector<std::string> paths;
  for (int i = 1; i <= runs_; ++i) {
    const std::string base = captureDir_ + "/labgated-run" + std::to_string(i);
    paths.push_back(base + ".stdout");
    paths.push_back(base + ".stderr");
  }
  return paths;
}

std::string EngineProcess::stderrText() const {
  std::string text;
  for (int i = 1; i <= runs_; ++i) {
    text += readFile(captureDir_ + "/labgated-run" + std::to_string(i) + ".stderr");
  }
  return text;
}

// ---------------------------------------------------------------------------------------------
// ASTM

namespace astm {

std::string checksum(const std::string& fnThroughTerminator) {
  unsigned sum = 0;
  for (unsigned char c : fnThroughTerminator) sum += c;
  char hex[3];
  std::snprintf(hex, sizeof hex, "%02X", sum & 0xFFu);
  return hex;
}

std::string frame(int fn, const std::string& text, bool final) {
  std::string body;
  body += static_cast<char>('0' + (fn % 8));
  body += text;
  body += final ? kEtx : kEtb;
  return std::string(1, kStx) + body + checksum(body) + "\r\n";
}

std::string replyName(int reply) {
  switch (reply) {
    case kAck:
      return "ACK";
    case kNak:
      return "NAK";
    case kEot:
      return "EOT";
    case kEnq:
      return "ENQ";
    case kTimeout:
      return "no reply (timeout)";
    case kClosed:
      return "connection closed";
    default: {
      char hex[8];
      std::snprintf(hex, sizeof hex, "0x%02X", reply & 0xFF);
      return hex;
    }
  }
}

std::string record(const std::vector<std::string>& fields) {
  std::string text;
  for (size_t i = 0; i < fields.size(); ++i) {
    if (i) text += '|';
    text += fields[i];
  }
  return text;
}

std::string record(char type, const std::map<int, std::string>& fields) {
  int last = 1;
  for (const auto& [pos, value] : fields) last = std::max(last, pos);
  std::vector<std::string> all(static_cast<size_t>(last));
  all[0] = std::string(1, type);
  for (const auto& [pos, value] : fields) {
    if (pos >= 2) all[static_cast<size_t>(pos - 1)] = value;
  }
  return record(all);
}

std::vector<FrameText> splitIntoFrames(const std::vector<std::string>& records, Framing framing,
                                       size_t maxText) {
  std::vector<FrameText> frames;
  auto cut = [&](const std::string& text) {
    for (size_t at = 0; at < text.size(); at += maxText) {
      const bool last = at + maxText >= text.size();
      frames.push_back({text.substr(at, maxText), last});
    }
  };
  if (framing == Framing::kRecordPerFrame) {
    for (const auto& r : records) cut(r + "\r");
    return frames;
  }
  std::string all;
  for (const auto& r : records) all += r + "\r";
  if (framing == Framing::kContinuous) {
    cut(all);
  } else {
    frames.push_back({all, true});
  }
  return frames;
}

}  // namespace astm

std::vector<std::string> buildAstmMessage(const std::vector<TestSample>& samples,
                                          const std::map<int, std::string>& patientFields,
                                          const std::vector<std::string>& extraAfterPatient,
                                          const std::string& controlId) {
  std::vector<std::string> records;
  records.push_back(astm::record('H', {{2, "\\^&"},
                                       {3, controlId},
                                       {5, "TQ-01^LabGateIT^1.0"},
                                       {12, "P"},
                                       {13, "LIS2-A2"},
                                       {14, "20240301101500"}}));
  std::map<int, std::string> patient = patientFields;
  patient[2] = "1";
  records.push_back(astm::record('P', patient));
  records.insert(records.end(), extraAfterPatient.begin(), extraAfterPatient.end());
  int orderSeq = 0;
  for (const auto& sample : samples) {
    std::string tests;
    for (const auto& r : sample.results) tests += (tests.empty() ? "" : "\\") + ("^^^" + r.code);
    records.push_back(astm::record('O', {{2, std::to_string(++orderSeq)},
                                         {3, sample.sampleId},
                                         {5, tests},
                                         {6, "R"},
                                         {12, "N"},
                                         {26, "F"}}));
    int resultSeq = 0;
    for (const auto& r : sample.results) {
      records.push_back(astm::record('R', {{2, std::to_string(++resultSeq)},
                                           {3, "^^^" + r.code},
                                           {4, r.value},
                                           {5, r.units},
                                           {7, "N"},
                                           {9, "F"},
                                           {13, "20240301101200"}}));
      if (resultSeq == 1) {
        int commentSeq = 0;
        for (const auto& c : sample.resultComments) {
          records.push_back(
              astm::record('C', {{2, std::to_string(++commentSeq)}, {3, "I"}, {4, c}, {5, "G"}}));
        }
      }
    }
  }
  records.push_back(astm::record('L', {{2, "1"}, {3, "N"}}));
  return records;
}

AstmInstrument::AstmInstrument(int port) {
  socket_.connect(Poco::Net::SocketAddress("127.0.0.1", static_cast<Poco::UInt16>(port)),
                  Poco::Timespan(5, 0));
  socket_.setNoDelay(true);
}

AstmInstrument::~AstmInstrument() { close(); }

void AstmInstrument::close() {
  try {
    socket_.close();
  } catch (const Poco::Exception&) {
  }
}

void AstmInstrument::sendRaw(const std::string& bytes) {
  size_t sent = 0;
  try {
    while (sent < bytes.size()) {
      int n = socket_.sendBytes(bytes.data() + sent, static_cast<int>(bytes.size() - sent));
      if (n <= 0) return;
      sent += static_cast<size_t>(n);
    }
  } catch (const Poco::Exception&) {
    // the reply read that follows reports the closed connection
  }
}

int AstmInstrument::readReply(std::chrono::milliseconds timeout) {
  try {
    socket_.setReceiveTimeout(toTimespan(timeout));
    char c = 0;
    int n = socket_.receiveBytes(&c, 1);
    if (n <= 0) return astm::kClosed;
    return static_cast<unsigned char>(c);
  } catch (const Poco::TimeoutException&) {
    return astm::kTimeout;
  } catch (const Poco::Exception&) {
    return astm::kClosed;
  }
}

int AstmInstrument::sendRawAndRead(const std::string& bytes, std::chrono::milliseconds timeout) {
  sendRaw(bytes);
  return readReply(timeout);
}

int AstmInstrument::enq(std::chrono::milliseconds timeout) {
  fn_ = 1;
  return sendRawAndRead(std::string(1, astm::kEnq), timeout);
}

int AstmInstrument::sendFrame(const std::string& text, bool final,
                              std::chrono::milliseconds timeout) {
  int reply = sendRawAndRead(astm::frame(fn_, text, final), timeout);
  if (reply == astm::kAck || reply == astm::kEot) fn_ = (fn_ + 1) % 8;
  return reply;
}

Transfer AstmInstrument::sendMessage(const std::vector<std::string>& records, astm::Framing framing,
                                     bool retransmitOnNak, size_t maxText) {
  Transfer transfer;
  for (const auto& f : astm::splitIntoFrames(records, framing, maxText)) {
    int attempts = 0;
    for (;;) {
      int reply = sendFrame(f.text, f.final);
      transfer.replies.push_back(reply);
      transfer.finalReply = reply;
      if (reply == astm::kAck) break;
      if (reply == astm::kNak && retransmitOnNak && ++attempts < 6) continue;
      return transfer;
    }
  }
  transfer.complete = true;
  return transfer;
}

Transfer AstmInstrument::sendSession(const std::vector<std::string>& records,
                                     astm::Framing framing) {
  Transfer transfer;
  int reply = enq();
  if (reply != astm::kAck) {
    transfer.replies.push_back(reply);
    transfer.finalReply = reply;
    return transfer;
  }
  transfer = sendMessage(records, framing);
  eot();
  return transfer;
}

void AstmInstrument::eot() { sendRaw(std::string(1, astm::kEot)); }

// ---------------------------------------------------------------------------------------------
// Fake LIS

FakeLis::FakeLis(int port) : port_(port) {}

FakeLis::~FakeLis() { stop(); }

void FakeLis::start() {
  if (running_) return;
  server_ = std::make_unique<Poco::Net::ServerSocket>();
  server_->bind(Poco::Net::SocketAddress("127.0.0.1", static_cast<Poco::UInt16>(port_)), true,
                false);
  server_->listen(64);
  running_ = true;
  acceptThread_ = std::thread(&FakeLis::acceptLoop, this);
}

void FakeLis::stop() {
  if (!running_) return;
  running_ = false;
  if (acceptThread_.joinable()) acceptThread_.join();
  try {
    server_->close();
  } catch (const Poco::Exception&) {
  }
  std::vector<std::thread> threads;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    threads.swap(connectionThreads_);
  }
  for (auto& t : threads) t.join();
  server_.reset();
}

void FakeLis::setMode(AckMode mode) {
  std::lock_guard<std::mutex> lock(mutex_);
  mode_ = mode;
  policy_ = nullptr;
}

void FakeLis::setPolicy(std::function<AckMode(const std::string&)> policy) {
  std::lock_guard<std::mutex> lock(mutex_);
  policy_ = std::move(policy);
}

std::vector<std::string> FakeLis::messages() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return messages_;
}

size_t FakeLis::count() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return messages_.size();
}

bool FakeLis::waitFor(const std::function<bool(const std::vector<std::string>&)>& done,
                      std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mutex_);
  return changed_.wait_for(lock, timeout, [&] { return done(messages_); });
}

void FakeLis::acceptLoop() {
  while (running_) {
    try {
      if (!server_->poll(Poco::Timespan(0, 100000), Poco::Net::Socket::SELECT_READ)) continue;
      Poco::Net::StreamSocket socket = server_->acceptConnection();
      ++connections_;
      std::lock_guard<std::mutex> lock(mutex_);
      connectionThreads_.emplace_back(&FakeLis::serve, this, socket);
    } catch (const Poco::Exception&) {
    }
  }
}

std::string FakeLis::answerFor(const std::string& message) {
  AckMode mode;
  int id;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    mode = policy_ ? policy_(message) : mode_;
    id = ++ackCounter_;
  }
  if (mode == AckMode::kSilent) return {};
  const char* code = mode == AckMode::kAA ? "AA" : mode == AckMode::kAE ? "AE" : "AR";
  std::string controlId;
  auto segments = hl7Segments(message);
  if (!segments.empty()) controlId = hl7Field(segments[0], 10);
  const std::string now = Poco::DateTimeFormatter::format(Poco::DateTime(), "%Y%m%d%H%M%S");
  std::string ack = "MSH|^~\\&|LIS|LAB|LABGATE||" + now + "||ACK^R01^ACK|LISACK" +
                    std::to_string(id) + "|P|2.5.1\rMSA|" + code + "|" + controlId + "\r";
  return "\x0b" + ack + "\x1c\r";
}

void FakeLis::serve(Poco::Net::StreamSocket socket) {
  std::string buffer;
  char chunk[8192];
  try {
    socket.setReceiveTimeout(Poco::Timespan(0, 100000));
  } catch (const Poco::Exception&) {
  }
  while (running_) {
    int n = 0;
    try {
      n = socket.receiveBytes(chunk, sizeof chunk);
    } catch (const Poco::TimeoutException&) {
      continue;
    } catch (const Poco::Exception&) {
      break;
    }
    if (n <= 0) break;
    buffer.append(chunk, static_cast<size_t>(n));
    for (;;) {
      size_t start = buffer.find('\x0b');
      if (start == std::string::npos) {
        buffer.clear();
        break;
      }
      size_t end = buffer.find("\x1c\r", start);
      if (end == std::string::npos) {
        buffer.erase(0, start);
        break;
      }
      std::string message = buffer.substr(start + 1, end - start - 1);
      buffer.erase(0, end + 2);
      if (message.rfind("MSH", 0) != 0) ++malformed_;
      std::string answer = answerFor(message);
      {
        std::lock_guard<std::mutex> lock(mutex_);
        messages_.push_back(message);
      }
      changed_.notify_all();
      if (!answer.empty()) {
        try {
          socket.sendBytes(answer.data(), static_cast<int>(answer.size()));
        } catch (const Poco::Exception&) {
        }
      }
    }
  }
  try {
    socket.close();
  } catch (const Poco::Exception&) {
  }
}

// ---------------------------------------------------------------------------------------------
// HL7 helpers

std::vector<std::string> hl7Segments(const std::string& message) {
  std::vector<std::string> segments;
  std::string current;
  for (char c : message) {
    if (c == '\r' || c == '\n') {
      if (!current.empty()) segments.push_back(current);
      current.clear();
    } else {
      current += c;
    }
  }
  if (!current.empty()) segments.push_back(current);
  return segments;
}

std::vector<std::string> hl7Fields(const std::string& segment) {
  std::vector<std::string> parts;
  std::string current;
  for (char c : segment) {
    if (c == '|') {
      parts.push_back(current);
      current.clear();
    } else {
      current += c;
    }
  }
  parts.push_back(current);
  if (!parts.empty() && parts[0] == "MSH") parts.insert(parts.begin() + 1, "|");
  return parts;
}

std::string hl7Field(const std::string& segment, size_t n) {
  auto fields = hl7Fields(segment);
  return n < fields.size() ? fields[n] : std::string();
}

std::string component(const std::string& field, size_t n) {
  size_t index = 1;
  std::string current;
  for (char c : field) {
    if (c == '^') {
      if (index == n) return current;
      ++index;
      current.clear();
    } else {
      current += c;
    }
  }
  return index == n ? current : std::string();
}

std::vector<std::string> segmentsNamed(const std::string& message, const std::string& name) {
  std::vector<std::string> found;
  for (const auto& s : hl7Segments(message)) {
    if (s.rfind(name + "|", 0) == 0 || s == name) found.push_back(s);
  }
  return found;
}

std::vector<std::string> obrSampleIds(const std::string& message) {
  std::vector<std::string> ids;
  for (const auto& obr : segmentsNamed(message, "OBR")) {
    ids.push_back(component(hl7Field(obr, 3), 1));
  }
  return ids;
}

std::vector<Observation> observations(const std::string& message) {
  std::vector<Observation> list;
  for (const auto& obx : segmentsNamed(message, "OBX")) {
    Observation o;
    const std::string id = hl7Field(obx, 3);
    o.code = component(id, 1);
    o.name = component(id, 2);
    o.system = component(id, 3);
    o.value = hl7Field(obx, 5);
    o.units = component(hl7Field(obx, 6), 1);
    list.push_back(o);
  }
  return list;
}

std::vector<std::string> receivedSampleIds(const std::vector<std::string>& messages) {
  std::vector<std::string> ids;
  for (const auto& m : messages) {
    auto some = obrSampleIds(m);
    ids.insert(ids.end(), some.begin(), some.end());
  }
  return ids;
}

size_t timesReceived(const std::vector<std::string>& messages, const std::string& sampleId) {
  size_t n = 0;
  for (const auto& m : messages) {
    auto ids = obrSampleIds(m);
    if (std::find(ids.begin(), ids.end(), sampleId) != ids.end()) ++n;
  }
  return n;
}

std::optional<std::string> sqliteQuery(const std::string& db, const std::string& sql,
                                       const std::string& captureDir) {
  const std::string shell = "/usr/bin/sqlite3";
  if (!fileExists(shell) || !fileExists(db)) return std::nullopt;
  ProgramRun run = runProgram(shell, {"-readonly", db, sql}, 20000ms, captureDir);
  if (!run.finished || run.exitCode != 0) return std::nullopt;
  while (!run.out.empty() && (run.out.back() == '\n' || run.out.back() == '\r')) run.out.pop_back();
  return run.out;
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

}  // namespace labgate::it
