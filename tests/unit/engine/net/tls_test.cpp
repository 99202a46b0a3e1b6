// Tests for engine/net/tls: the TLS files of https.listen and of TLS connectors are checked
// before use, and every problem names the key and the file and says in words what is wrong (never
// the TLS library's error text); a private key that group or others may read is refused, as
// security.key_file is. Throwaway EC keys and certificates are made with the openssl CLI.
#include "engine/net/tls.h"

#include <Poco/Path.h>
#include <Poco/TemporaryFile.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <string>
#include <vector>

#include "engine/metrics/metrics.h"

namespace labgate {
namespace {

/// A folder with cert.pem and key.pem (self-signed, CN=localhost, mode 0600), other.key.pem (a
/// key of another certificate), encrypted.key.pem (under a passphrase) and garbage.pem.
class TlsFiles {
 public:
  TlsFiles() {
    dir_.createDirectories();
    const std::string ec = " -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 ";
    ok_ = run("openssl req -x509" + ec + "-nodes -days 1 -subj /CN=localhost -keyout " +
              path("key.pem") + " -out " + path("cert.pem")) &&
          run("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:prime256v1 -out " +
              path("other.key.pem")) &&
          run("openssl pkey -in " + path("key.pem") + " -aes256 -passout pass:secret -out " +
              path("encrypted.key.pem"));
    std::ofstream(path("garbage.pem")) << "not a PEM file\n";
    for (const char* name : {"key.pem", "other.key.pem", "encrypted.key.pem", "garbage.pem"}) {
      ::chmod(path(name).c_str(), 0600);
    }
  }
  bool ok() const { return ok_; }
  std::string path(const std::string& name) const {
    return Poco::Path(dir_.path()).append(name).toString();
  }

 private:
  static bool run(const std::string& command) {
    return std::system((command + " >/dev/null 2>&1").c_str()) == 0;
  }
  Poco::TemporaryFile dir_;
  bool ok_ = false;
};

class TlsContextTest : public ::testing::Test {
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
  static std::string path(const std::string& name) { return files_->path(name); }

  /// makeTlsContext with prefix "connector.secure." and tls.cert/tls.key (and tls.ca) named.
  static StatusOr<Poco::Net::Context::Ptr> make(const std::string& cert, const std::string& key,
                                                const std::string& ca = "") {
    KeyValues keys{{"tls.cert", cert}, {"tls.key", key}};
    if (!ca.empty()) keys.emplace("tls.ca", ca);
    return makeTlsContext("connector.secure.", keys);
  }

  /// Expects a refusal at `location` whose reason contains every one of `words`, and no text of
  /// the TLS library (OpenSSL error codes look like "error:0A080009:..." and name "routines").
  static void expectRefused(const StatusOr<Poco::Net::Context::Ptr>& made,
                            const std::string& location, const std::vector<std::string>& words) {
    ASSERT_FALSE(made.isOk()) << location;
    EXPECT_EQ(made.status().code(), Status::Code::kConfig);
    EXPECT_EQ(made.status().location(), location) << made.status().toString();
    const std::string reason = made.status().reason();
    for (const auto& w : words) {
      EXPECT_NE(reason.find(w), std::string::npos) << "\"" << w << "\" not in: " << reason;
    }
    EXPECT_EQ(reason.find("error:"), std::string::npos) << reason;
    EXPECT_EQ(reason.find("routines"), std::string::npos) << reason;
    EXPECT_EQ(reason.find("SSL"), std::string::npos) << reason;
  }

  static TlsFiles* files_;
};
TlsFiles* TlsContextTest::files_ = nullptr;

TEST_F(TlsContextTest, A0600KeyAndItsCertificateMakeAContext) {
  StatusOr<Poco::Net::Context::Ptr> made = make(path("cert.pem"), path("key.pem"));
  ASSERT_TRUE(made.isOk()) << made.status().toString();
  EXPECT_FALSE(made.value().isNull());
  ::chmod(path("key.pem").c_str(), 0400);
  EXPECT_TRUE(make(path("cert.pem"), path("key.pem")).isOk());
  ::chmod(path("key.pem").c_str(), 0600);
  // With a CA (the self-signed certificate is its own).
  EXPECT_TRUE(make(path("cert.pem"), path("key.pem"), path("cert.pem")).isOk());
}

// The private key's mode: the rule of security.key_file (group and others get nothing).
TEST_F(TlsContextTest, AKeyReadableByGroupOrOthersIsRefusedNamingTheFileAndChmod) {
  const std::string key = path("key.pem");
  for (mode_t mode : {0644, 0640, 0604, 0660}) {
    ASSERT_EQ(::chmod(key.c_str(), mode), 0);
    char octal[8];
    std::snprintf(octal, sizeof octal, "%04o", static_cast<unsigned>(mode));
    expectRefused(make(path("cert.pem"), key), "connector.secure.tls.key",
                  {key, std::string("mode ") + octal, "chmod 600 " + key});
  }
  ASSERT_EQ(::chmod(key.c_str(), 0600), 0);
  // The certificate is public: 0644 is fine.
  ASSERT_EQ(::chmod(path("cert.pem").c_str(), 0644), 0);
  EXPECT_TRUE(make(path("cert.pem"), key).isOk());
}

TEST_F(TlsContextTest, FileProblemsNameTheKeyAndThePathInWords) {
  const std::string missing = path("missing.pem");
  expectRefused(make(missing, path("key.pem")), "connector.secure.tls.cert",
                {missing, "does not exist"});
  expectRefused(make(path("cert.pem"), missing), "connector.secure.tls.key",
                {missing, "does not exist"});
  expectRefused(make(path("cert.pem"), path("key.pem"), missing), "connector.secure.tls.ca",
                {missing, "does not exist"});
  const std::string dir = Poco::Path(path("cert.pem")).parent().toString();
  expectRefused(make(dir, path("key.pem")), "connector.secure.tls.cert", {"is a directory"});
  expectRefused(make(path("garbage.pem"), path("key.pem")), "connector.secure.tls.cert",
                {path("garbage.pem"), "holds no PEM certificate"});
  expectRefused(make(path("cert.pem"), path("garbage.pem")), "connector.secure.tls.key",
                {path("garbage.pem"), "holds no PEM private key"});
  expectRefused(make(path("cert.pem"), path("key.pem"), path("garbage.pem")),
                "connector.secure.tls.ca", {path("garbage.pem"), "holds no PEM certificate"});
  expectRefused(
      make(path("cert.pem"), path("other.key.pem")), "connector.secure.tls.key",
      {path("other.key.pem"), "does not belong to the certificate in " + path("cert.pem")});
  // A key under a passphrase: labgated runs unattended and never prompts (nor blocks on stdin).
  expectRefused(make(path("cert.pem"), path("encrypted.key.pem")), "connector.secure.tls.key",
                {path("encrypted.key.pem"), "encrypted with a passphrase"});
  // The certificate where the key belongs (a common slip).
  ASSERT_EQ(::chmod(path("cert.pem").c_str(), 0600), 0);
  expectRefused(make(path("cert.pem"), path("cert.pem")), "connector.secure.tls.key",
                {path("cert.pem"), "holds no PEM private key"});
}

// Issue 19: the certificate's notAfter is exported for the alert on a certificate about to expire
// (labgate_tls_certificate_expiry_seconds{context}); the test certificate is valid for one day.
TEST_F(TlsContextTest, TheCertificatesExpiryIsExportedPerContext) {
  ASSERT_TRUE(make(path("cert.pem"), path("key.pem")).isOk());
  ASSERT_TRUE(
      makeTlsContext("", {{"tls.cert", path("cert.pem")}, {"tls.key", path("key.pem")}}).isOk());
  const std::string scrape = metrics::registry().render();
  const double now = static_cast<double>(std::time(nullptr));
  for (const std::string context : {"connector.secure", "api"}) {
    const std::string series =
        "labgate_tls_certificate_expiry_seconds{context=\"" + context + "\"} ";
    const size_t at = scrape.find(series);
    ASSERT_NE(at, std::string::npos) << series << "not in:\n" << scrape;
    const double expires = std::stod(scrape.substr(at + series.size()));
    EXPECT_NEAR(expires - now, 86400.0, 600.0) << context;
  }
}

}  // namespace
}  // namespace labgate
