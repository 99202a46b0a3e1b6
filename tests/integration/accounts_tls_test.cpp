// Accounts against the real labgated: TLS: versions 1.3 and 1.2 accepted, 1.1 refused; plain HTTP
// off loopback. Fixture and helpers: accounts_test_support.h.
#include "tests/integration/accounts_test_support.h"

namespace labgate::it::accounts {
namespace {

// ---------------------------------------------------------------------------------------------
// 9. TLS

TEST_F(AccountsTest, HttpsAcceptsTls13And12AndRefusesTls11) {
  if (findProgram("openssl").empty())
    GTEST_FAIL() << "the openssl CLI is not installed; scripts/setup.sh installs it";
  const int httpsPort = httpsPort_;  // every test of this fixture talks HTTPS (SetUp)
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());

  TlsProbe v13 = probeTls(httpsPort, {"-tls1_3"}, tmp_->path());
  ASSERT_TRUE(v13.launched);
  EXPECT_TRUE(v13.handshake) << v13.output;
  EXPECT_EQ(v13.protocol, "TLSv1.3") << v13.output;
  TlsProbe v12 = probeTls(httpsPort, {"-tls1_2"}, tmp_->path());
  EXPECT_TRUE(v12.handshake) << v12.output;
  EXPECT_EQ(v12.protocol, "TLSv1.2") << v12.output;
  // The client allows TLS 1.1 and every cipher: a failure is the server's refusal.
  TlsProbe v11 = probeTls(httpsPort, {"-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"}, tmp_->path());
  ASSERT_TRUE(v11.launched);
  EXPECT_FALSE(v11.handshake) << v11.output;
  EXPECT_NE(v11.output.find("alert protocol version"), std::string::npos)
      << "the server did not answer TLS 1.1 with a protocol_version alert: " << v11.output;

  // The API itself over HTTPS.
  const ApiClient secure(httpsPort, true);
  ApiResponse r;
  const std::string token = secure.login("default", "admin", kTestAdminPassword, "", &r);
  ASSERT_FALSE(token.empty()) << r.describe();
  rememberToken(token);
  EXPECT_EQ(secure.get("/api/v1/me", withBearer(token)).status, 200);
  EXPECT_EQ(secure.get("/api/v1/me").status, 401);
}

TEST_F(AccountsTest, PlainHttpOnANonLoopbackAddressNeedsAllowRemote) {
  config_.set("http.listen", "0.0.0.0:" + std::to_string(config_.httpPort));
  config_.write(configPath_);
  EngineProcess engine(configPath_, config_.httpPort, tmp_->path());
  std::string why;
  EXPECT_FALSE(engine.start(30000ms, &why)) << "labgated served plain HTTP on 0.0.0.0";
  auto status = engine.exitStatus();
  ASSERT_TRUE(status.has_value()) << why;
  EXPECT_NE(*status, 0);
  const std::string err = engine.stderrText();
  EXPECT_NE(err.find("http.listen"), std::string::npos) << "stderr does not name http.listen";
  EXPECT_NE(err.find("http.allow_remote"), std::string::npos)
      << "stderr does not name http.allow_remote";
}

}  // namespace
}  // namespace labgate::it::accounts
