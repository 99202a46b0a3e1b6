// The QA staff's command line (issue 13) through the real labgated and the real `labgate`
// binary: login (password on stdin, the token file 0600 under XDG_CONFIG_HOME), batches, show
// batch, sign reviewed, another user signs approved, logout ending the session on the server; a
// wrong password exits 1 with the server's message and keeps no session; login and logout with
// --json; batches page by page (--limit, --before, the next page's command, --all).
//
// Test output rule: failures print the command's output, which never holds a password; tokens
// are not printed.
#include <Poco/JSON/Parser.h>
#include <Poco/Pipe.h>
#include <Poco/PipeStream.h>
#include <Poco/Process.h>
#include <Poco/StreamCopier.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <thread>

extern char** environ;  // NOLINT(readability-redundant-declaration)

#include "tests/integration/accounts_test_support.h"

namespace labgate::it::accounts {
namespace {

struct CliRun {
  int exitCode = -1;
  std::string out;
  std::string err;
};

/// Runs `labgate args` on a pseudo-terminal (stdin, stdout and stderr), XDG_CONFIG_HOME set to
/// `configHome`; types `secret` and Enter once `prompt` has appeared. Everything the terminal
/// showed is in `out`. exitCode -1 when the run did not finish within two minutes.
CliRun labgateOnTerminal(const std::vector<std::string>& args, const std::string& configHome,
                         const std::string& prompt, const std::string& secret) {
  CliRun run;
  const int master = posix_openpt(O_RDWR | O_NOCTTY);
  if (master < 0 || grantpt(master) != 0 || unlockpt(master) != 0) return run;
  const std::string slaveName = ptsname(master);  // NOLINT(concurrency-mt-unsafe)
  // Everything the child needs is prepared before fork(): after it only async-signal-safe calls.
  const std::string program = binDir() + "/labgate";
  std::vector<std::string> argStrings{program};
  argStrings.insert(argStrings.end(), args.begin(), args.end());
  std::vector<char*> argv;
  argv.reserve(argStrings.size() + 1);
  for (std::string& a : argStrings) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> envStrings{"XDG_CONFIG_HOME=" + configHome};
  for (char** e = environ; *e != nullptr; ++e) {
    if (std::strncmp(*e, "XDG_CONFIG_HOME=", 16) != 0) envStrings.emplace_back(*e);
  }
  std::vector<char*> envp;
  envp.reserve(envStrings.size() + 1);
  for (std::string& e : envStrings) envp.push_back(e.data());
  envp.push_back(nullptr);
  const pid_t pid = fork();
  if (pid == 0) {
    setsid();
    const int slave = open(slaveName.c_str(), O_RDWR);  // becomes the controlling terminal
    if (slave < 0) _exit(127);
    dup2(slave, 0);
    dup2(slave, 1);
    dup2(slave, 2);
    close(master);
    execve(program.c_str(), argv.data(), envp.data());
    _exit(127);
  }
  if (pid < 0) {
    close(master);
    return run;
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(2);
  bool typed = false;
  char buffer[4096];
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{master, POLLIN, 0};
    if (poll(&p, 1, 200) <= 0) continue;
    const ssize_t n = read(master, buffer, sizeof buffer);
    if (n <= 0) break;  // EIO: the child closed the terminal
    run.out.append(buffer, static_cast<size_t>(n));
    if (!typed && run.out.find(prompt) != std::string::npos) {
      const std::string line = secret + "\n";
      typed = write(master, line.data(), line.size()) == static_cast<ssize_t>(line.size());
    }
  }
  // The terminal closes a moment before the child has exited: wait for it (until the deadline)
  // rather than take "not exited yet" for a hang.
  int status = 0;
  pid_t waited = 0;
  while ((waited = waitpid(pid, &status, WNOHANG)) == 0 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (waited == 0) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
  } else if (waited == pid && WIFEXITED(status)) {
    run.exitCode = WEXITSTATUS(status);
  }
  close(master);
  return run;
}

class QaCliTest : public AccountsTest {
 protected:
  /// Runs `labgate args` with `input` on stdin and XDG_CONFIG_HOME=`configHome`.
  static CliRun labgate(const std::vector<std::string>& args, const std::string& input,
                        const std::string& configHome) {
    Poco::Pipe inPipe;
    Poco::Pipe outPipe;
    Poco::Pipe errPipe;
    Poco::Process::Env env{{"XDG_CONFIG_HOME", configHome}};
    Poco::ProcessHandle handle =
        Poco::Process::launch(binDir() + "/labgate", args, ".", &inPipe, &outPipe, &errPipe, env);
    CliRun run;
    std::thread errReader([&] {
      Poco::PipeInputStream errStream(errPipe);
      Poco::StreamCopier::copyToString(errStream, run.err);
    });
    {
      Poco::PipeOutputStream in(inPipe);
      in << input;
      in.close();
    }
    Poco::PipeInputStream outStream(outPipe);
    Poco::StreamCopier::copyToString(outStream, run.out);
    errReader.join();
    run.exitCode = handle.wait();
    return run;
  }

  std::string server() const { return "http://127.0.0.1:" + std::to_string(config_.httpPort); }

  CliRun login(const Account& who, const std::string& password, const std::string& configHome) {
    return labgate({"login", "--server", server(), "--org", who.org, "--user", who.username},
                   password + "\n", configHome);
  }

  /// One ASTM message through lab1 with a mapped and an unmapped (held) result; its batch id.
  int64_t heldBatch(const std::string& token, const std::string& sampleId) {
    AstmInstrument instrument(astmPort());
    Transfer t = instrument.sendSession(buildAstmMessage(
        {{sampleId, {{"GLU", "5.1", "mmol/L"}, {"ZZNOTMAPPED", "12", "U/L"}}, {}}}));
    EXPECT_TRUE(t.complete) << "the instrument's message was not acknowledged";
    const std::string row = sampleRowId(token, sampleId);
    if (row.empty()) return 0;
    ApiResponse sample = api_.get("/api/v1/samples/" + row, withBearer(token));
    return sample.number("message_id", 0);
  }

  static std::string sessionFile(const std::string& configHome) {
    return configHome + "/labgate/session.json";
  }

  static int modeOf(const std::string& path) {
    struct stat st {};
    if (stat(path.c_str(), &st) != 0) return -1;
    return static_cast<int>(st.st_mode & 07777);
  }
};

TEST_F(QaCliTest, LoginBatchesShowSignReviewedThenAnotherUserApproves) {
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());
  const std::string admin = adminToken();
  const Account reviewer = createAccount(admin, "cr", {"qa-reviewer"});
  const Account approver = createAccount(admin, "ca", {"qa-approver"});
  const int64_t held = heldBatch(reviewer.token, newSampleId("CQ"));
  ASSERT_GT(held, 0);
  const std::string id = std::to_string(held);
  const std::string homeR = tmp_->path() + "/config-reviewer";
  const std::string homeA = tmp_->path() + "/config-approver";

  CliRun r = login(reviewer, reviewer.password, homeR);
  ASSERT_EQ(r.exitCode, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("logged in"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find(reviewer.password), std::string::npos) << "the password was printed";
  EXPECT_EQ(modeOf(sessionFile(homeR)), 0600)
      << "the token file must be readable by its owner only";
  EXPECT_EQ(modeOf(homeR + "/labgate"), 0700);

  r = labgate({"batches", "--state", "held"}, "", homeR);
  ASSERT_EQ(r.exitCode, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("STATE"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(id + " "), std::string::npos) << "held batch " << id << " not listed:\n"
                                                     << r.out;
  r = labgate({"batches", "--state", "released", "--json"}, "", homeR);
  ASSERT_EQ(r.exitCode, 0) << r.out << r.err;
  {
    ApiResponse parsed;
    parsed.body = r.out;
    parsed.status = 200;
    parsed.json = Poco::JSON::Parser().parse(r.out).extract<Poco::JSON::Object::Ptr>();
    EXPECT_FALSE(idsOf(parsed).count(id)) << "a held batch listed as released";
  }
  r = labgate({"batches", "--state", "waiting"}, "", homeR);
  EXPECT_EQ(r.exitCode, 1) << "an unknown state is refused by the server";
  EXPECT_NE(r.err.find("400"), std::string::npos) << r.err;

  const std::string recordBefore =
      api_.get("/api/v1/batches/" + id, withBearer(reviewer.token)).text("record_sha256");
  r = labgate({"show", "batch", id}, "", homeR);
  ASSERT_EQ(r.exitCode, 0) << r.out << r.err;
  for (const std::string& shown :
       {std::string("batch ") + id, std::string("state held"), std::string("mapping.unmapped"),
        std::string("ZZNOTMAPPED"), std::string("WAITING"), std::string("measured"),
        std::string("limit"), std::string("unit"), "record_sha256 " + recordBefore}) {
    EXPECT_NE(r.out.find(shown), std::string::npos) << "show batch lacks \"" << shown << "\":\n"
                                                    << r.out;
  }

  r = labgate({"sign", "batch", id, "--meaning", "reviewed"}, reviewer.password + "\n", homeR);
  ASSERT_EQ(r.exitCode, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("reviewed by Test " + reviewer.username), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("(UTC)"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find(reviewer.password), std::string::npos) << "the password was printed";

  // The same person may not approve (distinct signers): the server's reason, exit 1.
  r = labgate({"sign", "batch", id, "--meaning", "approved"}, reviewer.password + "\n", homeR);
  EXPECT_EQ(r.exitCode, 1) << r.out << r.err;

  r = login(approver, approver.password, homeA);
  ASSERT_EQ(r.exitCode, 0) << r.out << r.err;
  r = labgate({"sign", "batch", id, "--meaning", "approved", "--json"}, approver.password + "\n",
              homeA);
  ASSERT_EQ(r.exitCode, 0) << r.out << r.err;
  auto sig = Poco::JSON::Parser().parse(r.out).extract<Poco::JSON::Object::Ptr>();
  EXPECT_EQ(str(sig, "meaning"), "approved");
  EXPECT_EQ(str(sig, "signer"), approver.username);

  ApiResponse after = api_.get("/api/v1/batches/" + id, withBearer(reviewer.token));
  EXPECT_EQ(after.text("state"), "released") << after.describe();
  r = labgate({"show", "batch", id}, "", homeA);
  ASSERT_EQ(r.exitCode, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("reviewed by Test " + reviewer.username), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("approved by Test " + approver.username), std::string::npos) << r.out;

  // logout ends the session on the server and removes the file.
  const std::string fileText = readFile(sessionFile(homeR));
  auto session = Poco::JSON::Parser().parse(fileText).extract<Poco::JSON::Object::Ptr>();
  const std::string token = str(session, "token");
  ASSERT_FALSE(token.empty());
  EXPECT_EQ(api_.get("/api/v1/me", withBearer(token)).status, 200);
  r = labgate({"logout"}, "", homeR);
  ASSERT_EQ(r.exitCode, 0) << r.out << r.err;
  EXPECT_EQ(modeOf(sessionFile(homeR)), -1) << "the session file is still there";
  EXPECT_EQ(api_.get("/api/v1/me", withBearer(token)).status, 401) << "the session still works";
  r = labgate({"batches"}, "", homeR);
  EXPECT_EQ(r.exitCode, 1);
  EXPECT_NE(r.err.find("not logged in"), std::string::npos) << r.err;
}

TEST_F(QaCliTest, WrongPasswordExitsOneWithTheServersMessage) {
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());
  const std::string admin = adminToken();
  const Account reviewer = createAccount(admin, "cw", {"qa-reviewer"});
  const std::string home = tmp_->path() + "/config-wrong";

  CliRun r = login(reviewer, reviewer.password + "x", home);
  EXPECT_EQ(r.exitCode, 1) << r.out << r.err;
  EXPECT_NE(r.err.find("401"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("the organisation, user name or password is wrong"), std::string::npos)
      << r.err;
  EXPECT_EQ(modeOf(sessionFile(home)), -1) << "a refused login kept a session file";

  // A signature with a wrong password: refused by the server, exit 1, its detail printed.
  r = login(reviewer, reviewer.password, home);
  ASSERT_EQ(r.exitCode, 0) << r.out << r.err;
  const int64_t held = heldBatch(reviewer.token, newSampleId("CW"));
  ASSERT_GT(held, 0);
  r = labgate({"sign", "batch", std::to_string(held), "--meaning", "reviewed"},
              "not-the-password\n", home);
  EXPECT_EQ(r.exitCode, 1) << r.out << r.err;
  EXPECT_NE(r.err.find("403"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("the password is wrong"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("not-the-password"), std::string::npos) << "the password was printed";

  // A session the server has ended: exit 1 saying so; logout still removes the file.
  auto session =
      Poco::JSON::Parser().parse(readFile(sessionFile(home))).extract<Poco::JSON::Object::Ptr>();
  const std::string token = str(session, "token");
  ASSERT_FALSE(token.empty());
  ApiResponse ended = api_.del("/api/v1/sessions/current", withBearer(token));
  ASSERT_TRUE(ended.ok()) << ended.describe();
  r = labgate({"batches"}, "", home);
  EXPECT_EQ(r.exitCode, 1) << r.out << r.err;
  EXPECT_NE(r.err.find("401"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("the session has ended"), std::string::npos) << r.err;
  r = labgate({"logout"}, "", home);
  EXPECT_EQ(r.exitCode, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("already ended"), std::string::npos) << r.out;
  EXPECT_EQ(modeOf(sessionFile(home)), -1);

  // Usage errors: 2, everywhere.
  EXPECT_EQ(labgate({"sign", "batch", "x", "--meaning", "reviewed"}, "", home).exitCode, 2);
  EXPECT_EQ(labgate({"show", "sample", "1"}, "", home).exitCode, 2);
  EXPECT_EQ(labgate({"batches", "--colour"}, "", home).exitCode, 2);
  EXPECT_EQ(labgate({"login", "--server", server()}, "", home).exitCode, 2);
  EXPECT_EQ(labgate({"logout", "now"}, "", home).exitCode, 2);
  for (const char* command : {"login", "logout", "batches", "show", "sign"}) {
    CliRun help = labgate({command, "--help"}, "", home);
    EXPECT_EQ(help.exitCode, 0) << command;
    EXPECT_NE(help.out.find("usage: labgate"), std::string::npos) << command;
  }
}

TEST_F(QaCliTest, PasswordFromATerminalIsNotEchoed) {
  ASSERT_NO_FATAL_FAILURE(startEngine());
  const std::string admin = adminToken();
  const Account reviewer = createAccount(admin, "ct", {"qa-reviewer"});
  const std::string home = tmp_->path() + "/config-terminal";
  CliRun r = labgateOnTerminal(
      {"login", "--server", server(), "--org", reviewer.org, "--user", reviewer.username}, home,
      "Password: ", reviewer.password);
  ASSERT_EQ(r.exitCode, 0) << "the terminal showed:\n" << r.out;
  EXPECT_NE(r.out.find("Password: "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("logged in"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find(reviewer.password), std::string::npos) << "the password was echoed";
  EXPECT_EQ(modeOf(sessionFile(home)), 0600);
}

TEST_F(QaCliTest, TotpCodeWhenTheServerAsksForIt) {
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());
  const std::string admin = adminToken();
  Account reviewer = createAccount(admin, "cq", {"qa-reviewer"});
  ApiResponse start = api_.post("/api/v1/me/totp", Json().set("password", reviewer.password).str(),
                                withBearer(reviewer.token));
  ASSERT_TRUE(start.ok()) << start.describe();
  const std::string secret = start.text("secret");
  remember("TOTP secret", secret);
  ApiResponse confirm =
      api_.post("/api/v1/me/totp/confirm", Json().set("code", totpCode(secret, unixNow())).str(),
                withBearer(reviewer.token));
  ASSERT_TRUE(confirm.ok()) << confirm.describe();
  const int64_t held = heldBatch(reviewer.token, newSampleId("CQ"));
  ASSERT_GT(held, 0);
  const std::string home = tmp_->path() + "/config-totp";

  CliRun r = login(reviewer, reviewer.password, home);
  EXPECT_EQ(r.exitCode, 1) << r.out << r.err;
  EXPECT_NE(r.err.find("--totp CODE"), std::string::npos) << r.err;

  waitForNextTotpStep();
  r = labgate({"login", "--server", server(), "--org", reviewer.org, "--user", reviewer.username,
               "--totp", totpCode(secret, unixNow())},
              reviewer.password + "\n", home);
  ASSERT_EQ(r.exitCode, 0) << r.out << r.err;

  const std::string id = std::to_string(held);
  r = labgate({"sign", "batch", id, "--meaning", "reviewed"}, reviewer.password + "\n", home);
  EXPECT_EQ(r.exitCode, 1) << r.out << r.err;
  EXPECT_NE(r.err.find("--totp CODE"), std::string::npos) << r.err;

  waitForNextTotpStep();
  r = labgate({"sign", "batch", id, "--meaning", "reviewed", "--totp", totpCode(secret, unixNow())},
              reviewer.password + "\n", home);
  ASSERT_EQ(r.exitCode, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("reviewed by Test " + reviewer.username), std::string::npos) << r.out;
}

TEST_F(QaCliTest, HttpsWithTheLabsCaCertificate) {
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());
  const std::string admin = adminToken();
  const Account reviewer = createAccount(admin, "cs", {"qa-reviewer"});
  const std::string home = tmp_->path() + "/config-https";
  // The engine's certificate is self-signed for CN=localhost (AccountsTest::SetUp).
  const std::string url = "https://localhost:" + std::to_string(httpsPort_);
  const std::string cert = tmp_->path() + "/https-cert.pem";  // what makeTestCertificate wrote
  ASSERT_TRUE(fileExists(cert));

  CliRun r = labgate({"login", "--server", url, "--org", reviewer.org, "--user", reviewer.username},
                     reviewer.password + "\n", home);
  EXPECT_EQ(r.exitCode, 1) << "a certificate no CA vouches for was accepted: " << r.out << r.err;
  EXPECT_NE(r.err.find("certificate verify failed"), std::string::npos) << r.err;
  EXPECT_EQ(modeOf(sessionFile(home)), -1);

  r = labgate(
      {"login", "--server", url, "--org", reviewer.org, "--user", reviewer.username, "--ca", cert},
      reviewer.password + "\n", home);
  ASSERT_EQ(r.exitCode, 0) << r.out << r.err;
  r = labgate({"batches"}, "", home);
  EXPECT_EQ(r.exitCode, 0) << "the CA is kept with the session: " << r.out << r.err;
  r = labgate({"logout"}, "", home);
  EXPECT_EQ(r.exitCode, 0) << r.out << r.err;
}

/// The ids in the first column of a `labgate batches` table.
std::set<std::string> tableIds(const std::string& table) {
  std::set<std::string> ids;
  std::istringstream in(table);
  for (std::string line; std::getline(in, line);) {
    const std::string first = line.substr(0, line.find(' '));
    if (!first.empty() && first.find_first_not_of("0123456789") == std::string::npos) {
      ids.insert(first);
    }
  }
  return ids;
}

/// The arguments of the command a `labgate batches` table ends with ("more batches: labgate
/// batches ..."); empty when it names none.
std::vector<std::string> nextPageCommand(const std::string& table) {
  const std::string marker = "more batches: labgate ";
  const size_t at = table.find(marker);
  if (at == std::string::npos) return {};
  std::istringstream words(
      table.substr(at + marker.size(), table.find("   (or", at) - at - marker.size()));
  std::vector<std::string> args;
  for (std::string w; words >> w;) args.push_back(w);
  return args;
}

TEST_F(QaCliTest, JsonLoginLogoutAndBatchesPageByPage) {
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());
  const std::string admin = adminToken();
  const Account reviewer = createAccount(admin, "cj", {"qa-reviewer"});
  std::set<std::string> held;
  for (int i = 0; i < 3; ++i) {
    const int64_t id = heldBatch(reviewer.token, newSampleId("CP"));
    ASSERT_GT(id, 0);
    held.insert(std::to_string(id));
  }
  const std::string home = tmp_->path() + "/config-json";

  // login --json: who, which organisation and server, until when; no token, no password.
  CliRun r = labgate(
      {"login", "--server", server(), "--org", "default", "--user", reviewer.username, "--json"},
      reviewer.password + "\n", home);
  ASSERT_EQ(r.exitCode, 0) << r.out << r.err;
  auto in = Poco::JSON::Parser().parse(r.out).extract<Poco::JSON::Object::Ptr>();
  EXPECT_EQ(str(in, "logged_in"), "true");
  EXPECT_EQ(str(in, "user"), reviewer.username);
  EXPECT_EQ(str(in, "printed_name"), "Test " + reviewer.username);
  EXPECT_EQ(str(in, "org"), "default");
  EXPECT_EQ(str(in, "server"), server());
  EXPECT_FALSE(str(in, "expires_at").empty()) << r.out;
  EXPECT_EQ(str(in, "session_file"), sessionFile(home));
  const std::string token = str(
      Poco::JSON::Parser().parse(readFile(sessionFile(home))).extract<Poco::JSON::Object::Ptr>(),
      "token");
  ASSERT_FALSE(token.empty());
  EXPECT_EQ(r.out.find(token), std::string::npos) << "the token was printed";
  EXPECT_EQ(r.out.find(reviewer.password), std::string::npos) << "the password was printed";

  // A refused login --json: the outcome on stdout, exit 1, no session kept.
  const std::string otherHome = tmp_->path() + "/config-json-refused";
  r = labgate(
      {"login", "--server", server(), "--org", "default", "--user", reviewer.username, "--json"},
      "not-the-password\n", otherHome);
  EXPECT_EQ(r.exitCode, 1) << r.out << r.err;
  auto refused = Poco::JSON::Parser().parse(r.out).extract<Poco::JSON::Object::Ptr>();
  EXPECT_EQ(str(refused, "logged_in"), "false");
  EXPECT_EQ(str(refused, "status"), "401");
  EXPECT_FALSE(str(refused, "error").empty());
  EXPECT_EQ(r.out.find("not-the-password"), std::string::npos) << "the password was printed";
  EXPECT_EQ(modeOf(sessionFile(otherHome)), -1);

  // One batch per page, newest first; each page ends with the command that shows the next.
  std::set<std::string> walked;
  std::vector<std::string> command = {"batches", "--state", "held", "--limit", "1"};
  for (int page = 0; page < 10 && !command.empty(); ++page) {
    r = labgate(command, "", home);
    ASSERT_EQ(r.exitCode, 0) << r.out << r.err;
    const std::set<std::string> ids = tableIds(r.out);
    EXPECT_EQ(ids.size(), 1u) << r.out;
    walked.insert(ids.begin(), ids.end());
    command = nextPageCommand(r.out);
    if (command.empty()) break;
    ASSERT_GE(command.size(), 7u) << r.out;
    EXPECT_EQ(std::vector<std::string>(command.begin(), command.begin() + 5),
              (std::vector<std::string>{"batches", "--state", "held", "--limit", "1"}))
        << "the next page keeps the filters: " << r.out;
    EXPECT_EQ(command[5], "--before");
    EXPECT_EQ(command[6], *ids.begin()) << "the next page starts below the last batch shown";
    EXPECT_EQ(r.out.find("?before="), std::string::npos) << "the API's parameter, not a command";
  }
  EXPECT_EQ(walked, held) << "paging did not show each held batch exactly once";

  // --all follows the pages to the end: the same batches, one list, no next page.
  r = labgate({"batches", "--state", "held", "--limit", "1", "--all"}, "", home);
  ASSERT_EQ(r.exitCode, 0) << r.out << r.err;
  EXPECT_EQ(tableIds(r.out), held) << r.out;
  EXPECT_EQ(r.out.find("more batches"), std::string::npos) << r.out;
  r = labgate({"batches", "--state", "held", "--limit", "1", "--all", "--json"}, "", home);
  ASSERT_EQ(r.exitCode, 0) << r.out << r.err;
  {
    ApiResponse parsed;
    parsed.status = 200;
    parsed.body = r.out;
    parsed.json = Poco::JSON::Parser().parse(r.out).extract<Poco::JSON::Object::Ptr>();
    EXPECT_EQ(idsOf(parsed), held);
    EXPECT_EQ(itemsOf(parsed).size(), held.size());
    EXPECT_TRUE(isNull(parsed.json, "next"));
  }
  // One page of --json is the server's answer, with its next link.
  r = labgate({"batches", "--state", "held", "--limit", "2", "--json"}, "", home);
  ASSERT_EQ(r.exitCode, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("before="), std::string::npos) << r.out;
  // --before starts below a batch: the oldest held batch has nothing older.
  int64_t oldest = INT64_MAX;
  for (const std::string& id : held) oldest = std::min<int64_t>(oldest, std::stoll(id));
  r = labgate({"batches", "--state", "held", "--before", std::to_string(oldest)}, "", home);
  ASSERT_EQ(r.exitCode, 0) << r.out << r.err;
  EXPECT_TRUE(tableIds(r.out).empty()) << r.out;

  // Usage errors: 2.
  for (const std::vector<std::string>& bad : {std::vector<std::string>{"batches", "--limit", "0"},
                                              {"batches", "--limit", "501"},
                                              {"batches", "--limit", "ten"},
                                              {"batches", "--before", "x"},
                                              {"batches", "--before", "0"},
                                              {"batches", "--limit"},
                                              {"logout", "--json", "now"}}) {
    r = labgate(bad, "", home);
    EXPECT_EQ(r.exitCode, 2) << bad[0] << " " << bad[1] << ": " << r.err;
    EXPECT_TRUE(r.out.empty()) << "usage errors go to stderr";
  }

  // logout --json: the session ended on the server; then there is none to end.
  r = labgate({"logout", "--json"}, "", home);
  ASSERT_EQ(r.exitCode, 0) << r.out << r.err;
  auto out = Poco::JSON::Parser().parse(r.out).extract<Poco::JSON::Object::Ptr>();
  EXPECT_EQ(str(out, "logged_out"), "true");
  EXPECT_EQ(str(out, "session_ended"), "true");
  EXPECT_EQ(str(out, "user"), reviewer.username);
  EXPECT_EQ(api_.get("/api/v1/me", withBearer(token)).status, 401);
  r = labgate({"logout", "--json"}, "", home);
  EXPECT_EQ(r.exitCode, 1);
  auto none = Poco::JSON::Parser().parse(r.out).extract<Poco::JSON::Object::Ptr>();
  EXPECT_EQ(str(none, "logged_out"), "false");
  EXPECT_EQ(str(none, "error"), "not logged in");

  // A session the server ended already: logged out, but no session was ended now.
  r = login(reviewer, reviewer.password, home);
  ASSERT_EQ(r.exitCode, 0) << r.out << r.err;
  const std::string second = str(
      Poco::JSON::Parser().parse(readFile(sessionFile(home))).extract<Poco::JSON::Object::Ptr>(),
      "token");
  ASSERT_TRUE(api_.del("/api/v1/sessions/current", withBearer(second)).ok());
  r = labgate({"logout", "--json"}, "", home);
  ASSERT_EQ(r.exitCode, 0) << r.out << r.err;
  auto already = Poco::JSON::Parser().parse(r.out).extract<Poco::JSON::Object::Ptr>();
  EXPECT_EQ(str(already, "logged_out"), "true");
  EXPECT_EQ(str(already, "session_ended"), "false");
  EXPECT_EQ(modeOf(sessionFile(home)), -1);
}

}  // namespace
}  // namespace labgate::it::accounts
