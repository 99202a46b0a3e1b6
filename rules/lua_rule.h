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
// package, debug or coroutine. Limits the script cannot catch stop runaway scripts: an
// instruction budget per call, a memory limit per interpreter, and a wall-clock deadline per call;
// built-ins that would run long inside C (string patterns, table moves) are bounded, finalizers
// (__gc) are refused, and no address is ever printed (rules/lua_sandbox.h). Every call into Lua
// runs protected. A script that fails to load is a configuration error at start-up; a script
// that errs or exceeds a limit at run time yields a HOLD finding naming the rule and the kind of
// failure, never a crash and never a value from the message. After a time or memory limit the
// interpreter is discarded and rebuilt from the script before the next call.
//
// Thread-safety: a LuaRule owns one interpreter state and a mutex; evaluate() may be called from
// any thread (calls are serialised per rule).
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "engine/model/model.h"
#include "engine/model/status.h"
#include "rules/check.h"

namespace labgate::rules {

struct LuaLimits {
  int64_t instructions = 1'000'000;         // per call
  size_t memoryBytes = 8u << 20;            // per interpreter
  std::chrono::milliseconds timeout{1000};  // wall clock per call

  // The accepted ranges (docs/rules.md, `lua`); load() refuses values outside them.
  static constexpr int64_t kMinInstructions = 1000;
  static constexpr int64_t kMaxInstructions = 100'000'000;
  static constexpr size_t kMinMemoryBytes = 64u << 10;
  static constexpr size_t kMaxMemoryBytes = 64u << 20;
  static constexpr int64_t kMinTimeoutMs = 10;
  static constexpr int64_t kMaxTimeoutMs = 10'000;
};

class LuaRule {
 public:
  /// Compiles `source` (named `name` in errors) and runs its top level once in the sandbox.
  /// Status::config when a limit is out of range, the script does not compile, its top level
  /// fails or exceeds a limit, or it defines no check().
  static StatusOr<std::shared_ptr<LuaRule>> load(const std::string& name, const std::string& source,
                                                 LuaLimits limits = {});
  ~LuaRule();
  LuaRule(const LuaRule&) = delete;
  LuaRule& operator=(const LuaRule&) = delete;

  /// Runs check() for one result. The CheckResult's ruleId is "lua.<name>"; errors and limits
  /// give Outcome::kFail with code LUA_ERROR / LUA_LIMIT and action hold. `timedOut`, when
  /// given, is set to whether this call hit the time limit.
  CheckResult evaluate(const Result& result, const Sample& sample, const Message& batch,
                       bool* timedOut = nullptr);

  /// The LUA_LIMIT finding for a result the rule was not run on because it exceeded its time
  /// limit earlier in the same batch.
  CheckResult notRunAfterTimeout() const;

  const std::string& name() const { return name_; }

  struct State;  // the interpreter and its accounting (lua_rule.cpp)

 private:
  LuaRule(std::string name, std::string source, LuaLimits limits);
  /// Creates the interpreter and runs the script's top level (state_ set on success).
  Status build();
  CheckResult limitFinding(const std::string& why) const;

  std::string name_;
  std::string source_;
  LuaLimits limits_;
  std::unique_ptr<State> state_;
  std::mutex mutex_;
};

}  // namespace labgate::rules
