// The browser console served by the real labgated (issue 15, server/console.h): the page and its
// bundle at / on the HTTP and HTTPS listeners, with a Content-Security-Policy that forbids inline
// scripts and styles and framing, revalidation by ETag, 405 for other methods, 404 for anything
// that is not the console's, console.dir serving a folder and refused at start when it holds no
// index.html. The browser itself is exercised by tests/e2e (ctest console_browser).
#include <filesystem>

#include "tests/integration/accounts_test_support.h"

namespace labgate::it::accounts {
namespace {

class ConsoleServingTest : public AccountsTest {};

void expectConsoleHeaders(const ApiResponse& r, const std::string& what) {
  const std::string csp = r.header("Content-Security-Policy");
  EXPECT_NE(csp.find("script-src 'self'"), std::string::npos) << what << ": " << csp;
  EXPECT_NE(csp.find("style-src 'self'"), std::string::npos) << what << ": " << csp;
  EXPECT_NE(csp.find("frame-ancestors 'none'"), std::string::npos) << what << ": " << csp;
  EXPECT_EQ(csp.find("unsafe-inline"), std::string::npos) << what << ": " << csp;
  EXPECT_EQ(csp.find("unsafe-eval"), std::string::npos) << what << ": " << csp;
  EXPECT_EQ(r.header("X-Frame-Options"), "DENY") << what;
  EXPECT_EQ(r.header("Referrer-Policy"), "no-referrer") << what;
  EXPECT_EQ(r.header("X-Content-Type-Options"), "nosniff") << what;
  EXPECT_FALSE(r.header("ETag").empty()) << what;
}

TEST_F(ConsoleServingTest, ThePageAndItsBundleAreServedOnBothListenersUnderTheirPolicy) {
  ASSERT_NO_FATAL_FAILURE(startEngine());
  const ApiClient plain(config_.httpPort);
  for (const ApiClient* client : std::initializer_list<const ApiClient*>{&plain, &api_}) {
    const std::string listener = client->https() ? "https" : "http";
    ApiResponse page = client->get("/");
    ASSERT_EQ(page.status, 200) << listener << ": " << page.describe();
    EXPECT_EQ(page.contentType(), "text/html; charset=utf-8") << listener;
    EXPECT_NE(page.body.find("<script src=\"/assets/app.js\""), std::string::npos) << listener;
    // No inline script or style in the page: the policy would refuse it.
    EXPECT_EQ(page.body.find("<script>"), std::string::npos) << listener;
    EXPECT_EQ(page.body.find("<style"), std::string::npos) << listener;
    EXPECT_EQ(page.body.find("style=\""), std::string::npos) << listener;
    expectConsoleHeaders(page, listener + " /");
    if (client->https()) {
      EXPECT_FALSE(page.header("Strict-Transport-Security").empty()) << "HSTS over TLS";
    }

    ApiResponse js = client->get("/assets/app.js");
    ASSERT_EQ(js.status, 200) << listener << ": " << js.describe();
    EXPECT_EQ(js.contentType(), "text/javascript; charset=utf-8");
    EXPECT_GT(js.body.size(), 1000U) << "the bundle is suspiciously small";
    ApiResponse css = client->get("/assets/app.css");
    ASSERT_EQ(css.status, 200) << listener << ": " << css.describe();
    EXPECT_EQ(css.contentType(), "text/css; charset=utf-8");
    expectConsoleHeaders(css, listener + " /assets/app.css");
  }
}

TEST_F(ConsoleServingTest, RevalidationHeadOtherMethodsAndUnknownPaths) {
  ASSERT_NO_FATAL_FAILURE(startEngine());
  ApiResponse js = api_.get("/assets/app.js");
  ASSERT_EQ(js.status, 200) << js.describe();
  const std::string etag = js.header("ETag");
  EXPECT_EQ(js.header("Cache-Control"), "no-cache");

  ApiResponse again = api_.get("/assets/app.js", {{"If-None-Match", etag}});
  EXPECT_EQ(again.status, 304) << again.describe();
  EXPECT_TRUE(again.body.empty());
  ApiResponse stale = api_.get("/assets/app.js", {{"If-None-Match", "\"0000\""}});
  EXPECT_EQ(stale.status, 200);

  ApiResponse head = api_.request("HEAD", "/");
  EXPECT_EQ(head.status, 200) << head.describe();
  EXPECT_TRUE(head.body.empty());
  EXPECT_FALSE(head.header("Content-Length").empty());

  ApiResponse post = api_.post("/", "x", {{"Content-Type", "text/plain"}});
  EXPECT_EQ(post.status, 405) << post.describe();
  EXPECT_EQ(post.header("Allow"), "GET, HEAD");

  for (const std::string path : {"/assets/nothing.js", "/assets/index.html", "/assets/../app.js",
                                 "/assets/", "/console", "/index.htm"}) {
    ApiResponse r = api_.get(path);
    EXPECT_EQ(r.status, 404) << path << ": " << r.describe();
    EXPECT_EQ(r.contentType(), "application/problem+json") << path;
  }
  // The API and the health endpoints are not the console's.
  EXPECT_EQ(api_.get("/api/v1/me").status, 401);
  EXPECT_EQ(api_.get("/health").status, 200);
}

TEST_F(ConsoleServingTest, ConsoleDirServesAFolderAndMustHoldAnIndex) {
  namespace fs = std::filesystem;
  const std::string dir = tmp_->path() + "/console";
  fs::create_directories(dir);
  writeFile(dir + "/index.html", "<!doctype html><title>custom build</title>");
  writeFile(dir + "/app.js", "/* a developer's build */");
  writeFile(dir + "/.hidden.js", "secret");
  config_.set("console.dir", dir);
  ASSERT_NO_FATAL_FAILURE(startEngine());
  ApiResponse page = api_.get("/");
  ASSERT_EQ(page.status, 200) << page.describe();
  EXPECT_NE(page.body.find("custom build"), std::string::npos);
  expectConsoleHeaders(page, "console.dir /");
  EXPECT_EQ(api_.get("/assets/app.js").body, "/* a developer's build */");
  EXPECT_EQ(api_.get("/assets/.hidden.js").status, 404);
  EXPECT_EQ(api_.get("/assets/app.css").status, 404) << "not in the folder";
  stopEngine();

  fs::remove(dir + "/index.html");
  config_.write(configPath_);
  ProgramRun run =
      runProgram(binDir() + "/labgated", {"--config", configPath_}, 20000ms, tmp_->path());
  ASSERT_TRUE(run.finished);
  EXPECT_NE(run.exitCode, 0);
  EXPECT_NE(run.err.find("console.dir: " + dir + " has no readable index.html"), std::string::npos)
      << run.err.substr(0, 400);
}

// What the console's pages need from the API beyond the other endpoints: which instrument and
// mapping set a connector runs (unmapped codes link to their set), and whether activating a
// mapping set asks for a signature (the dialog asks for the password only then).
TEST_F(ConsoleServingTest, ConnectorsNameTheirInstrumentAndMappingSet) {
  ASSERT_NO_FATAL_FAILURE(startEngine());
  const std::string token = api_.login("default", "admin", kTestAdminPassword);
  ASSERT_FALSE(token.empty());
  ApiResponse connectors = api_.get("/api/v1/connectors", withBearer(token));
  ASSERT_EQ(connectors.status, 200) << connectors.describe();
  std::string set;
  for (size_t i = 0; i < connectors.items()->size(); ++i) {
    Poco::JSON::Object::Ptr c = connectors.items()->getObject(static_cast<unsigned>(i));
    if (c->getValue<std::string>("name") != "up1") continue;
    EXPECT_EQ(c->getValue<std::string>("instrument"), "qqq-01");
    set = c->getValue<std::string>("mapping_set");
  }
  ASSERT_FALSE(set.empty()) << "connector up1 names no mapping set";
  ApiResponse detail = api_.get("/api/v1/mapping-sets/" + set, withBearer(token));
  ASSERT_EQ(detail.status, 200) << detail.describe();
  EXPECT_TRUE(detail.flag("activation_signature_required", false));
}

}  // namespace
}  // namespace labgate::it::accounts
