// The harness's child processes: labgated and the other programs, with stdout/stderr drained
// into files, exit status by waitpid, and the /health client (see harness.h).
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

#include "tests/integration/harness.h"

namespace labgate::it {

namespace {

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
// Processes

ChildProcess::ChildProcess(std::string program, std::vector<std::string> args,
                           std::string stdoutPath, std::string stderrPath,
                           const std::string& workingDir, const ChildEnvironment& environment)
    : stdoutPath_(std::move(stdoutPath)), stderrPath_(std::move(stderrPath)) {
  Poco::Process::Args a;
  if (!environment.unset.empty()) {
    // Poco can add variables to a child's environment but not remove them: env(1) does, then
    // execs the program (same pid).
    for (const auto& name : environment.unset) {
      a.push_back("-u");
      a.push_back(name);
    }
    a.push_back(program);
    program = "/usr/bin/env";
  }
  a.insert(a.end(), args.begin(), args.end());
  const Poco::Process::Env env(environment.set.begin(), environment.set.end());
  handle_ = std::make_unique<Poco::ProcessHandle>(
      workingDir.empty()
          ? Poco::Process::launch(program, a, nullptr, &outPipe_, &errPipe_, env)
          : Poco::Process::launch(program, a, workingDir, nullptr, &outPipe_, &errPipe_, env));
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
  child_ = std::make_unique<ChildProcess>(
      program, std::vector<std::string>{"--config", configPath_}, base + ".stdout",
      base + ".stderr", workingDir(), environment_);
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

std::optional<int> EngineProcess::exitStatus() {
  if (!child_) return std::nullopt;
  return child_->poll();
}

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

}  // namespace labgate::it
