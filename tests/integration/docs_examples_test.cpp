// The documentation says what the programs do (issue 12 point 8), checked by running them as a new
// user would:
// - the help texts: `labgated --help` names every connector kind and the REST API; every labgate
//   command has a --help that states its exit status, and a usage error exits with it (2 for
//   labgate, 64 for labgated); `labgate version --help` prints help; a help text copied into the
//   docs (a fenced block starting "usage: labgate ...") is the program's, word for word;
// - the examples: every `$ labgate ...` transcript in README.md and docs/ whose input files the
//   transcript itself shows (`$ cat FILE`) is run and must print what the docs show; the shipped
//   configuration passes `labgated --check-config`; `labgate keygen` behaves as documented;
// - the REST API: every "METHOD /api/v1/..." and /api/v1 path the docs name is a route of the
//   route table, and every documented GET without a path parameter answers on a real labgated
//   (no 404/405), as do /health, /ready and /metrics; the documented state filter and the
//   diagnostics permission;
// - start-up errors name the configuration file and the key (a bad mapping file with its line,
//   a port in use, a missing inbox, a Windows path in connector.NAME.inbox).
//
// Not covered (left to a person): transcripts whose input is elided ("…") or piped (`| jq`),
// commands with paths of a production machine (/etc/labgate/...), the curl examples of
// docs/connectors/exports.md (their host and key are placeholders; the upload route itself is
// tested in export_test.cpp).
#include <Poco/Net/ServerSocket.h>
#include <fmt/format.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <optional>
#include <regex>
#include <set>
#include <sstream>

#include "engine/api/routes.h"
#include "tests/integration/harness.h"
#include "tests/integration/harness_api.h"

namespace labgate::it {
namespace {

namespace fs = std::filesystem;

std::string labgate() { return binDir() + "/labgate"; }
std::string labgated() { return binDir() + "/labgated"; }

/// README.md and every Markdown file under docs/, relative to the source directory.
std::vector<std::string> docFiles() {
  std::vector<std::string> files = {"README.md"};
  for (const auto& entry : fs::recursive_directory_iterator(sourceDir() + "/docs")) {
    if (entry.is_regular_file() && entry.path().extension() == ".md") {
      files.push_back(fs::relative(entry.path(), sourceDir()).string());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::vector<std::string> linesOf(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

/// One fenced code block of a Markdown file.
struct Block {
  std::string file;
  int line = 0;  // of the opening fence
  std::vector<std::string> lines;
};

std::vector<Block> fencedBlocks(const std::string& file) {
  std::vector<Block> blocks;
  std::vector<std::string> lines = linesOf(readFile(sourceDir() + "/" + file));
  std::optional<Block> open;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (lines[i].rfind("```", 0) == 0) {
      if (open) {
        blocks.push_back(std::move(*open));
        open.reset();
      } else {
        open = Block{file, static_cast<int>(i + 1), {}};
      }
    } else if (open) {
      open->lines.push_back(lines[i]);
    }
  }
  return blocks;
}

std::vector<std::string> splitWords(const std::string& s) {
  std::istringstream in(s);
  std::vector<std::string> words;
  for (std::string w; in >> w;) words.push_back(w);
  return words;
}

std::string joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

/// `program args` run in `workingDir`, its output captured under `captureDir`.
ProgramRun runIn(const std::string& workingDir, const std::string& program,
                 const std::vector<std::string>& args, const std::string& captureDir) {
  static int counter = 0;
  const std::string base = captureDir + "/docs-run-" + std::to_string(counter++);
  ProgramRun run;
  ChildProcess child(program, args, base + ".stdout", base + ".stderr", workingDir);
  auto code = child.waitForExit(60000ms);
  run.finished = code.has_value();
  run.exitCode = code ? *code : child.kill();
  run.out = child.capturedOut();
  run.err = child.capturedErr();
  return run;
}

const std::vector<std::string> kCommands = {
    "audit",    "backup",   "batches",    "calibrate",   "dry-run", "keygen", "login",
    "logout",   "qc",       "qc-targets", "restore",     "show",    "sign",   "verify-signature",
    "mappings", "unmapped", "messages",   "dead-letter", "trend",   "archive"};

class DocsCliTest : public ::testing::Test {
 protected:
  ProgramRun run(const std::string& program, const std::vector<std::string>& args) {
    return runProgram(program, args, 60000ms, tmp_.path());
  }
  TempDir tmp_;
};

TEST_F(DocsCliTest, LabgatedHelpNamesEveryConnectorKindAndTheRestApi) {
  ProgramRun help = run(labgated(), {"--help"});
  ASSERT_TRUE(help.finished);
  EXPECT_EQ(help.exitCode, 0);
  for (const char* word : {"astm-tcp", "hl7-mllp", "file-drop", "upload", "REST API", "docs/api.md",
                           "/health", "LABGATE_ADMIN_PASSWORD", "SIGHUP", "64 usage error", "78"}) {
    EXPECT_NE(help.out.find(word), std::string::npos)
        << "labgated --help does not mention " << word;
  }
}

TEST_F(DocsCliTest, LabgatedUsageErrorExits64AsItsHelpSays) {
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"--no-such-option"}, std::vector<std::string>{"--config"}}) {
    ProgramRun bad = run(labgated(), args);
    ASSERT_TRUE(bad.finished);
    EXPECT_EQ(bad.exitCode, 64) << args[0] << ": " << bad.err;
    EXPECT_EQ(bad.err.rfind("labgated: ", 0), 0u) << bad.err;
    EXPECT_NE(bad.err.find("(try labgated --help)"), std::string::npos) << bad.err;
  }
}

TEST_F(DocsCliTest, LabgateUsageErrorsExit2AsEveryHelpSays) {
  ProgramRun top = run(labgate(), {"--help"});
  EXPECT_EQ(top.exitCode, 0);
  EXPECT_NE(top.out.find("2 usage"), std::string::npos) << top.out;
  EXPECT_EQ(run(labgate(), {}).exitCode, 2) << "no command";
  ProgramRun unknown = run(labgate(), {"no-such-command"});
  EXPECT_EQ(unknown.exitCode, 2);
  EXPECT_NE(unknown.err.find("unknown command \"no-such-command\""), std::string::npos);
  for (const std::string& command : kCommands) {
    SCOPED_TRACE("labgate " + command);
    for (const char* flag : {"--help", "-h"}) {
      ProgramRun help = run(labgate(), {command, flag});
      EXPECT_EQ(help.exitCode, 0) << flag;
      EXPECT_EQ(help.out.rfind("usage: labgate " + command, 0), 0u) << flag << ": " << help.out;
    }
    ProgramRun help = run(labgate(), {command, "--help"});
    EXPECT_NE(help.out.find("exit status"), std::string::npos) << help.out;
    EXPECT_NE(help.out.find("2 usage"), std::string::npos) << help.out;
    ProgramRun bad = run(labgate(), {command, "--no-such-option"});
    EXPECT_EQ(bad.exitCode, 2) << bad.err;
    EXPECT_FALSE(bad.err.empty()) << "a usage error says why on stderr";
  }
}

TEST_F(DocsCliTest, VersionHelpPrintsHelpNotTheVersion) {
  for (const char* flag : {"--help", "-h"}) {
    ProgramRun help = run(labgate(), {"version", flag});
    EXPECT_EQ(help.exitCode, 0);
    EXPECT_EQ(help.out.rfind("usage: labgate version", 0), 0u) << help.out;
    EXPECT_EQ(help.out.find("labgate 0"), std::string::npos) << "printed the version: " << help.out;
  }
  ProgramRun version = run(labgate(), {"version"});
  EXPECT_EQ(version.exitCode, 0);
  EXPECT_EQ(version.out.rfind("labgate ", 0), 0u) << version.out;
  EXPECT_EQ(run(labgate(), {"version", "extra"}).exitCode, 2);
}

TEST_F(DocsCliTest, HelpTextsCopiedIntoTheDocsMatchThePrograms) {
  int compared = 0;
  for (const std::string& file : docFiles()) {
    for (const Block& block : fencedBlocks(file)) {
      if (block.lines.empty() || block.lines[0].rfind("usage: labgate", 0) != 0) continue;
      std::vector<std::string> words = splitWords(block.lines[0]);
      const bool daemon = words[1] == "labgated";
      std::vector<std::string> args;
      if (!daemon) args.push_back(words[2]);
      args.push_back("--help");
      ProgramRun help = run(daemon ? labgated() : labgate(), args);
      EXPECT_EQ(joined(block.lines), help.out)
          << file << ":" << block.line << ": the help text differs from `" << words[1] << " "
          << (daemon ? "" : words[2]) << " --help`";
      ++compared;
    }
  }
  EXPECT_GE(compared, 3) << "the docs copy the help of calibrate, qc and dry-run";
}

/// Runs the `$ ...` transcripts of the docs. `$ cat FILE` followed by lines writes FILE; a
/// `$ labgate ...` line runs and its output must be the lines up to the next `$` or the block's
/// end. A transcript with an elided input or output ("…"), a pipe or a continuation is skipped.
TEST_F(DocsCliTest, TranscriptsInTheDocsRunAsShown) {
  int ran = 0;
  std::vector<std::string> skipped;
  for (const std::string& file : docFiles()) {
    for (const Block& block : fencedBlocks(file)) {
      TempDir work;
      std::set<std::string> written;
      for (size_t i = 0; i < block.lines.size(); ++i) {
        const std::string& line = block.lines[i];
        if (line.rfind("$ ", 0) != 0) continue;
        std::vector<std::string> output;
        for (size_t j = i + 1; j < block.lines.size() && block.lines[j].rfind("$ ", 0) != 0; ++j) {
          output.push_back(block.lines[j]);
        }
        std::vector<std::string> words = splitWords(line.substr(2));
        const std::string where = file + ":" + std::to_string(block.line + 1 + i);
        if (words.size() == 2 && words[0] == "cat") {
          writeFile(work.file(words[1]), joined(output));
          written.insert(words[1]);
          continue;
        }
        bool runnable = !words.empty() && words[0] == "labgate" &&
                        line.find("…") == std::string::npos &&
                        line.find('|') == std::string::npos && line.back() != '\\';
        for (const auto& out : output) runnable = runnable && out.find("…") == std::string::npos;
        for (size_t w = 1; runnable && w < words.size(); ++w) {
          if (words[w] == "#") break;
          const bool looksLikeFile = words[w].find('.') != std::string::npos && words[w][0] != '-';
          runnable = !looksLikeFile || written.count(words[w]) > 0;
        }
        if (!runnable) {
          skipped.push_back(fmt::format("{}: {}", where, line));
          continue;
        }
        std::vector<std::string> args(words.begin() + 1, words.end());
        ProgramRun r = runIn(work.path(), labgate(), args, tmp_.path());
        EXPECT_EQ(r.exitCode, 0) << where << ": " << line << "\n" << r.err;
        EXPECT_EQ(r.out, joined(output))
            << where << ": `" << line.substr(2) << "` does not print what the docs show";
        ++ran;
      }
    }
  }
  EXPECT_GE(ran, 2) << "the labgate qc transcripts of docs/rules.md";
  for (const auto& s : skipped) std::cout << "[ not run ] " << s << "\n";
}

TEST_F(DocsCliTest, ShippedConfigurationPassesCheckConfig) {
  // README and operations.md: `labgated --check-config` validates the shipped sample, opening
  // nothing (run where the sample's relative paths lead, as scripts/run.sh does: config/ is the
  // repository's, var/inbox the watched folder run.sh makes; without it the check refuses).
  const std::string site = tmp_.file("site");
  fs::create_directories(site);
  fs::create_directory_symlink(sourceDir() + "/config", site + "/config");
  ProgramRun noInbox = runIn(site, labgated(), {"--check-config"}, tmp_.path());
  ASSERT_TRUE(noInbox.finished);
  EXPECT_EQ(noInbox.exitCode, 1) << noInbox.out;
  EXPECT_NE(noInbox.err.find("connector.quant1.inbox: cannot use var/inbox: the folder does not "
                             "exist"),
            std::string::npos)
      << noInbox.err;
  fs::create_directories(site + "/var/inbox");
  ProgramRun check = runIn(site, labgated(), {"--check-config"}, tmp_.path());
  ASSERT_TRUE(check.finished);
  EXPECT_EQ(check.exitCode, 0) << check.err;
  EXPECT_NE(check.out.find("config/labgate.properties: configuration OK"), std::string::npos)
      << check.out;
}

TEST_F(DocsCliTest, KeygenWritesAPrivateFileAndRefusesToOverwrite) {
  // docs/encryption.md: `labgate keygen FILE   # mode 0600; refuses to overwrite a file`.
  const std::string key = tmp_.file("kek-2026");
  ProgramRun made = run(labgate(), {"keygen", key});
  EXPECT_EQ(made.exitCode, 0) << made.err;
  EXPECT_NE(made.out.find("wrote " + key + " (mode 0600"), std::string::npos) << made.out;
  struct stat st {};
  ASSERT_EQ(::stat(key.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  const std::string before = readFile(key);
  ProgramRun again = run(labgate(), {"keygen", key});
  EXPECT_EQ(again.exitCode, 1) << "keygen --help: 1 FILE could not be written";
  EXPECT_EQ(readFile(key), before) << "the key file was overwritten";
}

/// True when `path` (no query) matches a route pattern (`{x}` matches one segment).
bool matches(const std::string& pattern, const std::string& path) {
  std::vector<std::string> a, b;
  std::istringstream pa(pattern), pb(path);
  for (std::string s; std::getline(pa, s, '/');) a.push_back(s);
  for (std::string s; std::getline(pb, s, '/');) b.push_back(s);
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    const bool param = !a[i].empty() && a[i].front() == '{';
    const bool docParam = !b[i].empty() && b[i].front() == '{';
    if (!param && !docParam && a[i] != b[i]) return false;
    if (param != docParam && !(param && !docParam)) return false;
  }
  return true;
}

/// The "METHOD /api/v1/..." mentions of the docs (method, path without query).
std::set<std::pair<std::string, std::string>> documentedRequests() {
  std::set<std::pair<std::string, std::string>> out;
  const std::regex request("(GET|POST|PATCH|PUT|DELETE) (/api/v1/[A-Za-z0-9_{}./-]*)");
  for (const std::string& file : docFiles()) {
    const std::string text = readFile(sourceDir() + "/" + file);
    for (std::sregex_iterator it(text.begin(), text.end(), request), end; it != end; ++it) {
      std::string path = (*it)[2];
      while (!path.empty() && (path.back() == '.' || path.back() == '/')) path.pop_back();
      out.insert({(*it)[1], path});
    }
  }
  return out;
}

TEST_F(DocsCliTest, EveryDocumentedApiPathIsARoute) {
  const auto& table = api::routeTable();
  auto known = [&](const std::string& method, const std::string& path) {
    for (const auto& r : table) {
      if ((method.empty() || r.method == method) && matches(r.path, path)) return true;
    }
    return false;
  };
  const auto requests = documentedRequests();
  EXPECT_GE(requests.size(), 20u);
  for (const auto& [method, path] : requests) {
    EXPECT_TRUE(known(method, path))
        << method << " " << path << " is in the docs but not in the route table";
  }
  // Every /api/v1 path in backticks, whatever the method.
  const std::regex mention("`(/api/v1/[A-Za-z0-9_{}/-]*)");
  for (const std::string& file : docFiles()) {
    const std::string text = readFile(sourceDir() + "/" + file);
    for (std::sregex_iterator it(text.begin(), text.end(), mention), end; it != end; ++it) {
      std::string path = (*it)[1];
      while (!path.empty() && path.back() == '/') path.pop_back();
      EXPECT_TRUE(known("", path)) << file << ": " << path << " is not a route";
    }
  }
}

TEST_F(DocsCliTest, EveryTestThePart11MatrixNamesExists) {
  std::set<std::string> registered;
  const ::testing::UnitTest& all = *::testing::UnitTest::GetInstance();
  for (int i = 0; i < all.total_test_suite_count(); ++i) {
    const ::testing::TestSuite& suite = *all.GetTestSuite(i);
    for (int j = 0; j < suite.total_test_count(); ++j) {
      registered.insert(std::string(suite.name()) + "." + suite.GetTestInfo(j)->name());
    }
  }
  const std::string text = readFile(sourceDir() + "/docs/part11.md");
  const std::regex named("`([A-Z][A-Za-z0-9]*Test\\.[A-Z][A-Za-z0-9]*)`");
  size_t count = 0;
  for (std::sregex_iterator it(text.begin(), text.end(), named), end; it != end; ++it, ++count) {
    EXPECT_EQ(registered.count((*it)[1]), 1u)
        << "docs/part11.md names " << (*it)[1] << ", which is not a test of integration_tests";
  }
  EXPECT_GE(count, 30u) << "the matrix names the tests that show each requirement";
}

// ---------------------------------------------------------------------------------------------
// Against a real labgated

class DocsEngineTest : public EngineTest {
 protected:
  void SetUp() override {
    EngineTest::SetUp();
    config_.set("security.argon2.memory_kib", "1024");
    config_.set("security.argon2.iterations", "1");
  }

  std::string adminToken() {
    ApiResponse r;
    std::string token = api().login("default", "admin", kTestAdminPassword, "", &r);
    EXPECT_FALSE(token.empty()) << r.describe();
    return token;
  }

  ApiClient api() const { return ApiClient(config_.httpPort); }

  /// labgated run to its end on the current configuration (it must not start).
  ProgramRun refusedStart() {
    config_.write(configPath_);
    ProgramRun r = runProgram(labgated(), {"--config", configPath_}, 30000ms, tmp_->path());
    EXPECT_TRUE(r.finished) << "labgated started although it should have refused";
    return r;
  }
  ProgramRun checkConfig() {
    config_.write(configPath_);
    return runProgram(labgated(), {"--check-config", "--config", configPath_}, 30000ms,
                      tmp_->path());
  }

  void makeFileDrop(const std::string& inbox) {
    ConnectorConfig& drop = config_.connectors.at(0);
    drop.name = "quant1";
    drop.kind = "file-drop";
    drop.instrument = "qqq-01";
    drop.extra = {{"inbox", inbox}};
    config_.omit("connector.quant1.listen");
    config_.omit("connector.quant1.astm.receive_timeout_seconds");
  }
};

TEST_F(DocsEngineTest, SampleStateFilterTakesAnyCaseAndRefusesOtherWords) {
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());
  const std::string sampleId = newSampleId("ST");
  AstmInstrument instrument(astmPort());
  ASSERT_TRUE(instrument.sendSession(buildAstmMessage({{sampleId, {{"GLU", "5.6", "mmol/L"}}, {}}}))
                  .complete);
  const std::string token = adminToken();
  auto found = [&](const std::string& state) {
    ApiResponse r =
        api().get("/api/v1/samples?sample_id=" + sampleId + "&state=" + state, withBearer(token));
    EXPECT_EQ(r.status, 200) << state << ": " << r.describe();
    return r.items()->size() == 1;
  };
  ASSERT_TRUE(waitUntil([&] { return found("release"); }, 10000ms, 200ms))
      << "the released sample is not listed under state=release";
  EXPECT_TRUE(found("RELEASE")) << "state=RELEASE: the docs' upper case";
  EXPECT_TRUE(found("Release"));
  EXPECT_FALSE(found("hold"));
  EXPECT_FALSE(found("HOLD"));
  // The documented empty filters answer everything.
  ApiResponse all =
      api().get("/api/v1/samples?sample_id=&instrument=&from=&to=&state=", withBearer(token));
  EXPECT_EQ(all.status, 200) << all.describe();
  EXPECT_GE(all.items()->size(), 1u);
  ApiResponse bad = api().get("/api/v1/samples?state=held", withBearer(token));
  EXPECT_EQ(bad.status, 400) << bad.describe();
  EXPECT_NE(bad.describe().find("release, hold or reject"), std::string::npos) << bad.describe();
  EXPECT_TRUE(health().ok()) << "the engine still serves";
}

TEST_F(DocsEngineTest, EveryDocumentedGetAnswersOnARealEngine) {
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());
  const std::string token = adminToken();
  int asked = 0;
  for (const auto& [method, path] : documentedRequests()) {
    if (method != "GET" || path.find('{') != std::string::npos) continue;
    ApiResponse r = api().get(path, withBearer(token));
    EXPECT_NE(r.status, 0) << path << ": " << r.error;
    EXPECT_NE(r.status, 404) << "GET " << path << " (documented): " << r.describe();
    EXPECT_NE(r.status, 405) << "GET " << path << " (documented): " << r.describe();
    EXPECT_LT(r.status, 500 + (path == "/api/v1/backups" ? 100 : 0))
        << "GET " << path << ": " << r.describe();
    ++asked;
  }
  EXPECT_GE(asked, 5);
  for (const char* path : {"/health", "/ready", "/metrics"}) {
    ApiResponse r = api().get(path);
    EXPECT_EQ(r.status, 200) << path << ": " << r.describe();
  }
}

TEST_F(DocsEngineTest, DiagnosticsNeedDiagnosticsReadNotLoopback) {
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());
  const std::string path = "/api/v1/instruments/tq-01/diagnostics?batches=5";
  EXPECT_EQ(api().get(path).status, 401) << "loopback alone is not enough";
  const std::string token = adminToken();
  ApiResponse ok = api().get(path, withBearer(token));
  EXPECT_EQ(ok.status, 200) << ok.describe();
  // An auditor (audit.read, logins.read) lacks diagnostics.read.
  ApiResponse made = api().post(
      "/api/v1/api-keys",
      Json().set("name", "audit").set("roles", std::vector<std::string>{"auditor"}).str(),
      withBearer(token));
  ASSERT_EQ(made.status, 201) << made.describe();
  ApiResponse refused = api().get(path, withBearer(made.text("key")));
  EXPECT_EQ(refused.status, 403) << refused.describe();
}

TEST_F(DocsEngineTest, BadMappingFileIsNamedWithConfigFileKeyAndLine) {
  const std::string mappings = tmp_->file("lab1.csv");
  writeFile(mappings, readFile(defaultMappingsPath()) + "X1,Y1,Name,mg/L,abc\n");
  const size_t line = linesOf(readFile(mappings)).size();
  config_.connectors.at(0).mappings = mappings;
  ProgramRun r = refusedStart();
  EXPECT_EQ(r.exitCode, 78);
  EXPECT_NE(r.err.find("labgated: " + configPath_ + ": connector.lab1.mappings: " + mappings + ":" +
                       std::to_string(line) + ": column decimals"),
            std::string::npos)
      << r.err;
}

TEST_F(DocsEngineTest, PortInUseNamesTheListenKeyAndSaysWhy) {
  Poco::Net::ServerSocket taken(Poco::Net::SocketAddress("127.0.0.1", 0));
  config_.connectors.at(0).port = taken.address().port();
  ProgramRun r = refusedStart();
  EXPECT_EQ(r.exitCode, 78);
  EXPECT_NE(r.err.find("labgated: " + configPath_ +
                       ": connector.lab1.listen: cannot listen on "
                       "127.0.0.1:" +
                       std::to_string(taken.address().port()) + ": the port is in use"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(r.err.find("Net Exception"), std::string::npos) << "raw library text: " << r.err;
}

TEST_F(DocsEngineTest, MissingInboxStopsStartUpNamingTheKey) {
  const std::string inbox = tmp_->file("no-such-inbox");
  makeFileDrop(inbox);
  ProgramRun r = refusedStart();
  EXPECT_EQ(r.exitCode, 78);
  EXPECT_NE(r.err.find("connector.quant1.inbox: cannot use " + inbox), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("does not exist"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(inbox)) << "the inbox was created";
}

TEST_F(DocsEngineTest, WindowsInboxPathIsRefusedNamingTheKey) {
  // In the properties file `C:\Exports\quant` reads as `C:Exportsquant`; written with doubled
  // backslashes it keeps them. Both are refused, by --check-config and at start-up.
  for (const std::string& written :
       {std::string("C:\\Exports\\quant"), std::string("C:\\\\Exports\\\\quant"),
        std::string("exports\\\\quant")}) {
    SCOPED_TRACE(written);
    makeFileDrop(written);
    ProgramRun check = checkConfig();
    EXPECT_EQ(check.exitCode, 1) << check.out << check.err;
    EXPECT_NE(check.err.find("connector.quant1.inbox: \""), std::string::npos) << check.err;
    EXPECT_NE(check.err.find("looks like a Windows path"), std::string::npos) << check.err;
    ProgramRun r = refusedStart();
    EXPECT_EQ(r.exitCode, 78);
    EXPECT_NE(r.err.find("connector.quant1.inbox: "), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("looks like a Windows path"), std::string::npos) << r.err;
  }
  EXPECT_FALSE(fs::exists("C:Exportsquant")) << "a folder was made of the Windows path";
}

}  // namespace
}  // namespace labgate::it
