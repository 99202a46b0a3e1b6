// Integration-test harness: everything a test needs to drive the real labgated over loopback
// sockets. A temporary directory per test, free ports, a config writer, the engine as a child
// process (stdout/stderr captured to files), an ASTM E1381 instrument client, a fake LIS that
// speaks MLLP and answers ORU^R01 with a configurable acknowledgement, a /health client, small
// HL7 parsing helpers and a byte search over files (for the PHI checks).
//
// Thread-safety: FakeLis is internally synchronised (its server threads and the test thread share
// it). Every other class is used by one test thread at a time.
//
// Test output rule: helpers never print message contents; failures name locations and counts,
// because the fixtures carry (invented) patient-identifying values.
#pragma once

#include <Poco/JSON/Object.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/Pipe.h>
#include <Poco/Process.h>
#include <Poco/Timespan.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "tests/integration/harness_store.h"

namespace labgate::it {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

/// The password of the "admin" user every labgated child creates on its first start: the harness
/// exports LABGATE_ADMIN_PASSWORD with this value into the test process at static initialisation
/// (replacing the caller's), so children inherit it unless started with a ChildEnvironment that
/// says otherwise. It passes the password policy of docs/api.md.
inline constexpr const char* kTestAdminPassword = "Harbour-Lantern-Quill-2047";

// ---------------------------------------------------------------------------------------------
// Paths and small utilities

/// The directory holding labgated and labgate: $LABGATE_IT_BIN_DIR, else LABGATE_BIN_DIR.
std::string binDir();
/// The repository root (LABGATE_SOURCE_DIR).
std::string sourceDir();
/// The shared/ folder with the corpus (LABGATE_SHARED_DIR); may not exist.
std::string sharedDir();
/// tests/data/integration in the source tree.
std::string testDataDir();
/// The PHI pattern file of the repository (config/phi-patterns.json).
std::string phiPatternsPath();
/// The mapping CSV the flow tests use (tests/data/integration/mappings.csv).
std::string defaultMappingsPath();

Poco::Timespan toTimespan(std::chrono::milliseconds ms);

/// Polls `done` every `interval` until it returns true or `timeout` passes. Returns its last value.
bool waitUntil(const std::function<bool()>& done, std::chrono::milliseconds timeout,
               std::chrono::milliseconds interval = 50ms);

/// A loopback TCP port that was free a moment ago (bound to 127.0.0.1:0, read, closed).
int freePort();

std::string readFile(const std::string& path);
void writeFile(const std::string& path, const std::string& bytes);
bool fileExists(const std::string& path);

/// Every regular file below `dir` (recursive), as absolute paths.
std::vector<std::string> listFilesRecursive(const std::string& dir);

/// A value that must never be found, with a label that may be printed (the label never contains
/// the value itself).
struct Secret {
  std::string label;  // e.g. "P-6 surname"
  std::string value;
};

/// Where a secret was found: file path (or a description of the source) and the secret's label.
struct SecretHit {
  std::string where;
  std::string label;
};

/// Searches `haystack` for each secret, case-insensitively. Returns the labels found.
std::vector<std::string> findSecrets(const std::string& haystack,
                                     const std::vector<Secret>& secrets);
/// Searches every file in `paths` for each secret (bytes, case-insensitive).
std::vector<SecretHit> findSecretsInFiles(const std::vector<std::string>& paths,
                                          const std::vector<Secret>& secrets);

/// A fresh directory under the system temp dir, removed on destruction unless the environment
/// variable LABGATE_KEEP_TEST_DIRS is set (useful when a test fails).
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  /// path() + "/" + name.
  std::string file(const std::string& name) const;

 private:
  std::string path_;
};

// ---------------------------------------------------------------------------------------------
// Configuration

struct ConnectorConfig {
  std::string name = "lab1";
  std::string kind = "astm-tcp";
  int port = 0;
  std::string instrument = "tq-01";
  std::string mappings;  // CSV path
  std::string destinations = "lis";
  std::string phiPolicy = "refuse";
  int receiveTimeoutSeconds = 30;
  std::map<std::string, std::string> extra;  // suffix after "connector.NAME." → value
};

struct DestinationConfig {
  std::string name = "lis";
  std::string kind = "hl7-mllp";
  std::string host = "127.0.0.1";
  int port = 0;
  int ackTimeoutSeconds = 5;
  int connectTimeoutSeconds = 2;
  int retryInitialMs = 200;
  int retryMaxMs = 2000;
  std::map<std::string, std::string> extra;  // suffix after "destination.NAME." → value
};

/// The Java-properties configuration of one labgated instance. Overrides replace or add keys
/// after rendering; omitted keys are dropped (for the bad-configuration tests).
struct EngineConfig {
  std::string dataDir;
  int httpPort = 0;
  std::string phiPatterns;
  std::string logLevel = "information";
  std::vector<ConnectorConfig> connectors;
  std::vector<DestinationConfig> destinations;
  std::vector<std::pair<std::string, std::string>> overrides;
  std::set<std::string> omitted;

  /// key = value pairs in file order.
  std::vector<std::pair<std::string, std::string>> entries() const;
  std::string render() const;
  void write(const std::string& path) const;
  void set(const std::string& key, const std::string& value);
  void omit(const std::string& key) { omitted.insert(key); }
};

// ---------------------------------------------------------------------------------------------
// Processes

/// What a finished program did.
struct ProgramRun {
  bool finished = false;  // false: killed after the timeout
  int exitCode = -1;      // exit status, or 128 + signal
  std::string out;
  std::string err;
};

/// Changes to the environment a child inherits from the test process.
struct ChildEnvironment {
  std::map<std::string, std::string> set;  // added or replaced
  std::vector<std::string> unset;          // removed (the child is started through /usr/bin/env -u)
  bool empty() const { return set.empty() && unset.empty(); }
};

/// A child process with stdout and stderr drained into files by background threads.
class ChildProcess {
 public:
  /// Starts `program` in `workingDir` (the current directory when empty), with the test
  /// process's environment changed by `environment`.
  ChildProcess(std::string program, std::vector<std::string> args, std::string stdoutPath,
               std::string stderrPath, const std::string& workingDir = "",
               const ChildEnvironment& environment = {});
  ~ChildProcess();  // SIGKILL if still running
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  /// Exit status once the process has ended (reaped here), std::nullopt while it runs.
  std::optional<int> poll();
  /// Waits up to `timeout` for the process to end.
  std::optional<int> waitForExit(std::chrono::milliseconds timeout);
  void signal(int sig);
  /// SIGKILL and reap. Returns the exit status (128 + 9).
  int kill();
  int pid() const { return pid_; }
  /// Joins the drainer threads (call after the process ended) and returns the captures.
  std::string capturedOut();
  std::string capturedErr();

 private:
  void joinDrainers();

  std::unique_ptr<Poco::ProcessHandle> handle_;
  int pid_ = -1;
  std::optional<int> exit_;
  Poco::Pipe outPipe_;
  Poco::Pipe errPipe_;
  std::thread outThread_;
  std::thread errThread_;
  std::string stdoutPath_;
  std::string stderrPath_;
};

/// Runs a program to completion (or kills it after `timeout`).
ProgramRun runProgram(const std::string& program, const std::vector<std::string>& args,
                      std::chrono::milliseconds timeout, const std::string& captureDir);

/// One /health answer.
struct Health {
  int httpStatus = 0;  // 0: no answer
  Poco::JSON::Object::Ptr root;

  bool ok() const { return httpStatus == 200 && !root.isNull(); }
  /// A numeric field of connector `name`, or -1 when absent.
  long connector(const std::string& name, const std::string& key) const;
  std::string connectorText(const std::string& name, const std::string& key) const;
  /// A numeric field of destination `name`, or -1 when absent.
  long destination(const std::string& name, const std::string& key) const;
  std::string destinationText(const std::string& name, const std::string& key) const;
};

/// GET http://127.0.0.1:port/health (never throws).
Health fetchHealth(int port, std::chrono::milliseconds timeout = 3000ms);

/// The labgated binary running with one config file, its output captured in `captureDir`.
class EngineProcess {
 public:
  EngineProcess(std::string configPath, int httpPort, std::string captureDir);
  ~EngineProcess();

  /// Launches labgated and waits until /health answers 200. Returns false (with a reason) if the
  /// process exits first or `timeout` passes.
  bool start(std::chrono::milliseconds timeout, std::string* why);
  /// SIGTERM, wait up to `timeout`; returns the exit status, or std::nullopt if it had to be
  /// killed.
  std::optional<int> stop(std::chrono::milliseconds timeout = 20000ms, int sig = SIGTERM);
  /// SIGKILL (the crash test).
  void kill();
  /// Sends `sig` (e.g. SIGHUP: reload) to the running labgated.
  void signal(int sig) {
    if (child_) child_->signal(sig);
  }
  bool running();
  /// The exit status of the last run once it ended, std::nullopt while it runs or before a start.
  std::optional<int> exitStatus();
  /// The environment changes of the next start()s (the bootstrap tests: no or a weak
  /// LABGATE_ADMIN_PASSWORD).
  void setEnvironment(ChildEnvironment environment) { environment_ = std::move(environment); }
  Health health() const { return fetchHealth(httpPort_); }
  /// stdout + stderr of every run so far (the files accumulate across restarts).
  std::vector<std::string> capturePaths() const;
  std::string stderrText() const;
  /// The (initially empty) directory labgated runs in: it must write nothing here.
  std::string workingDir() const { return captureDir_ + "/cwd"; }

 private:
  std::string configPath_;
  int httpPort_;
  std::string captureDir_;
  int runs_ = 0;
  ChildEnvironment environment_;
  std::unique_ptr<ChildProcess> child_;
};

// ---------------------------------------------------------------------------------------------
// ASTM E1381 instrument

namespace astm {
inline constexpr char kStx = 0x02;
inline constexpr char kEtx = 0x03;
inline constexpr char kEot = 0x04;
inline constexpr char kEnq = 0x05;
inline constexpr char kAck = 0x06;
inline constexpr char kNak = 0x15;
inline constexpr char kEtb = 0x17;
inline constexpr int kTimeout = -1;  // no reply within the wait
inline constexpr int kClosed = -2;   // peer closed the connection

/// Two upper-case hex digits: sum of the bytes from FN through ETX/ETB, mod 256.
std::string checksum(const std::string& fnThroughTerminator);
/// STX FN text ETB|ETX C1 C2 CR LF.
std::string frame(int fn, const std::string& text, bool final);
/// Printable name of a reply (ACK, NAK, EOT, timeout, closed, 0xNN).
std::string replyName(int reply);

/// A record from fields: fields[0] is the record type letter; empty trailing fields are kept.
std::string record(const std::vector<std::string>& fields);
/// A record from sparse 1-based field positions (position 1 is the type letter).
std::string record(char type, const std::map<int, std::string>& fields);

/// Message text (records, each ending in CR) split into frame texts.
enum class Framing {
  kRecordPerFrame,  // each record in its own end frame; records over maxText split with ETB
  kContinuous,      // the whole text cut into maxText pieces, ETB between, ETX at the end
  kSingleFrame,     // the whole message in one end frame, whatever its length
};
struct FrameText {
  std::string text;
  bool final;
};
std::vector<FrameText> splitIntoFrames(const std::vector<std::string>& records, Framing framing,
                                       size_t maxText = 240);
}  // namespace astm

/// A result line in a test message.
struct TestResult {
  std::string code;  // instrument code (R-3 component 4)
  std::string value;
  std::string units;
};

/// A sample (order) in a test message.
struct TestSample {
  std::string sampleId;  // O-3
  std::vector<TestResult> results;
  std::vector<std::string> resultComments;  // C records after the first result
};

/// The records of one ASTM message: H, P (with `patientFields`, sparse positions), O/R/C per
/// sample, L. Extra records can be inserted after P with `extraAfterPatient`.
std::vector<std::string> buildAstmMessage(const std::vector<TestSample>& samples,
                                          const std::map<int, std::string>& patientFields = {},
                                          const std::vector<std::string>& extraAfterPatient = {},
                                          const std::string& controlId = "");

/// What happened to one message transfer.
struct Transfer {
  std::vector<int> replies;         // one per frame sent (retransmissions included)
  int finalReply = astm::kTimeout;  // reply to the last frame sent
  bool complete = false;            // every frame sent and the last one ACKed
};

/// The instrument side of an ASTM E1381 link over TCP.
class AstmInstrument {
 public:
  explicit AstmInstrument(int port);
  ~AstmInstrument();

  /// ENQ, then the reply (ACK expected). Resets the frame number to 1.
  int enq(std::chrono::milliseconds timeout = 10000ms);
  /// Sends a frame built with the current FN; advances FN when the reply is ACK or EOT.
  int sendFrame(const std::string& text, bool final, std::chrono::milliseconds timeout = 20000ms);
  /// Sends raw bytes and waits for a one-byte reply.
  int sendRawAndRead(const std::string& bytes, std::chrono::milliseconds timeout = 20000ms);
  void sendRaw(const std::string& bytes);
  /// Reads one reply byte.
  int readReply(std::chrono::milliseconds timeout);
  /// Sends every frame of the message; stops at the first reply that is not ACK. With
  /// `retransmitOnNak`, a NAKed frame is resent (up to 5 times) as E1381 requires.
  Transfer sendMessage(const std::vector<std::string>& records,
                       astm::Framing framing = astm::Framing::kRecordPerFrame,
                       bool retransmitOnNak = false, size_t maxText = 240);
  /// ENQ + sendMessage + EOT.
  Transfer sendSession(const std::vector<std::string>& records,
                       astm::Framing framing = astm::Framing::kRecordPerFrame);
  void eot();
  void close();
  int nextFn() const { return fn_; }

 private:
  Poco::Net::StreamSocket socket_;
  int fn_ = 1;
};

// ---------------------------------------------------------------------------------------------
// Fake LIS (MLLP server)

enum class AckMode { kAA, kAE, kAR, kSilent };

/// A laboratory information system that accepts MLLP connections, records every HL7 message it
/// receives and answers each with an ACK whose MSA-1 is chosen by the policy (AA by default).
class FakeLis {
 public:
  explicit FakeLis(int port);
  ~FakeLis();
  FakeLis(const FakeLis&) = delete;
  FakeLis& operator=(const FakeLis&) = delete;

  /// Binds 127.0.0.1:port (with SO_REUSEADDR so it can be restarted at once) and serves.
  void start();
  /// Closes the listening socket and every open connection; joins the threads.
  void stop();
  bool started() const { return running_; }
  int port() const { return port_; }

  void setMode(AckMode mode);
  /// The acknowledgement per received message (overrides setMode).
  void setPolicy(std::function<AckMode(const std::string& message)> policy);
  /// MSA-3 (text message) of every acknowledgement from now on ("" = none; no HL7 delimiters).
  void setAckText(std::string text);

  /// Every message received so far, in arrival order (including those answered AE/AR/nothing).
  std::vector<std::string> messages() const;
  size_t count() const;
  int connectionsAccepted() const { return connections_; }
  /// Waits until `done(messages)` holds.
  bool waitFor(const std::function<bool(const std::vector<std::string>&)>& done,
               std::chrono::milliseconds timeout);
  /// Number of frames that did not parse as HL7 (no MSH at the start).
  int malformedFrames() const { return malformed_; }

 private:
  void acceptLoop();
  void serve(Poco::Net::StreamSocket socket);
  std::string answerFor(const std::string& message);

  int port_;
  std::unique_ptr<Poco::Net::ServerSocket> server_;
  std::atomic<bool> running_{false};
  std::atomic<int> connections_{0};
  std::atomic<int> malformed_{0};
  std::thread acceptThread_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<std::string> messages_;
  std::vector<std::thread> connectionThreads_;
  std::vector<Poco::Net::StreamSocket> connectionSockets_;
  AckMode mode_ = AckMode::kAA;
  std::string ackText_;
  std::function<AckMode(const std::string&)> policy_;
  int ackCounter_ = 0;
};

// ---------------------------------------------------------------------------------------------
// HL7 helpers (segments separated by CR, fields by '|', components by '^')

std::vector<std::string> hl7Segments(const std::string& message);
/// Fields of a segment; for MSH, index n is MSH-n (MSH-1 = "|"), otherwise index n is SEG-n.
std::vector<std::string> hl7Fields(const std::string& segment);
std::string hl7Field(const std::string& segment, size_t n);
std::string component(const std::string& field, size_t n);  // 1-based
std::vector<std::string> segmentsNamed(const std::string& message, const std::string& name);
/// OBR-3 (first component) of every OBR, in order.
std::vector<std::string> obrSampleIds(const std::string& message);

struct Observation {
  std::string code;    // OBX-3.1
  std::string name;    // OBX-3.2
  std::string system;  // OBX-3.3
  std::string value;   // OBX-5
  std::string units;   // OBX-6.1
};
std::vector<Observation> observations(const std::string& message);

/// Sample ids (OBR-3) of all received messages, in order of arrival, flattened.
std::vector<std::string> receivedSampleIds(const std::vector<std::string>& messages);
/// How many times `sampleId` was received.
size_t timesReceived(const std::vector<std::string>& messages, const std::string& sampleId);

// ---------------------------------------------------------------------------------------------
// The fixture most tests use: a temp dir, ports, a fake LIS (not started) and a config with one
// ASTM connector "lab1" and one MLLP destination "lis".

class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  /// Writes the config and starts labgated; fails the test (fatally) if it does not get ready.
  void startEngine();
  /// Stops labgated with SIGTERM; expects exit status 0.
  void stopEngine();
  /// Starts the fake LIS.
  void startLis() { lis_->start(); }

  Health health() const { return fetchHealth(config_.httpPort); }
  int astmPort() const { return config_.connectors.at(0).port; }
  /// Waits until the fake LIS has received a message containing OBR-3 = sampleId.
  bool waitForSample(const std::string& sampleId, std::chrono::milliseconds timeout = 30000ms);
  /// Waits until /health destination `lis` reaches `delivered`.
  bool waitForDelivered(long delivered, std::chrono::milliseconds timeout = 30000ms);
  /// Counters are updated a moment after the event the test observed (an ACK, a delivery), so
  /// assertions on them wait: these return the counter of connector lab1 / destination lis once
  /// it equals `expected`, or its value after `timeout`.
  long settledConnector(const std::string& key, long expected,
                        std::chrono::milliseconds timeout = 10000ms);
  long settledDestination(const std::string& key, long expected,
                          std::chrono::milliseconds timeout = 10000ms);
  /// A sample id unique within this test run (letters and digits only).
  std::string newSampleId(const std::string& tag = "S");
  /// Every file the engine wrote or printed: data.dir and the stdout/stderr captures.
  std::vector<std::string> engineOutputs() const;
  /// The PHI search: fails the test for every secret found in any engine output (names the
  /// secret's label and the file, never the value), and in any column of any table of the store
  /// as StoreReader reads it (so also values the file search misses: WAL pages, overflow pages).
  void expectNoSecretsWritten(const std::vector<Secret>& secrets) const;

  std::unique_ptr<TempDir> tmp_;
  EngineConfig config_;
  std::string configPath_;
  std::unique_ptr<FakeLis> lis_;
  std::unique_ptr<EngineProcess> engine_;
  int sampleCounter_ = 0;
};

/// Three results on two samples, all codes in the default mapping.
std::vector<TestSample> twoSamplesThreeResults(const std::string& sample1,
                                               const std::string& sample2);

}  // namespace labgate::it
