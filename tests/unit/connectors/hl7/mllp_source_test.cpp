// Tests of the hl7-mllp source (connectors/hl7/mllp_source.h): the real server on a loopback port
// with a fake pipeline (IntakeHandler) and a real socket client, plain and TLS. The fake decides
// each message's outcome by its MSH-10 prefix, so every ACK path is reachable.
#include "connectors/hl7/mllp_source.h"

#include <Poco/Net/Context.h>
#include <Poco/Net/SecureStreamSocket.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/TemporaryFile.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <thread>

#include "connectors/hl7/ack.h"
#include "connectors/hl7/mllp.h"

namespace labgate::hl7 {
namespace {

constexpr const char* kSecretName = "DOE^JOHNNY";  // what a refused message must never echo

/// An ORU^R01 with control id `id` (and MSH-15/16 when given).
std::string oru(const std::string& id, const std::string& msh15 = "",
                const std::string& msh16 = "") {
  std::string m = "MSH|^~\\&|ANALYZER|LABFAC|LIS|HOSP|20250101120000||ORU^R01^ORU_R01|";
  m.append(id).append("|P|2.5.1|||").append(msh15).append("|").append(msh16).append("\r");
  m.append("PID|1||||").append(kSecretName).append("\r");
  m.append("OBR|1||S1|GLU^Glucose\rOBX|1|NM|GLU^Glucose||5.4|mmol/L|||||F\r");
  return m;
}

/// A port nobody listens on right now (the kernel's pick for port 0; listen keys need 1-65535).
uint16_t freePort() {
  Poco::Net::ServerSocket probe;
  probe.bind(Poco::Net::SocketAddress("127.0.0.1", 0), true, false);
  return probe.address().port();
}

/// The fake pipeline: outcome by control id prefix; remembers every envelope.
struct FakePipeline {
  std::mutex mutex;
  std::vector<Envelope> seen;
  std::vector<std::string> tags;  // the format tag of the codec each envelope came with

  std::vector<std::string> builtControlIds;  // what the connector's codec made of MSG-* messages

  Intake operator()(const Envelope& envelope, const FormatCodec& codec) {
    {
      std::lock_guard<std::mutex> lock(mutex);
      seen.push_back(envelope);
      tags.push_back(codec.formatTag());
    }
    size_t at = envelope.bytes.find("ORU_R01|");
    std::string id = at == std::string::npos ? "" : envelope.bytes.substr(at + 8, 4);
    Intake intake;
    intake.outcome = Intake::Outcome::kAccepted;
    if (id == "REF-") {
      intake.outcome = Intake::Outcome::kRefused;
      intake.status =
          Status::phiRefused("PID-5", "patient-identifying data (PID-5 (structural.PID-5))");
    } else if (id == "INV-") {
      intake.outcome = Intake::Outcome::kInvalid;
      intake.status = Status::invalid("OBX(1)-2", "unknown value type");
    } else if (id == "UNS-") {
      intake.outcome = Intake::Outcome::kInvalid;
      intake.status = Status::rejected("MSH-9", "not a result message");
    } else if (id == "DUP-") {
      intake.outcome = Intake::Outcome::kDuplicate;
    } else if (id == "MSG-") {  // the real parser and builder behind the connector's codec
      auto document = codec.parse(envelope.bytes);
      auto message = document.isOk() ? codec.build(document.value()) : document.status();
      if (!message.isOk()) {
        intake.outcome = Intake::Outcome::kInvalid;
        intake.status = message.status();
      } else {
        std::lock_guard<std::mutex> lock(mutex);
        builtControlIds.push_back(message->controlId);
      }
    } else if (id == "FAI-") {
      intake.outcome = Intake::Outcome::kFailed;
      intake.status = Status::io("store", "database is locked");
    }
    return intake;
  }
};

class MllpSourceTest : public ::testing::Test {
 protected:
  void TearDown() override {
    if (source_) source_->stop();
  }

  /// Creates and starts the source on 127.0.0.1 and a free port.
  Status start(KeyValues keys = {}) {
    keys.emplace("kind", "hl7-mllp");
    keys.emplace("listen", "127.0.0.1:" + std::to_string(freePort()));
    StatusOr<std::unique_ptr<Source>> made = create(keys);
    if (!made.isOk()) return made.status();
    source_ = std::move(made.value());
    Status started = source_->start();
    if (!started.isOk()) return started;
    std::string listen = source_->health()->getValue<std::string>("listen");
    port_ = static_cast<uint16_t>(std::stoi(listen.substr(listen.rfind(':') + 1)));
    return started;
  }

  StatusOr<std::unique_ptr<Source>> create(const KeyValues& keys) {
    Registry registry;
    registerMllpSource(registry);
    SourceContext context;
    context.name = "hl7in";
    context.instrument = "analyzer1";
    context.keys = keys;
    context.handler = [this](const Envelope& e, const FormatCodec& c) { return fake_(e, c); };
    EXPECT_TRUE(registry.deduplicates("hl7-mllp"));
    return registry.createSource("hl7-mllp", context);
  }

  Poco::Net::StreamSocket connect() {
    Poco::Net::StreamSocket socket(Poco::Net::SocketAddress("127.0.0.1", port_));
    socket.setReceiveTimeout(Poco::Timespan(20, 0));
    return socket;
  }

  int64_t counter(const std::string& key) { return source_->health()->getValue<int64_t>(key); }

  /// Waits (bounded, generously) until the health counter reaches `value`.
  bool waitFor(const std::string& key, int64_t value) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < deadline) {
      if (counter(key) >= value) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }

  FakePipeline fake_;
  std::unique_ptr<Source> source_;
  uint16_t port_ = 0;
};

void sendAll(Poco::Net::StreamSocket& socket, const std::string& bytes) {
  socket.sendBytes(bytes.data(), static_cast<int>(bytes.size()));
}

/// Reads `count` MLLP frames (ACKs) from the socket; fewer when the peer closes or times out.
std::vector<std::string> readAcks(Poco::Net::StreamSocket& socket, size_t count) {
  MllpDecoder decoder;
  std::vector<std::string> acks;
  char buffer[4096];
  while (acks.size() < count) {
    int n = 0;
    try {
      n = socket.receiveBytes(buffer, sizeof buffer);
    } catch (const Poco::Exception&) {
      break;
    }
    if (n <= 0) break;
    for (auto& f : decoder.feed(std::string_view(buffer, static_cast<size_t>(n))))
      acks.push_back(std::move(f));
  }
  return acks;
}

AckInfo parsed(const std::string& ack) {
  auto info = parseAck(ack);
  EXPECT_TRUE(info.isOk()) << info.status().toString();
  return info.isOk() ? info.value() : AckInfo();
}

TEST_F(MllpSourceTest, AcceptedMessageGetsAaAfterThePipeline) {
  ASSERT_TRUE(start().isOk());
  auto socket = connect();
  sendAll(socket, frameMllp(oru("MSG-1")));
  auto acks = readAcks(socket, 1);
  ASSERT_EQ(acks.size(), 1u);
  AckInfo ack = parsed(acks[0]);
  EXPECT_EQ(ack.code, "AA");
  EXPECT_EQ(ack.controlId, "MSG-1");
  EXPECT_EQ(ack.sendingApplication, "LIS") << "LabGate answers as the message's MSH-5";
  EXPECT_EQ(ack.version, "2.5.1");
  EXPECT_NE(acks[0].find("|ANALYZER|LABFAC|"), std::string::npos) << acks[0];
  EXPECT_NE(acks[0].find("|ACK^R01^ACK|"), std::string::npos);
  ASSERT_EQ(fake_.seen.size(), 1u);
  EXPECT_EQ(fake_.tags[0], "hl7") << "the pipeline stores the codec's format tag";
  EXPECT_EQ(fake_.seen[0].bytes, oru("MSG-1"));
  EXPECT_EQ(fake_.seen[0].connectorId, "hl7in");
  ASSERT_EQ(fake_.builtControlIds.size(), 1u);
  EXPECT_EQ(fake_.builtControlIds[0], "MSG-1") << "the codec wraps parseHl7 and buildMessage";
  EXPECT_EQ(counter("messages_accepted"), 1);
}

TEST_F(MllpSourceTest, RefusedMessageGetsArNamingTheFieldAndNothingOfTheText) {
  ASSERT_TRUE(start().isOk());
  auto socket = connect();
  sendAll(socket, frameMllp(oru("REF-1")));
  auto acks = readAcks(socket, 1);
  ASSERT_EQ(acks.size(), 1u);
  AckInfo ack = parsed(acks[0]);
  EXPECT_EQ(ack.code, "AR");
  EXPECT_EQ(ack.controlId, "REF-1");
  EXPECT_NE(acks[0].find("\rERR||PID^1^5|207^"), std::string::npos) << acks[0];
  EXPECT_NE(acks[0].find("structural.PID-5"), std::string::npos);
  for (const char* value : {"DOE", "JOHNNY", "GLU", "5.4", "S1", "20250101120000"})
    EXPECT_EQ(acks[0].find(value), std::string::npos) << value << " echoed in " << acks[0];
  EXPECT_EQ(counter("messages_refused_phi"), 1);
  EXPECT_EQ(counter("messages_refused"), 1);
}

TEST_F(MllpSourceTest, InvalidUnsupportedAndFailedMessages) {
  ASSERT_TRUE(start().isOk());
  auto socket = connect();
  sendAll(socket, frameMllp(oru("INV-1")) + frameMllp(oru("UNS-1")) + frameMllp(oru("FAI-1")));
  auto acks = readAcks(socket, 3);
  ASSERT_EQ(acks.size(), 3u);
  AckInfo invalid = parsed(acks[0]), unsupported = parsed(acks[1]), failed = parsed(acks[2]);
  EXPECT_EQ(invalid.code, "AE");
  EXPECT_NE(acks[0].find("ERR||OBX^1^2|102^"), std::string::npos) << acks[0];
  EXPECT_NE(acks[0].find("unknown value type"), std::string::npos);
  EXPECT_EQ(unsupported.code, "AR");
  EXPECT_NE(acks[1].find("ERR||MSH^1^9|200^"), std::string::npos) << acks[1];
  EXPECT_EQ(failed.code, "AR");
  EXPECT_NE(acks[2].find("|207^"), std::string::npos) << acks[2];
  EXPECT_NE(acks[2].find("again later"), std::string::npos);
  EXPECT_EQ(counter("messages_invalid"), 2);
  EXPECT_EQ(counter("messages_failed"), 1);
  EXPECT_EQ(counter("messages_refused"), 2);
}

TEST_F(MllpSourceTest, DuplicateIsAcknowledgedAa) {
  ASSERT_TRUE(start().isOk());
  auto socket = connect();
  sendAll(socket, frameMllp(oru("DUP-1")));
  auto acks = readAcks(socket, 1);
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_EQ(parsed(acks[0]).code, "AA");
  EXPECT_EQ(counter("messages_duplicate"), 1);
  EXPECT_EQ(counter("messages_accepted"), 0);
}

TEST_F(MllpSourceTest, EnhancedModeSendsAcceptThenApplicationAck) {
  ASSERT_TRUE(start().isOk());
  auto socket = connect();
  sendAll(socket, frameMllp(oru("MSG-2", "AL", "AL")) + frameMllp(oru("INV-2", "AL", "SU")) +
                      frameMllp(oru("MSG-3", "NE", "AL")));
  auto acks = readAcks(socket, 4);
  ASSERT_EQ(acks.size(), 4u);
  EXPECT_EQ(parsed(acks[0]).code, "CA");
  EXPECT_EQ(parsed(acks[1]).code, "AA");
  EXPECT_EQ(parsed(acks[2]).code, "CE");
  EXPECT_EQ(parsed(acks[2]).controlId, "INV-2");
  EXPECT_EQ(parsed(acks[3]).code, "AA");
  EXPECT_EQ(parsed(acks[3]).controlId, "MSG-3");
  EXPECT_NE(parsed(acks[0]).controlId, "") << "each ACK answers MSG-2";
  EXPECT_NE(acks[0].substr(0, acks[0].find("\rMSA")), acks[1].substr(0, acks[1].find("\rMSA")))
      << "each ACK has its own MSH-10";
}

TEST_F(MllpSourceTest, BatchInOneFrameGetsOneAckPerMessage) {
  ASSERT_TRUE(start().isOk());
  auto socket = connect();
  std::string batch =
      "FHS|^~\\&|ANALYZER\rBHS|^~\\&|ANALYZER\r" + oru("MSG-4") + oru("REF-4") + "BTS|2\rFTS|1\r";
  sendAll(socket, frameMllp(batch));
  auto acks = readAcks(socket, 2);
  ASSERT_EQ(acks.size(), 2u);
  EXPECT_EQ(parsed(acks[0]).code, "AA");
  EXPECT_EQ(parsed(acks[0]).controlId, "MSG-4");
  EXPECT_EQ(parsed(acks[1]).code, "AR");
  EXPECT_EQ(parsed(acks[1]).controlId, "REF-4");
  EXPECT_EQ(fake_.seen.size(), 2u);
}

TEST_F(MllpSourceTest, OversizeFrameGetsArAndTheConnectionStaysUsable) {
  ASSERT_TRUE(start({{"max_message_bytes", "2048"}}).isOk());
  auto socket = connect();
  std::string big = oru("BIG-1") + "NTE|1||" + std::string(5000, 'x') + "\r";
  sendAll(socket, frameMllp(big) + frameMllp(oru("MSG-5")));
  auto acks = readAcks(socket, 2);
  ASSERT_EQ(acks.size(), 2u);
  AckInfo tooLarge = parsed(acks[0]);
  EXPECT_EQ(tooLarge.code, "AR");
  EXPECT_EQ(tooLarge.controlId, "");
  EXPECT_NE(acks[0].find("2048"), std::string::npos) << acks[0];
  EXPECT_EQ(parsed(acks[1]).code, "AA");
  EXPECT_EQ(parsed(acks[1]).controlId, "MSG-5");
  EXPECT_EQ(counter("frames_dropped"), 1);
  EXPECT_EQ(fake_.seen.size(), 1u) << "the oversize message never reached the pipeline";
}

TEST_F(MllpSourceTest, GarbageBetweenFramesAndSplitReadsAreHandled) {
  ASSERT_TRUE(start().isOk());
  auto socket = connect();
  std::string stream =
      "noise\r\n\x1C\r" + frameMllp(oru("MSG-6")) + "\r\n\xFF junk" + frameMllp(oru("MSG-7"));
  for (size_t i = 0; i < stream.size(); i += 7) {  // in small pieces
    sendAll(socket, stream.substr(i, 7));
  }
  auto acks = readAcks(socket, 2);
  ASSERT_EQ(acks.size(), 2u);
  EXPECT_EQ(parsed(acks[0]).controlId, "MSG-6");
  EXPECT_EQ(parsed(acks[1]).controlId, "MSG-7");
  EXPECT_EQ(parsed(acks[1]).code, "AA");
}

TEST_F(MllpSourceTest, UnreadableHeaderGetsAeWithEmptyMsa2) {
  ASSERT_TRUE(start().isOk());
  auto socket = connect();
  sendAll(socket, frameMllp("this is not HL7\r") + frameMllp(oru("MSG-8")));
  auto acks = readAcks(socket, 2);
  ASSERT_EQ(acks.size(), 2u);
  AckInfo bad = parsed(acks[0]);
  EXPECT_EQ(bad.code, "AE");
  EXPECT_EQ(bad.controlId, "");
  EXPECT_NE(acks[0].find("ERR||MSH"), std::string::npos) << acks[0];
  EXPECT_EQ(acks[0].find("this is not"), std::string::npos);
  EXPECT_EQ(parsed(acks[1]).code, "AA");
  EXPECT_EQ(counter("messages_invalid"), 1);
}

TEST_F(MllpSourceTest, StalledPeerLosesOnlyItsPartialFrame) {
  ASSERT_TRUE(start({{"receive_timeout_seconds", "1"}}).isOk());
  auto stalled = connect();
  sendAll(stalled, "\x0B" + oru("MSG-9").substr(0, 30));
  auto other = connect();
  sendAll(other, frameMllp(oru("MSG-10")));
  auto acks = readAcks(other, 1);
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_EQ(parsed(acks[0]).code, "AA");
  ASSERT_TRUE(waitFor("frames_dropped", 1));
  sendAll(stalled, frameMllp(oru("MSG-11")));  // the stalled connection still works
  acks = readAcks(stalled, 1);
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_EQ(parsed(acks[0]).controlId, "MSG-11");
  {
    auto quitter = connect();
    sendAll(quitter, "\x0B" + oru("MSG-12").substr(0, 30));
  }
  EXPECT_TRUE(waitFor("frames_dropped", 2));
  EXPECT_TRUE(waitFor("messages_accepted", 2));
}

TEST_F(MllpSourceTest, HealthReportsTheConnector) {
  ASSERT_TRUE(start().isOk());
  auto health = source_->health();
  EXPECT_EQ(health->getValue<std::string>("name"), "hl7in");
  EXPECT_EQ(health->getValue<std::string>("kind"), "hl7-mllp");
  EXPECT_EQ(health->getValue<std::string>("state"), "listening");
  EXPECT_FALSE(health->getValue<bool>("tls"));
  for (const char* key :
       {"connections", "messages_accepted", "messages_duplicate", "messages_refused",
        "messages_refused_phi", "messages_invalid", "messages_failed", "frames_dropped"})
    EXPECT_TRUE(health->has(key)) << key;
  {
    auto socket = connect();
    EXPECT_TRUE(waitFor("connections", 1));
  }
  source_->stop();
  EXPECT_EQ(source_->health()->getValue<std::string>("state"), "stopped");
}

TEST_F(MllpSourceTest, ConfigurationErrorsNameTheKey) {
  auto fails = [this](KeyValues keys, const std::string& key) {
    keys.emplace("kind", "hl7-mllp");
    auto made = create(keys);
    ASSERT_FALSE(made.isOk()) << key;
    EXPECT_EQ(made.status().code(), Status::Code::kConfig);
    EXPECT_EQ(made.status().location(), "connector.hl7in." + key) << made.status().toString();
  };
  fails({}, "listen");
  fails({{"listen", "127.0.0.1:9"}, {"colour", "blue"}}, "colour");
  fails({{"listen", "127.0.0.1:9"}, {"max_message_bytes", "ten"}}, "max_message_bytes");
  fails({{"listen", "127.0.0.1:9"}, {"receive_timeout_seconds", "0"}}, "receive_timeout_seconds");
  fails({{"listen", "127.0.0.1:9"}, {"max_connections", "0"}}, "max_connections");
  fails({{"listen", "127.0.0.1:9"}, {"idle_timeout_seconds", "-1"}}, "idle_timeout_seconds");
  fails({{"listen", "127.0.0.1:9"}, {"idle_timeout_seconds", "86401"}}, "idle_timeout_seconds");
  fails({{"listen", "127.0.0.1:9"}, {"tls_handshake_timeout_seconds", "0"}},
        "tls_handshake_timeout_seconds");
  EXPECT_TRUE(create({{"kind", "hl7-mllp"},
                      {"listen", "127.0.0.1:9"},
                      {"idle_timeout_seconds", "0"},
                      {"tls_handshake_timeout_seconds", "300"}})
                  .isOk());
  fails({{"listen", "127.0.0.1:9"}, {"tls.cert", "/nonexistent/cert.pem"}}, "tls.key");
  fails({{"listen", "127.0.0.1:9"}, {"tls.key", "/nonexistent/key.pem"}}, "tls.cert");
  fails({{"listen", "127.0.0.1:9"}, {"tls.cert", "/nonexistent/c.pem"}, {"tls.key", "/x/k.pem"}},
        "tls.cert");
  fails({{"listen", "127.0.0.1:9"}, {"tls.ca", "/nonexistent/ca.pem"}}, "tls.ca");
  KeyValues engineKeys = {
      {"listen", "127.0.0.1:9"}, {"kind", "hl7-mllp"},     {"instrument", "a"}, {"mappings", "m"},
      {"destinations", "d"},     {"phi.policy", "refuse"}, {"org", "o"}};
  EXPECT_TRUE(create(engineKeys).isOk());
}

TEST_F(MllpSourceTest, SecondSourceOnTheSamePortFailsLoudly) {
  ASSERT_TRUE(start().isOk());
  auto second = create({{"kind", "hl7-mllp"}, {"listen", "127.0.0.1:" + std::to_string(port_)}});
  ASSERT_TRUE(second.isOk());
  Status started = second.value()->start();
  EXPECT_EQ(started.code(), Status::Code::kConfig);
  EXPECT_EQ(started.location(), "connector.hl7in.listen");
}

}  // namespace
}  // namespace labgate::hl7
