// Custom rules written by a lab in Lua 5.4, run in a sandbox.
//
// A script defines a function `check(result, sample, batch)` and returns nothing (pass) or a
// table {outcome = "WARN"|"FAIL", code = "...", message = "...", measured = ..., limit = ...,
// action = "hold"|"rerun"}. The three arguments are read-only tables (writing to them is an
// error) built from the canonical model: result {code, lis_code, value, numeric, units, flags,
// internal_standard, peak = {rt, expected_rt, area, height, is_area, is_rt, ion_ratio, sn, width,
// asymmetry, manual, calculated, expected, accuracy, response_ratio, flags}}, sample {id, kind,
// level, dilution, position}, batch {sender, samples (count)}.
//
// The sandbox: only the base library's safe functions (no dofile, loadfile, load, require,
// collectgarbage, print, rawset on the arguments…), string, table, math and utf8; no io, os,
// package, debug or coroutine. An instruction limit (a count hook) and a memory limit (the
// allocator) stop runaway scripts. A script that fails to load is a configuration error at start-
// up; a script that errs or exceeds a limit at run time yields a HOLD finding naming the rule and
// the kind of failure, never a crash and never a value from the message.
//
// Thread-safety: a LuaRule owns one interpreter state and a mutex; evaluate() may be called from
// any thread (calls are serialised per rule).
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "engine/model/model.h"
#include "engine/model/status.h"
#include "rules/check.h"

namespace labgate::rules {

struct LuaLimits {
  int64_t instructions = 1'000'000;  // per call
  size_t memoryBytes = 8u << 20;     // per interpreter
};

class LuaRule {
 public:
  /// Compiles `source` (named `name` in errors) and runs its top level once in the sandbox.
  /// Status::config when it does not compile, its top level fails, or it defines no check().
  static StatusOr<std::shared_ptr<LuaRule>> load(const std::string& name, const std::string& source,
                                                 LuaLimits limits = {});
  ~LuaRule();
  LuaRule(const LuaRule&) = delete;
  LuaRule& operator=(const LuaRule&) = delete;

  /// Runs check() for one result. The CheckResult's ruleId is "lua.<name>"; errors and limits
  /// give Outcome::kFail with code LUA_ERROR / LUA_LIMIT and action hold.
  CheckResult evaluate(const Result& result, const Sample& sample, const Message& batch);

  const std::string& name() const { return name_; }

  struct State;  // the interpreter and its accounting (lua_rule.cpp)

 private:
  LuaRule(std::string name, LuaLimits limits);

  std::string name_;
  LuaLimits limits_;
  std::unique_ptr<State> state_;
  std::mutex mutex_;
};

}  // namespace labgate::rules
