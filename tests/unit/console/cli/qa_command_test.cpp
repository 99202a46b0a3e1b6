// labgate login / logout / batches / show / sign in-process: where the session is kept and with
// which modes, the usage errors (exit 2) and --help (0), "not logged in" and an unreachable server
// (1), and the readable forms of a batch list and a batch.
#include "console/cli/qa_command.h"

#include <Poco/File.h>
#include <Poco/TemporaryFile.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <sstream>

namespace labgate::cli {
namespace {

int modeOf(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return -1;
  return static_cast<int>(st.st_mode & 07777);
}

class QaCommand : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = Poco::TemporaryFile::tempName();
    Poco::File(dir_).createDirectories();
    setenv("XDG_CONFIG_HOME", (dir_ + "/config").c_str(), 1);  // NOLINT(concurrency-mt-unsafe)
  }
  void TearDown() override {
    unsetenv("XDG_CONFIG_HOME");  // NOLINT(concurrency-mt-unsafe)
    if (Poco::File(dir_).exists()) Poco::File(dir_).remove(true);
  }
  std::string dir_;
  std::istringstream in_;
  std::ostringstream out_;
  std::ostringstream err_;
};

TEST(QaSessionPath, XdgConfigHomeFirstThenHome) {
  EXPECT_EQ(sessionFilePath("/x/cfg", "/home/u"), "/x/cfg/labgate/session.json");
  EXPECT_EQ(sessionFilePath(nullptr, "/home/u"), "/home/u/.config/labgate/session.json");
  EXPECT_EQ(sessionFilePath("", "/home/u"), "/home/u/.config/labgate/session.json");
  EXPECT_EQ(sessionFilePath("relative", "/home/u"), "/home/u/.config/labgate/session.json")
      << "XDG_CONFIG_HOME must be absolute";
  EXPECT_EQ(sessionFilePath(nullptr, nullptr), "");
}

TEST_F(QaCommand, SessionFileIs0600InA0700DirectoryAndReadsBack) {
  const std::string path = dir_ + "/config/labgate/session.json";
  ASSERT_EQ(writeSession(path, {"https://h:1", "default", "dana", "lgs_secret", "/etc/lab-ca.pem"}),
            "");
  EXPECT_EQ(modeOf(path), 0600);
  EXPECT_EQ(modeOf(dir_ + "/config/labgate"), 0700);
  EXPECT_EQ(modeOf(dir_ + "/config"), 0700);
  auto back = readSession(path);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->server, "https://h:1");
  EXPECT_EQ(back->ca, "/etc/lab-ca.pem");
  EXPECT_EQ(back->org, "default");
  EXPECT_EQ(back->user, "dana");
  EXPECT_EQ(back->token, "lgs_secret");
  // Rewritten over a file someone widened: 0600 again.
  chmod(path.c_str(), 0644);
  ASSERT_EQ(writeSession(path, {"http://h:1", "default", "dana", "lgs_other", ""}), "");
  EXPECT_EQ(modeOf(path), 0600);
  EXPECT_FALSE(readSession(dir_ + "/none.json").has_value());
}

TEST_F(QaCommand, UsageErrorsExitTwo) {
  EXPECT_EQ(runLogin({"--server", "http://h:1"}, in_, out_, err_), 2);
  EXPECT_EQ(
      runLogin({"--server", "http://h:1", "--org", "o", "--user", "u", "--x"}, in_, out_, err_), 2);
  EXPECT_EQ(runLogout({"now"}, out_, err_), 2);
  EXPECT_EQ(runBatches({"--state"}, out_, err_), 2);
  EXPECT_EQ(runBatches({"--colour", "red"}, out_, err_), 2);
  EXPECT_EQ(runShow({}, out_, err_), 2);
  EXPECT_EQ(runShow({"sample", "3"}, out_, err_), 2);
  EXPECT_EQ(runShow({"batch", "3x"}, out_, err_), 2);
  EXPECT_EQ(runSign({"batch", "3"}, in_, out_, err_), 2) << "--meaning is required";
  EXPECT_EQ(runSign({"batch", "3", "--meaning", "reviewed", "--results", "1,x"}, in_, out_, err_),
            2);
  EXPECT_EQ(runSign({"batch", "-3", "--meaning", "reviewed"}, in_, out_, err_), 2);
  EXPECT_TRUE(out_.str().empty()) << "usage errors go to stderr";
}

TEST_F(QaCommand, HelpExitsZeroOnStdout) {
  EXPECT_EQ(runLogin({"--help"}, in_, out_, err_), 0);
  EXPECT_EQ(runLogout({"-h"}, out_, err_), 0);
  EXPECT_EQ(runBatches({"--help"}, out_, err_), 0);
  EXPECT_EQ(runShow({"--help"}, out_, err_), 0);
  EXPECT_EQ(runSign({"--help"}, in_, out_, err_), 0);
  for (const char* usage :
       {"usage: labgate login", "usage: labgate logout", "usage: labgate batches",
        "usage: labgate show batch", "usage: labgate sign batch"}) {
    EXPECT_NE(out_.str().find(usage), std::string::npos) << usage;
  }
}

TEST_F(QaCommand, WithoutASessionCommandsFailWithOne) {
  EXPECT_EQ(runBatches({}, out_, err_), 1);
  EXPECT_EQ(runShow({"batch", "3"}, out_, err_), 1);
  EXPECT_EQ(runSign({"batch", "3", "--meaning", "reviewed"}, in_, out_, err_), 1);
  EXPECT_EQ(runLogout({}, out_, err_), 1);
  EXPECT_NE(err_.str().find("not logged in"), std::string::npos) << err_.str();
}

TEST_F(QaCommand, LoginToAnUnreachableServerFailsAndKeepsNoSession) {
  in_.str("a password\n");
  // Port 1 on loopback: nothing listens there.
  EXPECT_EQ(
      runLogin({"--server", "http://127.0.0.1:1", "--org", "o", "--user", "u"}, in_, out_, err_),
      1);
  EXPECT_NE(err_.str().find("cannot reach"), std::string::npos) << err_.str();
  EXPECT_EQ(err_.str().find("a password"), std::string::npos) << "the password was printed";
  EXPECT_EQ(modeOf(dir_ + "/config/labgate/session.json"), -1);
  std::istringstream empty;
  EXPECT_EQ(
      runLogin({"--server", "http://127.0.0.1:1", "--org", "o", "--user", "u"}, empty, out_, err_),
      1)
      << "no password";
  std::istringstream any("pw\n");
  EXPECT_EQ(runLogin({"--server", "ftp://h", "--org", "o", "--user", "u"}, any, out_, err_), 1);
}

TEST(QaPrint, BatchListIsATable) {
  std::ostringstream out;
  printBatchList(R"({"items":[{"id":34,"state":"held","connector":"lab1","instrument":"tq-01",)"
                 R"("received_at":"2026-12-07T09:00:00Z","sample_count":2,"result_count":5,)"
                 R"("waiting":1,"source_name":"run-7.csv"}],"next":null})",
                 out);
  EXPECT_NE(out.str().find("ID"), std::string::npos);
  EXPECT_NE(out.str().find("34"), std::string::npos);
  EXPECT_NE(out.str().find("held"), std::string::npos);
  EXPECT_NE(out.str().find("run-7.csv"), std::string::npos);
  std::ostringstream none;
  printBatchList(R"({"items":[]})", none);
  EXPECT_EQ(none.str(), "no batches\n");
}

TEST(QaPrint, ABatchListWithMorePagesEndsWithTheNextCommand) {
  const std::string page = R"({"items":[{"id":34,"state":"held"}],)"
                           R"("next":"/api/v1/batches?state=held&limit=1&before=34"})";
  std::ostringstream out;
  printBatchList(page, out, batchesCommand("held", "", "1", 34));
  EXPECT_NE(out.str().find("more batches: labgate batches --state held --limit 1 --before 34"),
            std::string::npos)
      << out.str();
  EXPECT_EQ(out.str().find("?before="), std::string::npos) << "a command, not the API's parameter";
  std::ostringstream last;
  printBatchList(R"({"items":[{"id":3,"state":"held"}],"next":null})", last,
                 batchesCommand("", "", "", 3));
  EXPECT_EQ(last.str().find("more batches"), std::string::npos) << "no next page on the last";
}

TEST(QaPrint, TheNextCommandQuotesForTheShell) {
  EXPECT_EQ(batchesCommand("", "", "", 7), "labgate batches --before 7");
  EXPECT_EQ(batchesCommand("released", "tq-01", "", 7),
            "labgate batches --state released --instrument tq-01 --before 7");
  EXPECT_EQ(batchesCommand("", "lab 2's qqq", "50", 9),
            "labgate batches --instrument 'lab 2'\\''s qqq' --limit 50 --before 9");
}

TEST_F(QaCommand, PagingOptionsAreCheckedBeforeAnythingElse) {
  for (const std::vector<std::string>& bad : {std::vector<std::string>{"--limit", "0"},
                                              {"--limit", "501"},
                                              {"--limit", "-1"},
                                              {"--limit", "x"},
                                              {"--before", "0"},
                                              {"--before", "x"},
                                              {"--before"},
                                              {"--all", "x"}}) {
    EXPECT_EQ(runBatches(bad, out_, err_), 2) << bad[0];
  }
  EXPECT_EQ(runLogout({"--json", "x"}, out_, err_), 2);
  EXPECT_TRUE(out_.str().empty()) << "usage errors go to stderr";
  // Well-formed, but not logged in: 1 (and logout --json says so on stdout).
  EXPECT_EQ(runBatches({"--limit", "500", "--before", "12", "--all"}, out_, err_), 1);
  EXPECT_EQ(runLogout({"--json"}, out_, err_), 1);
  EXPECT_NE(out_.str().find("\"logged_out\":false"), std::string::npos) << out_.str();
  EXPECT_NE(out_.str().find("not logged in"), std::string::npos) << out_.str();
}

TEST_F(QaCommand, LoginJsonSaysWhyItFailed) {
  in_.str("a password\n");
  EXPECT_EQ(runLogin({"--server", "http://127.0.0.1:1", "--org", "o", "--user", "u", "--json"}, in_,
                     out_, err_),
            1);
  const std::string json = out_.str();
  EXPECT_NE(json.find("\"logged_in\":false"), std::string::npos) << json;
  EXPECT_NE(json.find("\"status\":0"), std::string::npos) << json;
  EXPECT_NE(json.find("cannot reach"), std::string::npos) << json;
  EXPECT_EQ(json.find("a password"), std::string::npos) << "the password was printed";
}

TEST(QaPrint, BatchShowsFindingsWithMeasuredLimitUnitAndSignatures) {
  std::ostringstream out;
  printBatch(
      R"({"id":34,"state":"held","instrument":"tq-01","format":"astm","connector":"lab1",)"
      R"("record_sha256":"ab12","samples":[{"sample_id":"S-1","kind":"patient","results":[)"
      R"({"id":812,"instrument_code":"GLU","lis_code":"2345-7","value":"5.1","units":"mmol/L",)"
      R"("disposition":"hold","qa_state":"","waiting":true,"findings":[{"rule":"qc.1-3s",)"
      R"("severity":"error","message":"QC out","measured":"3.4 SD","limit":"3 SD","unit":"SD",)"
      R"("action":"hold"}]}]}],"batch_findings":[{"rule":"curve.r2","severity":"warning",)"
      R"("measured":"0.97","limit":"0.99","unit":"","action":"hold","analyte":"GLU"}],)"
      R"("signatures":[{"id":5,"meaning":"reviewed","signer":"dana","printed_name":"Dana W",)"
      R"("signed_at":"2026-12-07T09:14:03.000Z","reason":"","results":[812]}]})",
      out);
  const std::string s = out.str();
  for (const char* shown : {"batch 34", "state held", "record_sha256 ab12", "result 812",
                            "5.1 mmol/L", "disposition hold", "WAITING", "qc.1-3s [error]",
                            "measured 3.4 SD", "limit 3 SD", "unit SD", "batch findings",
                            "curve.r2", "reviewed by Dana W (dana) 2026-12-07T09:14:03.000Z"}) {
    EXPECT_NE(s.find(shown), std::string::npos) << "missing \"" << shown << "\" in\n" << s;
  }
}

}  // namespace
}  // namespace labgate::cli
