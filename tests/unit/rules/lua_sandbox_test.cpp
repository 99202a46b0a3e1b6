// The Lua sandbox against hostile scripts (issue 18, finding 14): every attack that aborted or hung
// the engine ends at once with LUA_LIMIT or LUA_ERROR, the limits cannot be caught by the script,
// long-running built-ins are bounded, finalizers are refused, no address is printed, and limits
// beyond the documented maxima are refused at load.
#include "rules/lua_sandbox.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "rules/lua_rule.h"
#include "rules/rule_set.h"

namespace labgate::rules {
namespace {

Message batch(const std::vector<std::string>& sampleIds = {"S-1"}) {
  Message m;
  m.sender = "test";
  for (const std::string& id : sampleIds) {
    Sample s;
    s.sampleId = id;
    Result r;
    r.instrumentCode = "CORT";
    r.value = "12.5";
    r.numeric = 12.5;
    s.results.push_back(r);
    m.samples.push_back(s);
  }
  return m;
}

/// Limits small enough that a test never waits long, even when a bound would fail.
LuaLimits quick() {
  LuaLimits limits;
  limits.instructions = 200'000;
  limits.memoryBytes = 2u << 20;
  limits.timeout = std::chrono::milliseconds(5000);
  return limits;
}

std::shared_ptr<LuaRule> load(const std::string& source, LuaLimits limits = quick()) {
  auto rule = LuaRule::load("t", source, limits);
  EXPECT_TRUE(rule.isOk()) << rule.status().toString();
  return rule.isOk() ? rule.value() : nullptr;
}

CheckResult once(LuaRule& rule, const std::string& sampleId = "S-1") {
  Message m = batch({sampleId});
  return rule.evaluate(m.samples[0].results[0], m.samples[0], m);
}

CheckResult run(const std::string& source, LuaLimits limits = quick()) {
  auto rule = load(source, limits);
  if (!rule) return {};
  return once(*rule);
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(LuaSandbox, AnIndexMetamethodThatRaisesIsAnError) {
  CheckResult c =
      run("function check() return setmetatable({}, {__index = function() error('boom') end}) end");
  EXPECT_EQ(c.code, "LUA_ERROR");
  EXPECT_TRUE(contains(c.message, "boom")) << c.message;
  EXPECT_EQ(c.onFail, DispositionKind::kHold);
  // The same at load: the globals' __index raises when check() is looked up.
  auto global = LuaRule::load(
      "g", "setmetatable(_G, {__index = function() error('no globals here') end})", quick());
  ASSERT_FALSE(global.isOk());
  EXPECT_TRUE(contains(global.status().reason(), "no globals here")) << global.status().toString();
}

TEST(LuaSandbox, AnIndexChainOrLoopIsAnError) {
  CheckResult chain = run(R"(
    local t = {}
    for i = 1, 3000 do t = setmetatable({}, {__index = t}) end
    function check() return t end)");
  EXPECT_EQ(chain.code, "LUA_ERROR");
  EXPECT_TRUE(contains(chain.message, "chain too long")) << chain.message;
  CheckResult loop = run(R"(
    local t = {}
    setmetatable(t, {__index = t})
    function check() return t end)");
  EXPECT_EQ(loop.code, "LUA_ERROR") << loop.message;
}

TEST(LuaSandbox, MemoryFilledBetweenCallsIsALimitAndTheInterpreterStartsAfresh) {
  LuaLimits limits = quick();
  limits.memoryBytes = 512u << 10;
  limits.instructions = 10'000'000;
  auto rule = load(R"(
    keep = {}
    local function grow(size) keep[#keep + 1] = string.rep('x', size) end
    function check(r, s, b)
      if #keep > 0 then return {outcome = 'WARN', code = 'STILL_FULL'} end
      -- Fill the memory to the last few bytes: halve the piece whenever one does not fit.
      local size = 1 << 20
      while size > 0 do if not pcall(grow, size) then size = size // 2 end end
    end)",
                   limits);
  ASSERT_TRUE(rule);
  CheckResult fill = once(*rule);
  EXPECT_NE(fill.code, "STILL_FULL");
  // The next call cannot even build its arguments: a finding, not an abort.
  CheckResult full = once(*rule);
  EXPECT_EQ(full.code, "LUA_LIMIT");
  EXPECT_TRUE(contains(full.message, "memory limit")) << full.message;
  EXPECT_TRUE(contains(full.message, "discarded")) << full.message;
  // Then the script starts again from its top level, with its memory free.
  CheckResult again = once(*rule);
  EXPECT_NE(again.code, "STILL_FULL");
  EXPECT_NE(again.code, "LUA_LIMIT") << again.message;
}

TEST(LuaSandbox, PcallCannotSwallowTheInstructionLimit) {
  for (const char* body : {
           // pcall catches the hook's error and loops again
           "while true do pcall(function() while true do end end) end",
           // the limit raised inside a protected call inside a protected call
           "while true do pcall(pcall, function() while true do end end) end",
           // xpcall's handler would run with hooks off when the error came from the hook
           "xpcall(function() while true do end end, function() while true do end end)",
           "while true do xpcall(function() while true do end end, function(e) return e end) end",
           // a to-be-closed variable whose __close loops when the limit unwinds it
           // NOLINTNEXTLINE(bugprone-suspicious-missing-comma): one chunk over two lines
           "local x <close> = setmetatable({}, {__close = function() while true do end end}) "
           "while true do end",
           // error() with a table, caught and the loop resumed
           "while true do pcall(error, {}) end",
       }) {
    CheckResult c = run(std::string("function check(r, s, b) ") + body + " end");
    EXPECT_EQ(c.code, "LUA_LIMIT") << body << ": " << c.message;
    EXPECT_TRUE(contains(c.message, "instruction limit")) << body << ": " << c.message;
  }
}

TEST(LuaSandbox, BacktrackingPatternsAreBounded) {
  for (const char* call : {
           "string.find(string.rep('a', 1e5), string.rep('.-', 30) .. 'b')",
           "string.match(string.rep('a', 1e5), string.rep('a*', 20) .. 'b')",
           "string.gsub(string.rep('a', 1e5), string.rep('.-', 30) .. 'b', '')",
           "string.gmatch(string.rep('a', 1e5), string.rep('.-', 30) .. 'b')()",
           "(string.rep('a', 1e5)):find(string.rep('.-', 30) .. 'b')",
           // an empty pattern matches everywhere; the replacement is read at every match
           "string.gsub(string.rep('a', 1e5), '', string.rep('%0', 5e4))",
           // NOLINTNEXTLINE(bugprone-suspicious-missing-comma): one chunk over two lines
           "pcall(string.find, string.rep('a', 1e5), string.rep('.-', 30) .. 'b') while true do "
           "end",
       }) {
    CheckResult c = run(std::string("function check(r, s, b) ") + call + " end");
    EXPECT_EQ(c.code, "LUA_LIMIT") << call << ": " << c.message;
    EXPECT_TRUE(contains(c.message, "too costly")) << call << ": " << c.message;
  }
  // Everyday patterns on field-sized text still work.
  CheckResult ok = run(R"(
    function check(r, s, b)
      local trimmed = string.match('  ' .. string.rep('x', 150) .. '  ', '^%s*(.-)%s*$')
      local number = string.match('12.5 mg/L', '^(%d+%.?%d*)')
      local replaced = string.gsub('a,b,c', ',', ';')
      local found = string.find(r.code, 'OR', 1, true)
      local words = 0
      for w in string.gmatch('one two three', '%a+') do words = words + 1 end
      return {outcome = 'WARN', code = #trimmed .. '|' .. number .. '|' .. replaced .. '|' ..
              found .. '|' .. words}
    end)");
  EXPECT_EQ(ok.code, "150|12.5|a;b;c|2|3") << ok.message;
}

TEST(LuaSandbox, PatternCostEstimate) {
  EXPECT_LT(luaPatternCost("%d+", 200, true), kLuaPatternBudget);
  EXPECT_LT(luaPatternCost("^%s*(.-)%s*$", 200, true), kLuaPatternBudget);
  EXPECT_LT(luaPatternCost("[%w_]+", 10000, true), kLuaPatternBudget);
  EXPECT_GT(luaPatternCost(".-.-.-b", 10000, true), kLuaPatternBudget);
  EXPECT_GT(luaPatternCost("%b()%1", 100000, true), kLuaPatternBudget);
  EXPECT_GT(luaPatternCost("a?a?a?a?a?a?a?a?a?a?a?a?a?a?a?a?a?a?a?a?a?a?a?a?a?", 1000, true),
            kLuaPatternBudget);
  // '^' anchors find/match/gsub (one start) but is a plain character to gmatch.
  EXPECT_LT(luaPatternCost("^a-b", 4000, true), luaPatternCost("^a-b", 4000, false));
}

TEST(LuaSandbox, TableMovesAreBoundedAndCharged) {
  for (const char* body : {
           "table.insert(setmetatable({}, {__len = function() return 1 << 50 end}), 1, true)",
           "table.remove(setmetatable({}, {__len = function() return 1 << 50 end}), 1)",
           "table.move({}, 1, 1e15, 1)",
           "table.insert(setmetatable({}, {__len = function() return math.maxinteger end}), 1, 0)",
           // NOLINTNEXTLINE(bugprone-suspicious-missing-comma): one chunk over two lines
           "table.remove(setmetatable({}, {__len = function() return math.maxinteger end}), "
           "math.mininteger)",
       }) {
    CheckResult c = run(std::string("function check(r, s, b) ") + body + " end");
    EXPECT_EQ(c.code, "LUA_LIMIT") << body << ": " << c.message;
    EXPECT_TRUE(contains(c.message, "more elements")) << body << ": " << c.message;
  }
  // Moving many elements over and over spends the instruction budget.
  CheckResult charged = run(R"(
    local t = {}
    for i = 1, 50000 do t[i] = i end
    function check() while true do table.insert(t, 1, 0) table.remove(t, 1) end end)");
  EXPECT_EQ(charged.code, "LUA_LIMIT");
  EXPECT_TRUE(contains(charged.message, "instruction limit")) << charged.message;
  // And they still do what Lua's do.
  CheckResult ok = run(R"(
    function check()
      local t = {1, 2, 3}
      table.insert(t, 1, 0)
      table.insert(t, 4)
      local first = table.remove(t, 1)
      local last = table.remove(t)
      local moved = table.move({1, 2, 3}, 1, 3, 2)
      local copy = table.move({7, 8}, 1, 2, 1, {})
      return {outcome = 'WARN', code = table.concat(t, ',') .. '|' .. first .. '|' .. last ..
              '|' .. table.concat(moved, ',') .. '|' .. table.concat(copy, ',')}
    end)");
  EXPECT_EQ(ok.code, "1,2,3|0|4|1,1,2,3|7,8") << ok.message;
}

TEST(LuaSandbox, FinalizersAreRefused) {
  // At load: the finalizer would run unhooked when the interpreter is closed.
  auto top = LuaRule::load(
      "gc", "setmetatable({}, {__gc = function() while true do end end}) function check() end",
      quick());
  ASSERT_FALSE(top.isOk());
  EXPECT_TRUE(contains(top.status().reason(), "__gc")) << top.status().toString();
  // In a call, in a loop that makes garbage.
  CheckResult c = run(R"(
    function check()
      for i = 1, 1e6 do setmetatable({}, {__gc = function() while true do end end}) end
    end)");
  EXPECT_EQ(c.code, "LUA_ERROR");
  EXPECT_TRUE(contains(c.message, "__gc")) << c.message;
  // Other metatables still work.
  EXPECT_EQ(run("function check() return setmetatable({}, {__index = {outcome = 'WARN', "
                "code = 'INHERITED'}}) end")
                .code,
            "INHERITED");
}

TEST(LuaSandbox, TostringAndFormatPrintNoAddress) {
  CheckResult c = run(R"(
    function check(r)
      local named = setmetatable({}, {__name = 'Thing'})
      local own = setmetatable({}, {__tostring = function() return 'mine' end})
      return {outcome = 'WARN', code = tostring({}) .. '|' .. tostring(check) .. '|' ..
              tostring(named) .. '|' .. string.format('%s %s %5.1f', {}, own, 12.25) .. '|' ..
              tostring(12) .. '|' .. tostring(nil) .. '|' .. tostring(r)}
    end)");
  EXPECT_EQ(c.code, "table|function|table|table mine  12.2|12|nil|table") << c.message;
  EXPECT_FALSE(contains(c.code, "0x"));
  CheckResult p =
      run("function check() return {outcome = 'WARN', code = "
          "string.format('%p', {})} end");
  EXPECT_EQ(p.code, "LUA_ERROR");
  EXPECT_TRUE(contains(p.message, "%p")) << p.message;
}

TEST(LuaSandbox, TheTimeLimitStopsWhatTheInstructionLimitDoesNotAndDiscardsTheInterpreter) {
  LuaLimits limits;
  limits.instructions = LuaLimits::kMaxInstructions;
  limits.memoryBytes = LuaLimits::kMaxMemoryBytes;
  limits.timeout = std::chrono::milliseconds(50);
  // Each turn copies a megabyte: the instruction budget would last minutes, the clock does not.
  auto rule = load(R"(
    calls = 0
    function check(r, s)
      calls = calls + 1
      if s.id == 'LOOP' then while true do local x = string.rep('x', 1e6) end end
      return {outcome = 'WARN', code = 'CALL_' .. calls}
    end)",
                   limits);
  ASSERT_TRUE(rule);
  EXPECT_EQ(once(*rule).code, "CALL_1");
  Message m = batch({"LOOP"});
  bool timedOut = false;
  CheckResult c = rule->evaluate(m.samples[0].results[0], m.samples[0], m, &timedOut);
  EXPECT_EQ(c.code, "LUA_LIMIT");
  EXPECT_TRUE(contains(c.message, "time limit (50 ms")) << c.message;
  EXPECT_TRUE(timedOut);
  // The interpreter was rebuilt from the script: its globals start again.
  EXPECT_EQ(once(*rule).code, "CALL_1");
  EXPECT_EQ(once(*rule).code, "CALL_2");
}

TEST(LuaSandbox, AnInstructionLimitKeepsTheInterpreter) {
  auto rule = load(R"(
    calls = 0
    function check(r, s)
      calls = calls + 1
      if s.id == 'LOOP' then while true do end end
      return {outcome = 'WARN', code = 'CALL_' .. calls}
    end)");
  ASSERT_TRUE(rule);
  EXPECT_EQ(once(*rule, "LOOP").code, "LUA_LIMIT");
  EXPECT_EQ(once(*rule).code, "CALL_2");
}

TEST(LuaSandbox, LimitsBeyondTheMaximaAreRefusedAtLoad) {
  LuaLimits huge;
  huge.instructions = 1'000'000'000'000;
  auto rule = LuaRule::load("big", "function check() end", huge);
  ASSERT_FALSE(rule.isOk());
  EXPECT_TRUE(contains(rule.status().reason(), "instructions")) << rule.status().toString();

  auto error = [](const std::string& entry) {
    auto parsed = parseRuleSet(
        R"({"version":"1","lua":[{"name":"x","file":"/nonexistent.lua",)" + entry + "}]}",
        "t.json");
    return parsed.isOk() ? std::string() : parsed.status().toString();
  };
  EXPECT_TRUE(contains(error(R"("instructions": 1e300)"),
                       "lua[0].instructions: must be a whole number from 1000 to 100000000"))
      << error(R"("instructions": 1e300)");
  EXPECT_TRUE(contains(error(R"("memory_bytes": 1e300)"),
                       "lua[0].memory_bytes: must be a whole number from 65536 to 67108864"))
      << error(R"("memory_bytes": 1e300)");
  EXPECT_TRUE(
      contains(error(R"("timeout_ms": 0)"), "lua[0].timeout_ms: must be a whole number from 10"))
      << error(R"("timeout_ms": 0)");
  EXPECT_TRUE(contains(error(R"("instructions": 2500.5)"), "lua[0].instructions"));
  EXPECT_TRUE(contains(error(R"("timeout_ms": "fast")"), "lua[0].timeout_ms"));
  // In range, the only error left is the missing file.
  EXPECT_TRUE(contains(error(R"("instructions": 2e5, "memory_bytes": 1048576, "timeout_ms": 250)"),
                       "lua[0].file: cannot open"));
}

TEST(LuaSandbox, ARuleOutOfTimeIsNotRunAgainInTheSameBatch) {
  namespace fs = std::filesystem;
  const std::string script =
      (fs::temp_directory_path() / ("lua_sandbox_test_" + std::to_string(::getpid()) + ".lua"))
          .string();
  {
    std::ofstream out(script);
    out << "function check() while true do local x = string.rep('x', 1e6) end end\n";
  }
  auto parsed =
      parseRuleSet(R"({"version":"1","lua":[{"name":"slow","file":")" + script +
                       R"(","instructions":100000000,"memory_bytes":67108864,"timeout_ms":50}]})",
                   "t.json");
  fs::remove(script);
  ASSERT_TRUE(parsed.isOk()) << parsed.status().toString();
  Message m = batch({"A", "B", "C", "D"});
  parsed.value()->evaluate(m, RulesContext{});
  int timedOut = 0, notRun = 0;
  for (const Sample& s : m.samples) {
    for (const Result& r : s.results) {
      for (const Finding& f : r.findings) {
        if (f.ruleId != "lua.slow") continue;
        EXPECT_EQ(f.action, DispositionKind::kHold);
        EXPECT_EQ(f.severity, Severity::kError);
        if (contains(f.message, "not run")) {
          ++notRun;
        } else if (contains(f.message, "time limit")) {
          ++timedOut;
        }
      }
    }
  }
  EXPECT_EQ(timedOut, 1);
  EXPECT_EQ(notRun, 3);
}

}  // namespace
}  // namespace labgate::rules
