// The Lua sandbox: a rule sees read-only tables, returns findings, and cannot reach the system,
// loop forever or eat the memory; every failure is a HOLD finding, never a crash.
#include "rules/lua_rule.h"

#include <gtest/gtest.h>

namespace labgate::rules {
namespace {

Message batch() {
  Message m;
  m.sender = "test";
  Sample s;
  s.sampleId = "S-1";
  Result r;
  r.instrumentCode = "CORT";
  r.value = "12.5";
  r.numeric = 12.5;
  Peak p;
  p.area = 1000;
  p.signalToNoise = 4.0;
  r.peak = p;
  s.results.push_back(r);
  m.samples.push_back(s);
  return m;
}

CheckResult run(const std::string& source, LuaLimits limits = {}) {
  auto rule = LuaRule::load("t", source, limits);
  EXPECT_TRUE(rule.isOk()) << rule.status().toString();
  if (!rule.isOk()) return {};
  Message m = batch();
  return rule.value()->evaluate(m.samples[0].results[0], m.samples[0], m);
}

TEST(LuaRule, ReturnsAFindingFromTheResultItSees) {
  CheckResult c = run(R"(
    function check(result, sample, batch)
      if result.peak.sn < 10 then
        return {outcome = "FAIL", code = "LOW_SN", message = "S/N below 10 for " .. result.code,
                measured = result.peak.sn, limit = 10, action = "rerun"}
      end
    end)");
  EXPECT_EQ(c.outcome, Outcome::kFail);
  EXPECT_EQ(c.ruleId, "lua.t");
  EXPECT_EQ(c.code, "LOW_SN");
  EXPECT_EQ(c.message, "S/N below 10 for CORT");
  EXPECT_EQ(c.measured, "4.0");
  EXPECT_EQ(c.limit, "10");
  EXPECT_EQ(c.onFail, DispositionKind::kReject);
}

TEST(LuaRule, NilIsAPassAndMissingValuesAreNil) {
  CheckResult c =
      run("function check(r, s, b) if r.peak.height ~= nil then return {outcome='FAIL'} end end");
  EXPECT_EQ(c.outcome, Outcome::kPass);
}

TEST(LuaRule, ArgumentsAreReadOnly) {
  CheckResult c = run("function check(r, s, b) r.value = '0' end");
  EXPECT_EQ(c.outcome, Outcome::kFail);
  EXPECT_EQ(c.code, "LUA_ERROR");
  EXPECT_NE(c.message.find("read-only"), std::string::npos) << c.message;
  c = run("function check(r, s, b) setmetatable(r, nil) end");
  EXPECT_EQ(c.code, "LUA_ERROR");
}

TEST(LuaRule, NoSystemAccess) {
  for (const char* body : {"io.open('/etc/passwd')", "os.execute('true')", "require('os')",
                           "dofile('/etc/passwd')", "load('return 1')()", "loadfile('/etc/passwd')",
                           "string.dump(check)", "debug.getinfo(1)", "package.loadlib('x','y')"}) {
    CheckResult c = run(std::string("function check(r, s, b) ") + body + " end");
    EXPECT_EQ(c.outcome, Outcome::kFail) << body;
    EXPECT_EQ(c.code, "LUA_ERROR") << body;
  }
}

TEST(LuaRule, InstructionAndMemoryLimitsStopTheScript) {
  CheckResult loop = run("function check(r, s, b) while true do end end");
  EXPECT_EQ(loop.code, "LUA_LIMIT");
  EXPECT_EQ(loop.onFail, DispositionKind::kHold);
  CheckResult memory = run(
      "function check(r, s, b) local t = {} for i = 1, 1e9 do t[i] = string.rep('x', 1000) .. i "
      "end end",
      LuaLimits{100'000'000, 4u << 20});
  EXPECT_EQ(memory.code, "LUA_LIMIT") << memory.message;
  // The rule keeps working after a limit was hit.
  auto rule = LuaRule::load("again",
                            "n = 0 function check(r, s, b) n = n + 1 if n == 1 then "
                            "while true do end end return {outcome='WARN', code='OK'} end");
  ASSERT_TRUE(rule.isOk());
  Message m = batch();
  EXPECT_EQ(rule.value()->evaluate(m.samples[0].results[0], m.samples[0], m).code, "LUA_LIMIT");
  EXPECT_EQ(rule.value()->evaluate(m.samples[0].results[0], m.samples[0], m).code, "OK");
}

TEST(LuaRule, LoadErrorsAreConfigurationErrors) {
  auto syntax = LuaRule::load("bad", "function check(");
  ASSERT_FALSE(syntax.isOk());
  EXPECT_EQ(syntax.status().location(), "bad");
  auto nocheck = LuaRule::load("none", "x = 1");
  ASSERT_FALSE(nocheck.isOk());
  EXPECT_NE(nocheck.status().reason().find("check"), std::string::npos);
  auto toplevelLoop = LuaRule::load("spin", "while true do end function check() end");
  ASSERT_FALSE(toplevelLoop.isOk());
  std::string bytecode("\x1bLua", 4);
  EXPECT_FALSE(LuaRule::load("bin", bytecode).isOk());
}

TEST(LuaRule, BadReturnValuesAreErrors) {
  EXPECT_EQ(run("function check() return 5 end").code, "LUA_ERROR");
  EXPECT_EQ(run("function check() return {outcome='MAYBE'} end").code, "LUA_ERROR");
  EXPECT_EQ(run("function check() error('boom') end").code, "LUA_ERROR");
}

}  // namespace
}  // namespace labgate::rules
