// The HL7 inbound side of the integration-test harness (see harness_hl7.h): MLLP framing, the
// plain and TLS clients, the ORU builder, the ACK reader and the hl7-mllp fixture.
#include "tests/integration/harness_hl7.h"

#include <Poco/Exception.h>
#include <Poco/Net/NetException.h>
#include <Poco/Pipe.h>
#include <Poco/Process.h>
#include <sys/stat.h>

#include <algorithm>
#include <mutex>
#include <thread>

namespace labgate::it {

// ---------------------------------------------------------------------------------------------
// Framing

namespace mllp {

std::string frame(const std::string& message) {
  std::string framed;
  framed.reserve(message.size() + 3);
  framed += kVt;
  framed.append(message);
  framed += kFs;
  framed += kCr;
  return framed;
}

namespace {

/// Cuts the first complete frame out of `buffer` (dropping bytes before its VT). Returns false
/// when no complete frame is there yet; bytes before a VT are dropped either way.
bool takeFrame(std::string& buffer, std::string* contents) {
  const size_t start = buffer.find(kVt);
  if (start == std::string::npos) {
    buffer.clear();
    return false;
  }
  if (start > 0) buffer.erase(0, start);
  const size_t end = buffer.find(std::string{kFs, kCr}, 1);
  if (end == std::string::npos) return false;
  *contents = buffer.substr(1, end - 1);
  buffer.erase(0, end + 2);
  return true;
}

}  // namespace

std::vector<std::string> frames(const std::string& bytes) {
  std::vector<std::string> found;
  std::string buffer = bytes;
  std::string contents;
  while (takeFrame(buffer, &contents)) found.push_back(contents);
  return found;
}

}  // namespace mllp

// ---------------------------------------------------------------------------------------------
// ACKs

bool Hl7Ack::wellFormed() const {
  auto segments = hl7Segments(raw);
  if (segments.empty() || segments[0].rfind("MSH|", 0) != 0) return false;
  return messageType.rfind("ACK", 0) == 0 && !segmentsNamed(raw, "MSA").empty();
}

std::string Hl7Ack::humanText() const {
  std::string text = this->text;
  for (const auto& err : errSegments) {
    auto fields = hl7Fields(err);
    for (size_t i = 1; i < fields.size(); ++i) {
      if (i == 2) continue;  // ERR-2, the coded location
      text.append(" ").append(fields[i]);
    }
  }
  return text;
}

Hl7Ack parseAck(const std::string& message) {
  Hl7Ack ack;
  ack.raw = message;
  auto segments = hl7Segments(message);
  if (!segments.empty()) ack.messageType = hl7Field(segments[0], 9);
  auto msa = segmentsNamed(message, "MSA");
  if (!msa.empty()) {
    ack.code = hl7Field(msa[0], 1);
    ack.controlId = hl7Field(msa[0], 2);
    ack.text = hl7Field(msa[0], 3);
  }
  ack.errSegments = segmentsNamed(message, "ERR");
  if (!ack.errSegments.empty()) {
    const std::string& err = ack.errSegments[0];
    ack.errLocation = hl7Field(err, 2);
    ack.errCode = component(hl7Field(err, 3), 1);
    ack.errSeverity = hl7Field(err, 4);
  }
  return ack;
}

// ---------------------------------------------------------------------------------------------
// Test messages

std::string buildOru(const OruSpec& spec, const std::string& segmentEnd) {
  std::vector<std::string> segments;
  std::string msh = "MSH|^~\\&|";
  msh.append(spec.sendingApp)
      .append("|")
      .append(spec.sendingFacility)
      .append("|LABGATE|LAB|20260115103000||")
      .append(spec.messageType)
      .append("|")
      .append(spec.controlId)
      .append("|P|2.5.1|||")
      .append(spec.acceptAck)
      .append("|")
      .append(spec.appAck);
  segments.push_back(msh);
  segments.insert(segments.end(), spec.patientSegments.begin(), spec.patientSegments.end());
  std::string obr = "OBR|1|";
  obr.append("P")
      .append(spec.sampleId)
      .append("|")
      .append(spec.sampleId)
      .append("|24323-8^Metabolic panel^LN|||20260115094500");
  segments.push_back(obr);
  int setId = 0;
  for (const auto& r : spec.results) {
    std::string obx = "OBX|";
    obx.append(std::to_string(++setId))
        .append("|NM|")
        .append(r.code)
        .append("^")
        .append(r.code)
        .append("^L||")
        .append(r.value)
        .append("|")
        .append(r.units)
        .append("|||||F|||20260115100000");
    segments.push_back(obx);
  }
  segments.insert(segments.end(), spec.trailingSegments.begin(), spec.trailingSegments.end());
  std::string text;
  for (const auto& s : segments) text.append(s).append(segmentEnd);
  return text;
}

// ---------------------------------------------------------------------------------------------
// Plain TCP client

MllpClient::MllpClient(int port, std::chrono::milliseconds connectTimeout) {
  socket_.connect(Poco::Net::SocketAddress("127.0.0.1", static_cast<Poco::UInt16>(port)),
                  toTimespan(connectTimeout));
  socket_.setNoDelay(true);
}

MllpClient::~MllpClient() { close(); }

void MllpClient::send(const std::string& message) { sendRaw(mllp::frame(message)); }

void MllpClient::sendRaw(const std::string& bytes) {
  size_t sent = 0;
  while (sent < bytes.size()) {
    int n = socket_.sendBytes(bytes.data() + sent, static_cast<int>(bytes.size() - sent));
    if (n <= 0) throw Poco::IOException("MLLP client: send failed");
    sent += static_cast<size_t>(n);
  }
}

std::optional<std::string> MllpClient::readFrame(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  char chunk[8192];
  for (;;) {
    std::string contents;
    if (mllp::takeFrame(buffer_, &contents)) return contents;
    if (peerClosed_) return std::nullopt;
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left <= 0ms) return std::nullopt;
    try {
      if (!socket_.poll(toTimespan(std::min(left, 200ms)), Poco::Net::Socket::SELECT_READ))
        continue;
      int n = socket_.receiveBytes(chunk, sizeof chunk);
      if (n <= 0) {
        peerClosed_ = true;
      } else {
        buffer_.append(chunk, static_cast<size_t>(n));
      }
    } catch (const Poco::TimeoutException&) {
    } catch (const Poco::Exception&) {
      peerClosed_ = true;
    }
  }
}

std::optional<Hl7Ack> MllpClient::readAck(std::chrono::milliseconds timeout) {
  auto frame = readFrame(timeout);
  if (!frame) return std::nullopt;
  return parseAck(*frame);
}

std::optional<Hl7Ack> MllpClient::exchange(const std::string& message,
                                           std::chrono::milliseconds timeout) {
  send(message);
  return readAck(timeout);
}

void MllpClient::close() {
  try {
    socket_.close();
  } catch (const Poco::Exception&) {
  }
}

// ---------------------------------------------------------------------------------------------
// TLS through the openssl CLI

namespace {

void drainInto(Poco::Pipe pipe, std::string* out, std::mutex* mutex) {
  char chunk[4096];
  try {
    for (;;) {
      int n = pipe.readBytes(chunk, sizeof chunk);
      if (n <= 0) break;
      std::lock_guard<std::mutex> lock(*mutex);
      out->append(chunk, static_cast<size_t>(n));
    }
  } catch (const Poco::Exception&) {
  }
}

}  // namespace

TlsExchange tlsExchange(int port, const std::string& caFile, const std::string& bytes,
                        size_t expectedFrames, std::chrono::milliseconds timeout) {
  TlsExchange result;
  const std::string openssl = findProgram("openssl");
  if (openssl.empty()) return result;
  Poco::Pipe in, out, err;
  const std::string address = std::string("127.0.0.1:").append(std::to_string(port));
  Poco::Process::Args args{
      "s_client", "-quiet", "-connect", address, "-CAfile", caFile, "-verify_return_error"};
  std::unique_ptr<Poco::ProcessHandle> handle;
  try {
    handle = std::make_unique<Poco::ProcessHandle>(
        Poco::Process::launch(openssl, args, &in, &out, &err));
  } catch (const Poco::Exception& e) {
    result.diagnostics = e.displayText();
    return result;
  }
  result.launched = true;
  std::mutex mutex;
  std::string received;
  std::string errors;
  std::thread outThread(drainInto, out, &received, &mutex);
  std::thread errThread(drainInto, err, &errors, &mutex);
  try {
    in.writeBytes(bytes.data(), static_cast<int>(bytes.size()));
  } catch (const Poco::Exception&) {
  }
  waitUntil(
      [&] {
        std::lock_guard<std::mutex> lock(mutex);
        return mllp::frames(received).size() >= expectedFrames;
      },
      timeout, 50ms);
  in.close();
  try {
    if (Poco::Process::isRunning(*handle)) Poco::Process::kill(*handle);
    handle->wait();
  } catch (const Poco::Exception&) {
  }
  outThread.join();
  errThread.join();
  result.frames = mllp::frames(received);
  result.diagnostics = errors.size() > 600 ? errors.substr(0, 600) : errors;
  return result;
}

bool makeSelfSignedCert(const std::string& dir, const std::string& certPath,
                        const std::string& keyPath, std::string* why) {
  const std::string openssl = findProgram("openssl");
  if (openssl.empty()) {
    if (why) *why = "openssl CLI not installed";
    return false;
  }
  ProgramRun run =
      runProgram(openssl,
                 {"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                  "-nodes", "-keyout", keyPath, "-out", certPath, "-days", "2", "-subj",
                  "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"},
                 30000ms, dir);
  if (!run.finished || run.exitCode != 0 || !fileExists(certPath) || !fileExists(keyPath)) {
    if (why) {
      why->assign("openssl req failed (status ")
          .append(std::to_string(run.exitCode))
          .append("): ")
          .append(run.err);
    }
    return false;
  }
  // labgated refuses a private key group or others may read (whatever openssl's version did).
  return ::chmod(keyPath.c_str(), 0600) == 0;
}

std::string findProgram(const std::string& name) {
  for (const char* dir : {"/usr/bin/", "/usr/local/bin/", "/bin/"}) {
    std::string path = std::string(dir) + name;
    if (fileExists(path)) return path;
  }
  return {};
}

// ---------------------------------------------------------------------------------------------
// Fixture

void Hl7EngineTest::SetUp() {
  EngineTest::SetUp();
  ConnectorConfig connector;
  connector.name = kConnector;
  connector.kind = "hl7-mllp";
  connector.port = freePort();
  connector.mappings = defaultMappingsPath();
  connector.extra["max_message_bytes"] = "1048576";
  connector.extra["hl7.sample_id_field"] = "OBR-3";
  config_.connectors = {connector};
  // The ASTM-only keys the config writer emits for every connector; the contract for hl7-mllp
  // does not list them.
  const std::string prefix = std::string("connector.") + kConnector + ".";
  config_.omit(prefix + "astm.receive_timeout_seconds");
  config_.omit(prefix + "instrument");
}

long Hl7EngineTest::settledHl7(const std::string& key, long expected,
                               std::chrono::milliseconds timeout) {
  long value = -1;
  waitUntil([&] { return (value = health().connector(kConnector, key)) == expected; }, timeout,
            100ms);
  return value;
}

std::string Hl7EngineTest::newControlId(const std::string& tag) {
  return tag + std::to_string(70000 + ++controlCounter_);
}

OruSpec Hl7EngineTest::cleanOru(const std::string& sampleId) {
  OruSpec spec;
  spec.controlId = newControlId();
  spec.sampleId = sampleId;
  spec.results = {{"GLU", "5.6", "mmol/L"}};
  return spec;
}

Hl7Ack Hl7EngineTest::sendExpecting(const std::string& message, const std::string& controlId,
                                    const std::string& code, const std::string& label) {
  MllpClient client(hl7Port());
  auto ack = client.exchange(message);
  if (!ack) {
    ADD_FAILURE() << label << ": no ACK within 20 s"
                  << (client.peerClosed() ? " (connection closed by the engine)" : "");
    return {};
  }
  EXPECT_TRUE(ack->wellFormed()) << label << ": the answer is not an HL7 ACK (MSH-9 '"
                                 << ack->messageType << "')";
  EXPECT_EQ(ack->code, code) << label << ": MSA-1 (ERR-2 '" << ack->errLocation << "', ERR-3 '"
                             << ack->errCode << "')";
  EXPECT_EQ(ack->controlId, controlId) << label << ": MSA-2 must echo MSH-10";
  return *ack;
}

}  // namespace labgate::it
