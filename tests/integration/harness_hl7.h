// Integration-test harness, HL7 inbound side: an MLLP client that plays an HL7 instrument (plain
// TCP, or TLS through the openssl CLI), an ORU^R01 builder for test messages, an ACK reader, and
// the fixture with one hl7-mllp connector "hl7in" feeding the fake LIS. Written from the HL7 v2.5.1
// rules in shared/spec/protocols.md §3, independently of connectors/hl7, so that a shared mistake
// cannot make the suite green.
//
// Test output rule (as in harness.h): helpers never print message contents, because the PHI
// fixtures carry (invented) patient-identifying values; failures name fields, codes and counts.
#pragma once

#include <Poco/Net/StreamSocket.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "tests/integration/harness.h"

namespace labgate::it {

namespace mllp {
inline constexpr char kVt = 0x0b;  // start block
inline constexpr char kFs = 0x1c;  // end block (followed by CR)
inline constexpr char kCr = 0x0d;
/// VT message FS CR.
std::string frame(const std::string& message);
/// The contents of every complete frame in `bytes`, in order (bytes outside frames skipped).
std::vector<std::string> frames(const std::string& bytes);
}  // namespace mllp

/// One received acknowledgement, split into the fields the tests assert on.
struct Hl7Ack {
  std::string raw;          // the frame's contents
  std::string messageType;  // MSH-9
  std::string code;         // MSA-1 (AA, AE, AR, CA, CE, CR)
  std::string controlId;    // MSA-2
  std::string text;         // MSA-3
  std::string errLocation;  // ERR-2 of the first ERR (e.g. PID^1^5)
  std::string errCode;      // ERR-3 component 1 of the first ERR (table 0357, e.g. 200)
  std::string errSeverity;  // ERR-4 of the first ERR
  std::vector<std::string> errSegments;

  /// MSH first, MSH-9 an ACK, an MSA present.
  bool wellFormed() const;
  /// Everything after MSA-1 that is meant for people (MSA-3 and every ERR field but ERR-2), to
  /// search for "PID-5" and rule ids.
  std::string humanText() const;
};

Hl7Ack parseAck(const std::string& message);

/// An ORU^R01 test message: MSH, the caller's patient-level segments, one OBR with the sample id
/// in OBR-3 and the placer number in OBR-2, one NM OBX per result, then the caller's trailing
/// segments (NTE, TX OBX...).
struct OruSpec {
  std::string sendingApp = "ANALYZER";
  std::string sendingFacility = "LAB-A";
  std::string controlId;
  std::string messageType = "ORU^R01^ORU_R01";
  std::string acceptAck;  // MSH-15 (empty: original mode)
  std::string appAck;     // MSH-16
  std::vector<std::string> patientSegments;
  std::string sampleId;
  std::vector<TestResult> results;
  std::vector<std::string> trailingSegments;
};

/// Segments joined with `segmentEnd` (CR by default; LF and CRLF for the tolerance tests), the
/// last one terminated too.
std::string buildOru(const OruSpec& spec, const std::string& segmentEnd = "\r");

/// An HL7 sender over plain TCP: frames out, frames in, on one connection.
class MllpClient {
 public:
  explicit MllpClient(int port, std::chrono::milliseconds connectTimeout = 5000ms);
  ~MllpClient();
  MllpClient(const MllpClient&) = delete;
  MllpClient& operator=(const MllpClient&) = delete;

  /// Sends `message` framed.
  void send(const std::string& message);
  /// Sends bytes as they are (garbage, hand-made frames, partial frames).
  void sendRaw(const std::string& bytes);
  /// The next complete frame's contents; std::nullopt after `timeout` or when the peer closed.
  std::optional<std::string> readFrame(std::chrono::milliseconds timeout = 20000ms);
  std::optional<Hl7Ack> readAck(std::chrono::milliseconds timeout = 20000ms);
  /// send + readAck.
  std::optional<Hl7Ack> exchange(const std::string& message,
                                 std::chrono::milliseconds timeout = 20000ms);
  /// True once a read saw the connection closed (or reset) by the engine.
  bool peerClosed() const { return peerClosed_; }
  void close();

 private:
  Poco::Net::StreamSocket socket_;
  std::string buffer_;
  bool peerClosed_ = false;
};

/// What the openssl s_client run through the TLS port brought back.
struct TlsExchange {
  bool launched = false;
  std::vector<std::string> frames;  // contents of the frames received
  std::string diagnostics;          // s_client's stderr (handshake errors), for failure messages
};

/// Sends `bytes` (already framed) through `openssl s_client -quiet` to 127.0.0.1:port, verifying
/// the server against `caFile`, and collects frames until `expectedFrames` arrived or `timeout`
/// passed. The s_client process is killed afterwards.
TlsExchange tlsExchange(int port, const std::string& caFile, const std::string& bytes,
                        size_t expectedFrames, std::chrono::milliseconds timeout);

/// A self-signed certificate (CN and subjectAltName 127.0.0.1) and its unencrypted key, made with
/// the openssl CLI in `dir`. Returns false (with openssl's stderr in `why`) on failure.
bool makeSelfSignedCert(const std::string& dir, const std::string& certPath,
                        const std::string& keyPath, std::string* why);

/// Path of a program if it is installed (checked in /usr/bin, /usr/local/bin, /bin), else "".
std::string findProgram(const std::string& name);

// ---------------------------------------------------------------------------------------------
// Fixture: the EngineTest setup with its ASTM connector replaced by one hl7-mllp connector.

class Hl7EngineTest : public EngineTest {
 protected:
  static constexpr const char* kConnector = "hl7in";

  void SetUp() override;

  int hl7Port() const { return config_.connectors.at(0).port; }
  ConnectorConfig& hl7Connector() { return config_.connectors.at(0); }
  /// A counter of connector hl7in once it equals `expected`, or its value after `timeout`.
  long settledHl7(const std::string& key, long expected,
                  std::chrono::milliseconds timeout = 10000ms);
  /// A control id unique within this test run.
  std::string newControlId(const std::string& tag = "CTL");
  /// A clean ORU^R01 (no PID) with one glucose result for `sampleId`.
  OruSpec cleanOru(const std::string& sampleId);
  /// Sends `message` on a fresh connection; expects one ACK with `code` whose MSA-2 is the
  /// message's control id. Returns the ACK (empty on failure, with a test failure recorded).
  Hl7Ack sendExpecting(const std::string& message, const std::string& controlId,
                       const std::string& code, const std::string& label);
  /// Number of times `sampleId` reached the LIS (OBR-3).
  size_t deliveredCount(const std::string& sampleId) const {
    return timesReceived(lis_->messages(), sampleId);
  }
  std::string databasePath() const { return config_.dataDir + "/labgate.db"; }

  int controlCounter_ = 0;
};

}  // namespace labgate::it
