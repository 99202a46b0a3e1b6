// Hostile Lua rules through the real labgated (issue 18, finding 14). An export dropped into a
// watched folder meets rules that aborted the engine (an __index that raises, memory filled between
// calls) or hung it at full CPU with /health still "ok" and SIGTERM ignored (a pattern that
// backtracks inside C behind a pcall, a loop that only the clock stops). Each batch is imported and
// its results held with LUA_LIMIT or LUA_ERROR; labgated keeps serving and stops cleanly on
// SIGTERM. A rule set whose limits exceed the documented maxima is refused at start-up, naming the
// key.
#include <filesystem>

#include "tests/integration/harness.h"

namespace labgate::it {
namespace {

namespace fs = std::filesystem;

class SecurityLuaTest : public EngineTest {
 protected:
  void SetUp() override {
    EngineTest::SetUp();
    inbox_ = tmp_->file("inbox");
    fs::create_directories(inbox_);
    ConnectorConfig& drop = config_.connectors.at(0);
    drop.name = "lcms1";
    drop.kind = "file-drop";
    drop.instrument = "qqq-01";
    drop.mappings = testDataDir() + "/exports/mappings-lcms.csv";
    drop.extra = {{"inbox", inbox_},
                  {"poll_ms", "100"},
                  {"settle_ms", "300"},
                  {"rules", tmp_->file("rules.json")}};
    config_.omit("connector.lcms1.listen");
    config_.omit("connector.lcms1.astm.receive_timeout_seconds");
  }

  /// Writes `source` as rule `name` and returns its rule-set entry (absolute file path).
  std::string luaRule(const std::string& name, const std::string& source,
                      const std::string& limits = "") {
    const std::string file = tmp_->file(name + ".lua");
    writeFile(file, source);
    return R"({"name": ")" + name + R"(", "file": ")" + file + "\"" +
           (limits.empty() ? "" : ", " + limits) + "}";
  }

  /// A rule set with only the given Lua rules: no built-in check, so every finding is theirs.
  void writeRuleSet(const std::vector<std::string>& entries) {
    std::string list;
    for (const std::string& e : entries) list += (list.empty() ? "" : ", ") + e;
    writeFile(tmp_->file("rules.json"),
              R"({"version": "sec-lua-1", "checks": {"peaks": false, "calibration": false,
                  "qc": false, "diagnostics": false, "trends": false, "autoverify": false},
                  "lua": [)" +
                  list + "]}");
  }

  /// Drops the steroid batch as `name`; `another` changes one acquisition time so that it is a
  /// new batch rather than a duplicate.
  void drop(const std::string& name, bool another = false) {
    std::string bytes = readFile(testDataDir() + "/exports/steroids_batch.csv");
    if (another) bytes.replace(bytes.find("9:02 AM"), 7, "9:03 AM");
    writeFile(inbox_ + "/." + name + ".tmp", bytes);
    fs::rename(inbox_ + "/." + name + ".tmp", inbox_ + "/" + name);
  }

  std::string query(const std::string& sql) const {
    return storeQuery(config_.dataDir + "/labgate.db", sql).value_or("<store unreadable>");
  }

  std::string inbox_;
};

// The rules that aborted or hung labgated before the fix, one per way in.
TEST_F(SecurityLuaTest, HostileRulesHoldTheBatchAndTheEngineKeepsServing) {
  writeRuleSet({
      // Raised inside an __index the engine read outside any protected call: SIGABRT.
      luaRule("raising_index",
              "function check() return setmetatable({}, {__index = function() "
              "error('boom') end}) end"),
      // Memory filled to the last bytes by one call; the next call's arguments cannot be built:
      // SIGABRT.
      luaRule("memory_fill", R"(
        keep = {}
        local function grow(size) keep[#keep + 1] = string.rep('x', size) end
        function check()
          local size = 1 << 20
          while size > 0 do if not pcall(grow, size) then size = size // 2 end end
        end)",
              R"("memory_bytes": 1048576)"),
      // Backtracking inside C, where no hook fires, behind a pcall: hung at full CPU for ever.
      luaRule("pattern_bomb", R"(
        function check()
          while true do
            pcall(string.find, string.rep('a', 1e5), string.rep('.-', 30) .. 'b')
          end
        end)"),
      // A loop only the clock stops (each turn copies a megabyte; the budget would last minutes).
      luaRule("slow", "function check() while true do local x = string.rep('x', 1e6) end end",
              R"("instructions": 100000000, "memory_bytes": 67108864, "timeout_ms": 200)"),
  });
  startLis();
  ASSERT_NO_FATAL_FAILURE(startEngine());

  drop("steroids.csv");
  ASSERT_TRUE(waitUntil([&] { return fileExists(inbox_ + "/processed/steroids.csv"); }, 120000ms))
      << "the batch never reached processed/; rejected/ holds: "
      << readFile(inbox_ + "/rejected/steroids.csv.reason");
  ASSERT_TRUE(engine_->running()) << "labgated ended while evaluating the rules";

  // Every evaluated result carries each rule's finding, and none of them is released.
  const std::string evaluated = query("SELECT COUNT(*) FROM results WHERE internal_standard = 0");
  ASSERT_NE(evaluated, "0");
  auto count = [&](const std::string& rule, const std::string& like) {
    return query("SELECT COUNT(*) FROM findings WHERE rule_id = '" + rule +
                 "' AND severity = 'error' AND action = 'hold' AND message LIKE '" + like + "'");
  };
  EXPECT_EQ(count("lua.raising_index", "LUA_ERROR: %boom%"), evaluated);
  EXPECT_EQ(count("lua.pattern_bomb", "LUA_LIMIT: %string.find: the pattern is too costly%"),
            evaluated);
  EXPECT_EQ(count("lua.slow", "LUA_LIMIT: the script exceeded its time limit (200 ms%"), "1");
  EXPECT_EQ(count("lua.slow", "LUA_LIMIT: not run: %earlier in this batch"),
            std::to_string(std::stol(evaluated) - 1));
  // Every second call finds the memory still full: at least half of them are LUA_LIMIT.
  EXPECT_GE(std::stol(count("lua.memory_fill", "LUA_LIMIT: %memory limit%")),
            std::stol(evaluated) / 2);
  EXPECT_EQ(query("SELECT COUNT(*) FROM results WHERE internal_standard = 0 AND disposition = "
                  "'release'"),
            "0");

  // Still serving: /health answers and a second batch goes through the same rules.
  Health h = health();
  EXPECT_EQ(h.httpStatus, 200);
  drop("steroids-again.csv", true);
  EXPECT_TRUE(
      waitUntil([&] { return fileExists(inbox_ + "/processed/steroids-again.csv"); }, 120000ms));
  EXPECT_EQ(health().httpStatus, 200);
  std::this_thread::sleep_for(300ms);
  EXPECT_TRUE(lis_->messages().empty()) << "a held result reached the LIS";

  // And SIGTERM stops it (exit 0) within the harness's 20 s.
  ASSERT_NO_FATAL_FAILURE(stopEngine());
  const std::string log = engine_->stderrText();
  EXPECT_EQ(log.find("AddressSanitizer"), std::string::npos);
}

TEST_F(SecurityLuaTest, LimitsBeyondTheMaximaStopStartUpNamingTheKey) {
  writeRuleSet({luaRule("greedy", "function check() end", R"("instructions": 1e300)")});
  config_.write(configPath_);
  const std::string labgated = binDir() + "/labgated";
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"--check-config", "--config", configPath_},
        std::vector<std::string>{"--config", configPath_}}) {
    ProgramRun run = runProgram(labgated, args, 60000ms, tmp_->path());
    ASSERT_TRUE(run.finished) << args.front();
    EXPECT_NE(run.exitCode, 0) << args.front();
    EXPECT_NE(run.err.find("lua[0].instructions: must be a whole number from 1000 to 100000000"),
              std::string::npos)
        << args.front() << ": " << run.err;
  }
}

}  // namespace
}  // namespace labgate::it
