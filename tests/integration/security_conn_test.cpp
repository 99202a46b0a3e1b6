// Issue 18, findings 2 and 9, through the real labgated over loopback sockets.
//
// Finding 2: connections that send nothing must not lock instruments out. More idle connections
// than connector.NAME.max_connections are opened on the ASTM and on the MLLP port, and a real
// instrument (AstmInstrument, MllpClient) must still get its message accepted: the listener closes
// the connection idle the longest to make room. A connection silent for idle_timeout_seconds
// outside a transfer is closed, one inside a transfer is not (its protocol's own timeout rules);
// a TLS connection that never completes its handshake is closed after
// tls_handshake_timeout_seconds, even when it drips bytes to keep each read alive. Every close is
// logged naming connector and peer, and counted in /health and /metrics.
//
// Finding 9: a connector listening on an address other hosts can reach needs
// connector.NAME.allow (check-config and start-up refuse it otherwise; allow = any is accepted
// with a warning), and unframed ASTM records are ignored unless accept_unframed is set.
#include <Poco/Net/NetException.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocket.h>

#include <csignal>
#include <memory>
#include <thread>

#include "tests/integration/harness.h"
#include "tests/integration/harness_api.h"
#include "tests/integration/harness_hl7.h"

namespace labgate::it {
namespace {

using Sockets = std::vector<std::unique_ptr<Poco::Net::StreamSocket>>;

/// `count` connections to 127.0.0.1:port that send nothing.
Sockets openIdleConnections(int port, int count) {
  Sockets sockets;
  for (int i = 0; i < count; ++i) {
    auto socket = std::make_unique<Poco::Net::StreamSocket>();
    socket->connect(Poco::Net::SocketAddress("127.0.0.1", static_cast<uint16_t>(port)),
                    toTimespan(5000ms));
    sockets.push_back(std::move(socket));
  }
  return sockets;
}

/// True once the engine has closed `socket` (end of stream or reset); false if it is still open
/// after `timeout`. The engine sends nothing on these connections, so any readable byte counts.
bool closedByEngine(Poco::Net::StreamSocket& socket, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  char buffer[256];
  while (Clock::now() < deadline) {
    try {
      if (!socket.poll(toTimespan(100ms), Poco::Net::Socket::SELECT_READ)) continue;
      if (socket.receiveBytes(buffer, sizeof buffer) <= 0) return true;
    } catch (const Poco::Exception&) {
      return true;  // reset
    }
  }
  return false;
}

/// How many of `sockets` the engine has closed, waiting up to `timeout` for at least `atLeast`.
int countClosed(Sockets& sockets, int atLeast, std::chrono::milliseconds timeout) {
  int closed = 0;
  std::vector<bool> seen(sockets.size(), false);
  waitUntil(
      [&] {
        for (size_t i = 0; i < sockets.size(); ++i) {
          if (!seen[i] && closedByEngine(*sockets[i], 10ms)) {
            seen[i] = true;
            ++closed;
          }
        }
        return closed >= atLeast;
      },
      timeout, 100ms);
  return closed;
}

/// The value of the first /metrics line starting with `series` + " ", or -1.
double metric(int httpPort, const std::string& series) {
  ApiResponse r = apiRequest("GET", httpPort, "/metrics");
  if (r.status != 200) return -1;
  const std::string key = series + " ";
  size_t at = r.body.rfind(key, 0) == 0 ? 0 : r.body.find("\n" + key);
  if (at == std::string::npos) return -1;
  if (at != 0) ++at;
  return std::strtod(r.body.c_str() + at + key.size(), nullptr);
}

/// Everything the engine logged: its stderr captures and its log file.
std::string engineLog(const EngineProcess& engine, const std::string& dataDir) {
  return engine.stderrText() + readFile(dataDir + "/logs/labgated.log");
}

// ---- Finding 2: idle connections, ASTM --------------------------------------------------------

class SecurityConnAstmTest : public EngineTest {
 protected:
  void SetUp() override {
    EngineTest::SetUp();
    std::signal(SIGPIPE, SIG_IGN);  // writes to connections the engine closed
  }
};

TEST_F(SecurityConnAstmTest, IdleConnectionsBeyondMaxConnectionsDoNotLockOutAnInstrument) {
  // Only eviction can make room here: the idle rule is far away.
  config_.connectors[0].extra["max_connections"] = "2";
  config_.connectors[0].extra["idle_timeout_seconds"] = "600";
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());

  Sockets idle = openIdleConnections(astmPort(), 8);

  // A real instrument connects after them and sends a whole session.
  const std::string sample = newSampleId("EVICT");
  {
    AstmInstrument instrument(astmPort());
    Transfer transfer =
        instrument.sendSession(buildAstmMessage({{sample, {{"GLU", "5.4", "mmol/L"}}, {}}}));
    EXPECT_TRUE(transfer.complete)
        << "the instrument was locked out: frame " << transfer.replies.size() << " answered "
        << astm::replyName(transfer.finalReply);
  }
  EXPECT_TRUE(waitForSample(sample)) << "the instrument's message was not delivered";
  EXPECT_EQ(settledConnector("messages_accepted", 1), 1);

  // 8 idle + 1 instrument on 2 places: at least 7 idle connections were closed to make room.
  EXPECT_GE(countClosed(idle, 7, 15000ms), 7);
  EXPECT_TRUE(
      waitUntil([&] { return health().connector("lab1", "connections_evicted") >= 7; }, 10000ms))
      << "connections_evicted: " << health().connector("lab1", "connections_evicted");
  EXPECT_GE(metric(config_.httpPort,
                   "labgate_connections_closed_total{connector=\"lab1\",reason=\"evicted\"}"),
            7);
  const std::string log = engineLog(*engine_, config_.dataDir);
  EXPECT_NE(log.find("connector lab1: connection from 127.0.0.1:"), std::string::npos);
  EXPECT_NE(log.find("to make room for a new connection from 127.0.0.1:"), std::string::npos);
  EXPECT_NE(log.find("connector.lab1.max_connections"), std::string::npos);

  // A second instrument later still gets through, and the engine serves.
  const std::string second = newSampleId("EVICT");
  {
    AstmInstrument instrument(astmPort());
    Transfer transfer =
        instrument.sendSession(buildAstmMessage({{second, {{"GLU", "6.1", "mmol/L"}}, {}}}));
    EXPECT_TRUE(transfer.complete) << astm::replyName(transfer.finalReply);
  }
  EXPECT_TRUE(waitForSample(second));
  EXPECT_TRUE(health().ok());
}

TEST_F(SecurityConnAstmTest, ThirtyTwoIdleConnectionsAtTheDefaultLimitDoNotLockOutAnInstrument) {
  // The probe: 32 idle sockets against the default 16 places (and TCPServer's queue).
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());
  Sockets idle = openIdleConnections(astmPort(), 32);
  const std::string sample = newSampleId("PROBE");
  {
    AstmInstrument instrument(astmPort());
    Transfer transfer =
        instrument.sendSession(buildAstmMessage({{sample, {{"GLU", "5.5", "mmol/L"}}, {}}}));
    EXPECT_TRUE(transfer.complete)
        << "the instrument was locked out: frame " << transfer.replies.size() << " answered "
        << astm::replyName(transfer.finalReply);
  }
  EXPECT_TRUE(waitForSample(sample));
  EXPECT_GE(countClosed(idle, 17, 15000ms), 17);  // 33 arrivals on 16 places
  EXPECT_TRUE(health().ok());
}

TEST_F(SecurityConnAstmTest, SilentConnectionIsClosedButASessionThatPausesIsNot) {
  config_.connectors[0].extra["idle_timeout_seconds"] = "1";
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());

  // Outside a transfer: closed after about a second (generous bound).
  Sockets idle = openIdleConnections(astmPort(), 1);
  EXPECT_TRUE(closedByEngine(*idle[0], 20000ms)) << "an idle connection was never closed";
  EXPECT_TRUE(waitUntil([&] { return health().connector("lab1", "connections_closed_idle") >= 1; },
                        10000ms));
  EXPECT_GE(metric(config_.httpPort,
                   "labgate_connections_closed_total{connector=\"lab1\",reason=\"idle\"}"),
            1);
  const std::string log = engineLog(*engine_, config_.dataDir);
  EXPECT_NE(log.find("without data outside a transfer (connector.lab1.idle_timeout_seconds)"),
            std::string::npos);

  // Inside a session (ENQ answered, frames to come) silence longer than idle_timeout_seconds is
  // E1381's business (receive timeout 30 s): the instrument that resumes is not cut off, and one
  // that sends slowly, a record at a time with pauses, neither.
  const std::string sample = newSampleId("PAUSE");
  AstmInstrument instrument(astmPort());
  ASSERT_EQ(instrument.enq(), astm::kAck);
  std::this_thread::sleep_for(2500ms);
  Transfer transfer =
      instrument.sendMessage(buildAstmMessage({{sample, {{"GLU", "4.8", "mmol/L"}}, {}}}));
  EXPECT_TRUE(transfer.complete) << "a paused session was cut: frame " << transfer.replies.size()
                                 << " answered " << astm::replyName(transfer.finalReply);
  std::this_thread::sleep_for(1500ms);  // between the last frame and EOT: still the session
  instrument.eot();
  EXPECT_TRUE(waitForSample(sample));
  EXPECT_EQ(settledConnector("messages_accepted", 1), 1);
}

// ---- Finding 2: idle connections, MLLP (plain and TLS) ----------------------------------------

class SecurityConnMllpTest : public Hl7EngineTest {
 protected:
  void SetUp() override {
    Hl7EngineTest::SetUp();
    std::signal(SIGPIPE, SIG_IGN);
  }
};

TEST_F(SecurityConnMllpTest, IdleConnectionsBeyondMaxConnectionsDoNotLockOutASender) {
  hl7Connector().extra["max_connections"] = "2";
  hl7Connector().extra["idle_timeout_seconds"] = "600";
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());

  Sockets idle = openIdleConnections(hl7Port(), 8);
  OruSpec spec = cleanOru(newSampleId("EVICT"));
  {
    MllpClient client(hl7Port());
    std::optional<Hl7Ack> ack = client.exchange(buildOru(spec));
    ASSERT_TRUE(ack.has_value()) << "no ACK: the sender was locked out";
    EXPECT_EQ(ack->code, "AA");
    EXPECT_EQ(ack->controlId, spec.controlId);
  }
  EXPECT_TRUE(waitForSample(spec.sampleId));
  EXPECT_GE(countClosed(idle, 7, 15000ms), 7);
  EXPECT_TRUE(waitUntil([&] { return health().connector(kConnector, "connections_evicted") >= 7; },
                        10000ms));
  EXPECT_GE(metric(config_.httpPort,
                   "labgate_connections_closed_total{connector=\"hl7in\",reason=\"evicted\"}"),
            7);
  EXPECT_TRUE(health().ok());
}

TEST_F(SecurityConnMllpTest, SilentConnectionIsClosedButAPartialFrameThatPausesIsNot) {
  hl7Connector().extra["idle_timeout_seconds"] = "1";
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());

  Sockets idle = openIdleConnections(hl7Port(), 1);
  EXPECT_TRUE(closedByEngine(*idle[0], 20000ms)) << "an idle connection was never closed";
  EXPECT_TRUE(waitUntil(
      [&] { return health().connector(kConnector, "connections_closed_idle") >= 1; }, 10000ms));
  EXPECT_NE(engineLog(*engine_, config_.dataDir)
                .find("without data outside a transfer (connector.hl7in.idle_timeout_seconds)"),
            std::string::npos);

  // Half a frame, a pause longer than idle_timeout_seconds (receive_timeout_seconds is 60), the
  // rest: answered AA.
  OruSpec spec = cleanOru(newSampleId("PAUSE"));
  const std::string framed = mllp::frame(buildOru(spec));
  MllpClient client(hl7Port());
  client.sendRaw(framed.substr(0, framed.size() / 2));
  std::this_thread::sleep_for(2500ms);
  client.sendRaw(framed.substr(framed.size() / 2));
  std::optional<Hl7Ack> ack = client.readAck();
  ASSERT_TRUE(ack.has_value()) << "a sender in the middle of a frame was cut off";
  EXPECT_EQ(ack->code, "AA");
  EXPECT_TRUE(waitForSample(spec.sampleId));
}

class SecurityConnTlsTest : public SecurityConnMllpTest {
 protected:
  void SetUp() override {
    SecurityConnMllpTest::SetUp();
    if (findProgram("openssl").empty())
      GTEST_FAIL() << "the openssl CLI is not installed; scripts/setup.sh installs it";
    cert_ = tmp_->file("server-cert.pem");
    key_ = tmp_->file("server-key.pem");
    std::string why;
    ASSERT_TRUE(makeSelfSignedCert(tmp_->path(), cert_, key_, &why)) << why;
    hl7Connector().extra["tls.cert"] = cert_;
    hl7Connector().extra["tls.key"] = key_;
  }

  std::string cert_;
  std::string key_;
};

TEST_F(SecurityConnTlsTest, HandshakeThatNeverCompletesIsClosedAfterItsLimit) {
  hl7Connector().extra["tls_handshake_timeout_seconds"] = "1";
  hl7Connector().extra["idle_timeout_seconds"] = "600";  // only the handshake limit applies
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());

  // A peer that connects and says nothing.
  Sockets silent = openIdleConnections(hl7Port(), 1);
  EXPECT_TRUE(closedByEngine(*silent[0], 20000ms)) << "a silent TLS connection was never closed";

  // A peer that starts a TLS record (handshake, 512 bytes announced) and drips one byte every
  // 300 ms, so that no single read ever waits long: closed while it is still dripping.
  Sockets dripper = openIdleConnections(hl7Port(), 1);
  const std::string header("\x16\x03\x01\x02\x00", 5);
  dripper[0]->sendBytes(header.data(), static_cast<int>(header.size()));
  bool closed = false;
  for (int i = 0; i < 30 && !closed; ++i) {  // 9 s of dripping at most
    try {
      const char byte = 0x01;
      dripper[0]->sendBytes(&byte, 1);
    } catch (const Poco::Exception&) {
      closed = true;
      break;
    }
    closed = closedByEngine(*dripper[0], 300ms);
  }
  EXPECT_TRUE(closed) << "a handshake dripped a byte at a time was never closed";

  EXPECT_TRUE(waitUntil(
      [&] { return health().connector(kConnector, "tls_handshake_timeouts") >= 2; }, 10000ms))
      << "tls_handshake_timeouts: " << health().connector(kConnector, "tls_handshake_timeouts");
  EXPECT_GE(metric(config_.httpPort,
                   "labgate_connections_closed_total{connector=\"hl7in\","
                   "reason=\"tls_handshake_timeout\"}"),
            2);
  EXPECT_NE(engineLog(*engine_, config_.dataDir)
                .find("not completed within 1 s (connector.hl7in.tls_handshake_timeout_seconds)"),
            std::string::npos);

  // A real TLS sender still gets its message accepted.
  OruSpec spec = cleanOru(newSampleId("TLS"));
  TlsExchange tls = tlsExchange(hl7Port(), cert_, mllp::frame(buildOru(spec)), 1, 20000ms);
  ASSERT_TRUE(tls.launched);
  ASSERT_EQ(tls.frames.size(), 1u) << "no ACK over TLS; s_client said: " << tls.diagnostics;
  EXPECT_EQ(parseAck(tls.frames[0]).code, "AA");
  EXPECT_TRUE(waitForSample(spec.sampleId));
}

TEST_F(SecurityConnTlsTest, IdleTlsConnectionsBeyondMaxConnectionsDoNotLockOutASender) {
  hl7Connector().extra["max_connections"] = "2";
  hl7Connector().extra["idle_timeout_seconds"] = "600";
  hl7Connector().extra["tls_handshake_timeout_seconds"] = "300";
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());

  Sockets idle = openIdleConnections(hl7Port(), 6);
  OruSpec spec = cleanOru(newSampleId("TLSEVICT"));
  TlsExchange tls = tlsExchange(hl7Port(), cert_, mllp::frame(buildOru(spec)), 1, 20000ms);
  ASSERT_TRUE(tls.launched);
  ASSERT_EQ(tls.frames.size(), 1u) << "no ACK over TLS; s_client said: " << tls.diagnostics;
  EXPECT_EQ(parseAck(tls.frames[0]).code, "AA");
  EXPECT_TRUE(waitForSample(spec.sampleId));
  EXPECT_GE(countClosed(idle, 5, 15000ms), 5);
}

// ---- Finding 9: secure defaults ----------------------------------------------------------------

class SecurityConnDefaultsTest : public EngineTest {};

TEST_F(SecurityConnDefaultsTest, CheckConfigRefusesANetworkListenerWithoutAllow) {
  const std::string labgated = binDir() + "/labgated";
  const std::string listen = "0.0.0.0:" + std::to_string(astmPort());
  config_.set("connector.lab1.listen", listen);
  config_.write(configPath_);
  ProgramRun refused =
      runProgram(labgated, {"--check-config", "--config", configPath_}, 60000ms, tmp_->path());
  ASSERT_TRUE(refused.finished);
  EXPECT_EQ(refused.exitCode, 1) << refused.out << refused.err;
  EXPECT_NE(refused.err.find("connector.lab1.allow"), std::string::npos) << refused.err;
  EXPECT_NE(refused.err.find("connector.lab1.listen = " + listen), std::string::npos)
      << refused.err;
  EXPECT_NE(refused.err.find("or to any to serve every address"), std::string::npos) << refused.err;
  EXPECT_EQ(refused.out.find("configuration OK"), std::string::npos);

  // Start-up refuses it too, and names the key.
  {
    EngineProcess engine(configPath_, config_.httpPort, tmp_->path());
    std::string why;
    EXPECT_FALSE(engine.start(30000ms, &why)) << "labgated listened on 0.0.0.0 without allow";
    EXPECT_NE(engine.stderrText().find("connector.lab1.allow"), std::string::npos)
        << engine.stderrText();
  }

  // An explicit allow = any is accepted, with a warning.
  config_.set("connector.lab1.allow", "any");
  config_.write(configPath_);
  ProgramRun any =
      runProgram(labgated, {"--check-config", "--config", configPath_}, 60000ms, tmp_->path());
  ASSERT_TRUE(any.finished);
  EXPECT_EQ(any.exitCode, 0) << any.err;
  EXPECT_NE(any.out.find("configuration OK"), std::string::npos) << any.out;
  EXPECT_NE(any.err.find("warning"), std::string::npos) << any.err;
  EXPECT_NE(any.err.find("connector.lab1.allow = any"), std::string::npos) << any.err;
  EXPECT_NE(any.err.find("serves every address"), std::string::npos) << any.err;

  // An allow-list is accepted without a warning.
  config_.set("connector.lab1.allow", "10.1.4.0/24, 127.0.0.1");
  config_.write(configPath_);
  ProgramRun listed =
      runProgram(labgated, {"--check-config", "--config", configPath_}, 60000ms, tmp_->path());
  ASSERT_TRUE(listed.finished);
  EXPECT_EQ(listed.exitCode, 0) << listed.err;
  EXPECT_EQ(listed.err.find("warning"), std::string::npos) << listed.err;
}

TEST_F(SecurityConnDefaultsTest, AllowAnyOnANetworkAddressStartsWithAWarningAndServes) {
  config_.set("connector.lab1.listen", "0.0.0.0:" + std::to_string(astmPort()));
  config_.set("connector.lab1.allow", "any");
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());
  EXPECT_NE(engineLog(*engine_, config_.dataDir).find("connector.lab1.allow = any"),
            std::string::npos);
  const std::string sample = newSampleId("ANY");
  AstmInstrument instrument(astmPort());
  EXPECT_TRUE(instrument.sendSession(buildAstmMessage({{sample, {{"GLU", "5.0", "mmol/L"}}, {}}}))
                  .complete);
  EXPECT_TRUE(waitForSample(sample));
}

/// Unframed records: "H|..." lines without E1381 framing, as some middleware sends them.
std::string unframedMessage(const std::string& sampleId) {
  std::string text;
  for (const std::string& record : buildAstmMessage({{sampleId, {{"GLU", "5.2", "mmol/L"}}, {}}})) {
    text += record + "\r\n";
  }
  return text;
}

TEST_F(SecurityConnDefaultsTest, UnframedRecordsAreIgnoredUnlessAskedFor) {
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());
  {
    AstmInstrument peer(astmPort());
    peer.sendRaw(unframedMessage(newSampleId("RAW")));
    std::this_thread::sleep_for(1500ms);
  }
  // Nothing stored; a framed message afterwards is, so the connector was listening.
  const std::string framed = newSampleId("FRAMED");
  {
    AstmInstrument instrument(astmPort());
    EXPECT_TRUE(instrument.sendSession(buildAstmMessage({{framed, {{"GLU", "5.3", "mmol/L"}}, {}}}))
                    .complete);
  }
  EXPECT_TRUE(waitForSample(framed));
  EXPECT_EQ(settledConnector("messages_accepted", 1), 1)
      << "an unframed message was taken without accept_unframed";
  EXPECT_NE(engineLog(*engine_, config_.dataDir)
                .find("ignored: connector.lab1.astm.accept_unframed is off"),
            std::string::npos)
      << "ignoring unframed records is not logged";
}

TEST_F(SecurityConnDefaultsTest, UnframedRecordsAreTakenWhenAskedFor) {
  config_.connectors[0].extra["astm.accept_unframed"] = "true";
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());
  const std::string sample = newSampleId("RAW");
  AstmInstrument peer(astmPort());
  peer.sendRaw(unframedMessage(sample));
  EXPECT_TRUE(waitForSample(sample)) << "accept_unframed = true did not take unframed records";
  peer.close();
}

}  // namespace
}  // namespace labgate::it
