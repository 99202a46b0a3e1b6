// TLS tests of the hl7-mllp source (connectors/hl7/mllp_source.h): a throwaway self-signed
// certificate made with the openssl CLI at test time, a Poco SecureStreamSocket client; TLS 1.1
// refused, client certificates required when tls.ca is set, key and certificate errors named.
#include <Poco/File.h>
#include <Poco/Net/Context.h>
#include <Poco/Net/SecureStreamSocket.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/Path.h>
#include <Poco/TemporaryFile.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <fstream>

#include "connectors/hl7/ack.h"
#include "connectors/hl7/mllp.h"
#include "connectors/hl7/mllp_source.h"

namespace labgate::hl7 {
namespace {

const std::string kMessage =
    "MSH|^~\\&|ANALYZER|LABFAC|LIS|HOSP|20250101120000||ORU^R01^ORU_R01|TLS-1|P|2.5.1\r"
    "OBR|1||S1|GLU^Glucose\rOBX|1|NM|GLU^Glucose||5.4|mmol/L|||||F\r";

uint16_t freePort() {
  Poco::Net::ServerSocket probe;
  probe.bind(Poco::Net::SocketAddress("127.0.0.1", 0), true, false);
  return probe.address().port();
}

/// A temporary folder with cert.pem/key.pem (self-signed, CN=localhost) and other.key.pem.
class TlsFiles {
 public:
  TlsFiles() {
    dir_.createDirectories();
    ok_ = run("openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost -keyout " +
              path("key.pem") + " -out " + path("cert.pem")) &&
          run("openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out " +
              path("other.key.pem"));
    std::ofstream(path("garbage.pem")) << "not a PEM file\n";
    // labgated refuses a private key group or others may read (whatever openssl's version did).
    for (const char* key : {"key.pem", "other.key.pem", "garbage.pem"})
      ::chmod(path(key).c_str(), 0600);
  }
  bool ok() const { return ok_; }
  std::string path(const std::string& name) const {
    return Poco::Path(dir_.path()).append(name).toString();
  }

 private:
  static bool run(const std::string& command) {
    return std::system((command + " >/dev/null 2>&1").c_str()) == 0;
  }
  Poco::TemporaryFile dir_;  // removed with its contents at destruction
  bool ok_ = false;
};

class MllpSourceTlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { files_ = new TlsFiles; }
  static void TearDownTestSuite() {
    delete files_;
    files_ = nullptr;
  }
  void SetUp() override {
    ASSERT_TRUE(files_->ok())
        << "the openssl CLI could not make a test certificate (scripts/setup.sh installs openssl)";
  }
  void TearDown() override {
    if (source_) source_->stop();
  }

  StatusOr<std::unique_ptr<Source>> create(KeyValues keys) {
    Registry registry;
    registerMllpSource(registry);
    port_ = freePort();
    keys.emplace("listen", "127.0.0.1:" + std::to_string(port_));
    SourceContext context;
    context.name = "secure";
    context.keys = std::move(keys);
    context.handler = [](const Envelope&, const FormatCodec&) {
      Intake intake;
      intake.outcome = Intake::Outcome::kAccepted;
      return intake;
    };
    return registry.createSource("hl7-mllp", context);
  }

  void start(KeyValues keys) {
    keys.emplace("tls.cert", files_->path("cert.pem"));
    keys.emplace("tls.key", files_->path("key.pem"));
    auto made = create(std::move(keys));
    ASSERT_TRUE(made.isOk()) << made.status().toString();
    source_ = std::move(made.value());
    Status started = source_->start();
    ASSERT_TRUE(started.isOk()) << started.toString();
  }

  /// A client context: no server verification (self-signed); optionally at most TLS 1.1, and
  /// optionally presenting the test certificate.
  static Poco::Net::Context::Ptr clientContext(bool tls11Only, bool withCertificate) {
    Poco::Net::Context::Params params;
    params.verificationMode = Poco::Net::Context::VERIFY_NONE;
    if (withCertificate) {
      params.certificateFile = files_->path("cert.pem");
      params.privateKeyFile = files_->path("key.pem");
    }
    // SECLEVEL=0 lets this client offer TLS 1.1, so that it is the server that refuses it.
    if (tls11Only) params.cipherList = "DEFAULT:@SECLEVEL=0";
    Poco::Net::Context::Ptr context =
        new Poco::Net::Context(Poco::Net::Context::TLS_CLIENT_USE, params);
    if (tls11Only)
      context->disableProtocols(Poco::Net::Context::PROTO_TLSV1_2 |
                                Poco::Net::Context::PROTO_TLSV1_3);
    return context;
  }

  /// Sends kMessage over TLS and returns the ACK code, or "" when the connection failed.
  std::string exchange(const Poco::Net::Context::Ptr& context) {
    try {
      Poco::Net::SecureStreamSocket socket(Poco::Net::SocketAddress("127.0.0.1", port_), context);
      socket.setReceiveTimeout(Poco::Timespan(20, 0));
      std::string bytes = frameMllp(kMessage);
      socket.sendBytes(bytes.data(), static_cast<int>(bytes.size()));
      MllpDecoder decoder;
      char buffer[4096];
      while (true) {
        int n = socket.receiveBytes(buffer, sizeof buffer);
        if (n <= 0) return "";
        auto frames = decoder.feed(std::string_view(buffer, static_cast<size_t>(n)));
        if (frames.empty()) continue;
        auto ack = parseAck(frames[0]);
        return ack.isOk() ? ack->code : "unparsable";
      }
    } catch (const Poco::Exception&) {
      return "";
    }
  }

  static TlsFiles* files_;
  std::unique_ptr<Source> source_;
  uint16_t port_ = 0;
};

TlsFiles* MllpSourceTlsTest::files_ = nullptr;

TEST_F(MllpSourceTlsTest, AcceptsOverTls) {
  start({});
  EXPECT_EQ(exchange(clientContext(false, false)), "AA");
  EXPECT_TRUE(source_->health()->getValue<bool>("tls"));
  EXPECT_EQ(source_->health()->getValue<int64_t>("messages_accepted"), 1);
}

TEST_F(MllpSourceTlsTest, RefusesTls11) {
  start({});
  EXPECT_EQ(exchange(clientContext(true, false)), "");
  EXPECT_EQ(exchange(clientContext(false, false)), "AA") << "the server carries on";
}

TEST_F(MllpSourceTlsTest, PlainClientGetsNothingAndTheServerCarriesOn) {
  start({});
  {
    Poco::Net::StreamSocket plain(Poco::Net::SocketAddress("127.0.0.1", port_));
    plain.setReceiveTimeout(Poco::Timespan(20, 0));
    std::string bytes = frameMllp(kMessage);
    plain.sendBytes(bytes.data(), static_cast<int>(bytes.size()));
    char buffer[512];
    int n = 0;
    try {
      n = plain.receiveBytes(buffer, sizeof buffer);  // a TLS alert or a close, never an ACK
    } catch (const Poco::Exception&) {
    }
    EXPECT_EQ(std::string(buffer, n > 0 ? static_cast<size_t>(n) : 0).find("MSA|"),
              std::string::npos);
  }
  EXPECT_EQ(exchange(clientContext(false, false)), "AA");
  EXPECT_EQ(source_->health()->getValue<int64_t>("messages_accepted"), 1);
}

TEST_F(MllpSourceTlsTest, CaRequiresAClientCertificate) {
  start({{"tls.ca", files_->path("cert.pem")}});  // self-signed: its own CA
  EXPECT_EQ(exchange(clientContext(false, false)), "");
  EXPECT_EQ(exchange(clientContext(false, true)), "AA");
}

TEST_F(MllpSourceTlsTest, BadKeyOrCertificateIsNamed) {
  auto location = [this](const std::string& cert, const std::string& key) {
    auto made = create({{"tls.cert", files_->path(cert)}, {"tls.key", files_->path(key)}});
    return made.isOk() ? std::string("ok") : made.status().location();
  };
  EXPECT_EQ(location("cert.pem", "key.pem"), "ok");
  EXPECT_EQ(location("garbage.pem", "key.pem"), "connector.secure.tls.cert");
  EXPECT_EQ(location("cert.pem", "garbage.pem"), "connector.secure.tls.key");
  EXPECT_EQ(location("cert.pem", "other.key.pem"), "connector.secure.tls.key");
  EXPECT_EQ(location("missing.pem", "key.pem"), "connector.secure.tls.cert");
}

}  // namespace
}  // namespace labgate::hl7
