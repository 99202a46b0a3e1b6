// The Lua custom rules: loading, argument tables, evaluation (see lua_rule.h); the sandbox's
// accounting and guarded library are in lua_sandbox.cpp.
#include "rules/lua_rule.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <lua.hpp>

#include "rules/lua_sandbox.h"

namespace labgate::rules {

struct LuaRule::State {
  LuaAccount account;  // outlives L: it is the allocator's user data
  lua_State* L = nullptr;
  int checkRef = LUA_NOREF;

  ~State() {
    if (L) lua_close(L);
  }
};

namespace {

int readOnly(lua_State* L) { return luaL_error(L, "the rule's arguments are read-only"); }

/// Replaces the table on top of the stack by an empty proxy whose reads go to it and whose
/// writes fail.
void makeReadOnly(lua_State* L) {
  int data = lua_gettop(L);
  lua_newtable(L);  // proxy
  lua_newtable(L);  // metatable
  lua_pushvalue(L, data);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, readOnly);
  lua_setfield(L, -2, "__newindex");
  lua_pushboolean(L, 0);
  lua_setfield(L, -2, "__metatable");  // getmetatable() gives false; setmetatable() fails
  lua_setmetatable(L, -2);
  lua_remove(L, data);
}

void setString(lua_State* L, const char* key, const std::string& value) {
  lua_pushlstring(L, value.data(), value.size());
  lua_setfield(L, -2, key);
}

void setNumber(lua_State* L, const char* key, const std::optional<double>& value) {
  if (!value) return;  // missing stays nil, never 0
  lua_pushnumber(L, *value);
  lua_setfield(L, -2, key);
}

void pushResult(lua_State* L, const Result& r) {
  lua_newtable(L);
  setString(L, "code", r.instrumentCode);
  setString(L, "lis_code", r.lisCode);
  setString(L, "value", r.value);
  setNumber(L, "numeric", r.numeric);
  setString(L, "units", r.units);
  setString(L, "flags", r.flags);
  setString(L, "reference_range", r.referenceRange);
  lua_pushboolean(L, r.internalStandard);
  lua_setfield(L, -2, "internal_standard");
  if (r.peak) {
    const Peak& p = *r.peak;
    lua_newtable(L);
    setNumber(L, "rt", p.retentionTime);
    setNumber(L, "expected_rt", p.expectedRetentionTime);
    setNumber(L, "area", p.area);
    setNumber(L, "height", p.height);
    setString(L, "is_name", p.internalStandard);
    setNumber(L, "is_area", p.internalStandardArea);
    setNumber(L, "is_rt", p.internalStandardRt);
    setNumber(L, "quantifier_area", p.quantifierArea);
    setNumber(L, "qualifier_area", p.qualifierArea);
    setNumber(L, "ion_ratio", p.ionRatio);
    setNumber(L, "sn", p.signalToNoise);
    setNumber(L, "width", p.width);
    setNumber(L, "asymmetry", p.asymmetry);
    lua_pushboolean(L, p.manualIntegration);
    lua_setfield(L, -2, "manual");
    setNumber(L, "calculated", p.calculatedConcentration);
    setNumber(L, "expected", p.expectedConcentration);
    setNumber(L, "accuracy", p.accuracy);
    setNumber(L, "response_ratio", p.responseRatio);
    setString(L, "flags", p.vendorFlags);
    makeReadOnly(L);
    lua_setfield(L, -2, "peak");
  }
  makeReadOnly(L);
}

void pushSample(lua_State* L, const Sample& s) {
  lua_newtable(L);
  setString(L, "id", s.sampleId);
  setString(L, "kind", toString(s.kind));
  setString(L, "level", s.level);
  setNumber(L, "dilution", s.dilution);
  setNumber(L, "nominal", s.nominalConcentration);
  setString(L, "position", s.position);
  setString(L, "acquired_at", s.acquiredAt);
  makeReadOnly(L);
}

void pushBatch(lua_State* L, const Message& m) {
  lua_newtable(L);
  setString(L, "sender", m.sender);
  lua_pushinteger(L, static_cast<lua_Integer>(m.samples.size()));
  lua_setfield(L, -2, "samples");
  lua_pushinteger(L, static_cast<lua_Integer>(m.resultCount()));
  lua_setfield(L, -2, "results");
  makeReadOnly(L);
}

/// The text of `table[key]` (a string or a number), at most 200 bytes. Runs Lua (__index):
/// call it only inside a protected call.
std::string fieldText(lua_State* L, int table, const char* key) {
  lua_getfield(L, table, key);
  std::string out;
  if (lua_type(L, -1) == LUA_TSTRING || lua_type(L, -1) == LUA_TNUMBER) {
    size_t len = 0;
    const char* s = lua_tolstring(L, -1, &len);
    out.assign(s, std::min<size_t>(len, 200));
  }
  lua_pop(L, 1);
  return out;
}

/// The text of the error object on top of the stack, without running Lua or allocating in it.
std::string errorText(lua_State* L) {
  switch (lua_type(L, -1)) {
    case LUA_TSTRING: {
      size_t len = 0;
      const char* s = lua_tolstring(L, -1, &len);  // a string: no conversion, no allocation
      return std::string(s, std::min<size_t>(len, 200));
    }
    case LUA_TNUMBER: {
      char number[40];
      std::snprintf(number, sizeof number, "%.14g", lua_tonumber(L, -1));
      return number;
    }
    default:
      return std::string("(an error object of type ") + luaL_typename(L, -1) + ")";
  }
}

struct LoadCall {
  const std::string* name;
  const std::string* source;
  bool noCheck = false;
  int checkRef = LUA_NOREF;
};

/// Opens the sandbox, runs the script's top level and keeps check(): every step may raise, so
/// the whole of it runs under lua_pcall.
int loadProtected(lua_State* L) {
  auto* call = static_cast<LoadCall*>(lua_touserdata(L, 1));
  lua_settop(L, 0);
  openLuaSandbox(L);
  // Text only: precompiled bytecode can crash the VM.
  if (luaL_loadbufferx(L, call->source->data(), call->source->size(), call->name->c_str(), "t") !=
      LUA_OK) {
    return lua_error(L);
  }
  lua_call(L, 0, 0);
  lua_getglobal(L, "check");
  if (!lua_isfunction(L, -1)) {
    call->noCheck = true;
    return 0;
  }
  call->checkRef = luaL_ref(L, LUA_REGISTRYINDEX);
  return 0;
}

struct EvaluateCall {
  const Result* result;
  const Sample* sample;
  const Message* batch;
  int checkRef;
  CheckResult* out;
  const char* badReturn = nullptr;  // set when check() returned something unusable
};

/// Builds the arguments, calls check() and reads its answer into `out`; runs under lua_pcall
/// (building the tables allocates, reading the answer may run the script's metamethods).
int evaluateProtected(lua_State* L) {
  auto* call = static_cast<EvaluateCall*>(lua_touserdata(L, 1));
  lua_settop(L, 0);
  lua_rawgeti(L, LUA_REGISTRYINDEX, call->checkRef);
  pushResult(L, *call->result);
  pushSample(L, *call->sample);
  pushBatch(L, *call->batch);
  lua_call(L, 3, 1);
  if (lua_isnil(L, -1)) return 0;  // pass
  if (!lua_istable(L, -1)) {
    call->badReturn = "check() must return nil or a table";
    return 0;
  }
  int t = lua_gettop(L);
  CheckResult& out = *call->out;
  std::string outcome = fieldText(L, t, "outcome");
  if (outcome == "PASS" || outcome.empty()) return 0;
  if (outcome == "WARN") {
    out.outcome = Outcome::kWarn;
  } else if (outcome == "FAIL") {
    out.outcome = Outcome::kFail;
  } else {
    call->badReturn = "outcome must be \"PASS\", \"WARN\" or \"FAIL\"";
    return 0;
  }
  out.code = fieldText(L, t, "code");
  out.message = fieldText(L, t, "message");
  out.measured = fieldText(L, t, "measured");
  out.limit = fieldText(L, t, "limit");
  std::string action = fieldText(L, t, "action");
  out.onFail = action == "rerun" ? DispositionKind::kReject : DispositionKind::kHold;
  return 0;
}

Status checkLimits(const std::string& name, const LuaLimits& limits) {
  auto outside = [&](const char* key, int64_t value, int64_t min, int64_t max) {
    return Status::config(name, std::string(key) + " is " + std::to_string(value) +
                                    "; it must be from " + std::to_string(min) + " to " +
                                    std::to_string(max));
  };
  if (limits.instructions < LuaLimits::kMinInstructions ||
      limits.instructions > LuaLimits::kMaxInstructions) {
    return outside("instructions", limits.instructions, LuaLimits::kMinInstructions,
                   LuaLimits::kMaxInstructions);
  }
  if (limits.memoryBytes < LuaLimits::kMinMemoryBytes ||
      limits.memoryBytes > LuaLimits::kMaxMemoryBytes) {
    return outside("memory_bytes", static_cast<int64_t>(limits.memoryBytes),
                   static_cast<int64_t>(LuaLimits::kMinMemoryBytes),
                   static_cast<int64_t>(LuaLimits::kMaxMemoryBytes));
  }
  if (limits.timeout.count() < LuaLimits::kMinTimeoutMs ||
      limits.timeout.count() > LuaLimits::kMaxTimeoutMs) {
    return outside("timeout_ms", limits.timeout.count(), LuaLimits::kMinTimeoutMs,
                   LuaLimits::kMaxTimeoutMs);
  }
  return Status::ok();
}

}  // namespace

LuaRule::LuaRule(std::string name, std::string source, LuaLimits limits)
    : name_(std::move(name)), source_(std::move(source)), limits_(limits) {}

LuaRule::~LuaRule() = default;

StatusOr<std::shared_ptr<LuaRule>> LuaRule::load(const std::string& name, const std::string& source,
                                                 LuaLimits limits) {
  if (Status limitsOk = checkLimits(name, limits); !limitsOk.isOk()) return limitsOk;
  std::shared_ptr<LuaRule> rule(new LuaRule(name, source, limits));
  if (Status built = rule->build(); !built.isOk()) return built;
  return rule;
}

Status LuaRule::build() {
  state_.reset();
  auto st = std::make_unique<State>();
  st->account.memoryLimit = limits_.memoryBytes;
  st->account.startCall(limits_.instructions, limits_.timeout);
  st->L = lua_newstate(luaAccountedAlloc, &st->account);
  if (!st->L) return Status::config(name_, "cannot create a Lua interpreter (memory limit)");
  lua_State* L = st->L;
  armLuaHook(L);
  LoadCall call{&name_, &source_};
  lua_pushcfunction(L, loadProtected);
  lua_pushlightuserdata(L, &call);
  int status = lua_pcall(L, 1, 0, 0);
  LuaAccount& account = st->account;
  if (status != LUA_OK) {
    std::string why = errorText(L);
    if (account.stop == LuaStop::kInstructions) {
      why = "exceeds its instruction limit at its top level";
    } else if (account.stop == LuaStop::kTime) {
      why = "exceeds its time limit at its top level";
    } else if (account.stop == LuaStop::kCost) {
      why = "exceeds a cost bound at its top level: " + account.costDetail;
    } else if (account.memoryRefused || status == LUA_ERRMEM) {
      why = "exceeds its memory limit at its top level: " + why;
    }
    return Status::config(name_, why);
  }
  if (call.noCheck) {
    return Status::config(name_, "defines no function check(result, sample, batch)");
  }
  st->checkRef = call.checkRef;
  lua_settop(L, 0);
  state_ = std::move(st);
  return Status::ok();
}

CheckResult LuaRule::limitFinding(const std::string& why) const {
  CheckResult out;
  out.ruleId = "lua." + name_;
  out.subject = "result";
  out.outcome = Outcome::kFail;
  out.code = "LUA_LIMIT";
  out.message = why.substr(0, 200);
  out.onFail = DispositionKind::kHold;
  return out;
}

CheckResult LuaRule::notRunAfterTimeout() const {
  return limitFinding("not run: the script exceeded its time limit (" +
                      std::to_string(limits_.timeout.count()) + " ms) earlier in this batch");
}

CheckResult LuaRule::evaluate(const Result& result, const Sample& sample, const Message& batch,
                              bool* timedOut) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (timedOut) *timedOut = false;
  CheckResult out;
  out.ruleId = "lua." + name_;
  out.subject = "result";
  auto fail = [&](const char* code, const std::string& why) {
    out.outcome = Outcome::kFail;
    out.code = code;
    out.message = why.substr(0, 200);
    out.measured.clear();
    out.limit.clear();
    out.onFail = DispositionKind::kHold;
    return out;
  };
  if (!state_) {  // discarded after a time or memory limit
    Status rebuilt = build();
    if (!rebuilt.isOk()) {
      // A top level that now runs out of time would cost that much on every result.
      if (timedOut && rebuilt.reason().find("time limit") != std::string::npos) *timedOut = true;
      return fail("LUA_LIMIT", "the rule's interpreter could not be rebuilt: " + rebuilt.reason());
    }
  }
  State& st = *state_;
  lua_State* L = st.L;
  lua_settop(L, 0);
  st.account.startCall(limits_.instructions, limits_.timeout);
  armLuaHook(L);
  EvaluateCall call{&result, &sample, &batch, st.checkRef, &out};
  lua_pushcfunction(L, evaluateProtected);
  lua_pushlightuserdata(L, &call);
  int status = lua_pcall(L, 1, 0, 0);
  const LuaAccount& account = st.account;
  if (account.stop == LuaStop::kTime) {
    if (timedOut) *timedOut = true;
    state_.reset();  // whatever it was doing, it starts afresh
    return fail("LUA_LIMIT", "the script exceeded its time limit (" +
                                 std::to_string(limits_.timeout.count()) +
                                 " ms per call); its interpreter was discarded");
  }
  if (status != LUA_OK) {
    if (account.stop == LuaStop::kInstructions) {
      lua_settop(L, 0);
      return fail("LUA_LIMIT", "the script exceeded its instruction limit (" +
                                   std::to_string(limits_.instructions) + " per call)");
    }
    if (account.stop == LuaStop::kCost) {
      std::string why = "the script exceeded a cost bound: " + account.costDetail;
      lua_settop(L, 0);
      return fail("LUA_LIMIT", why);
    }
    if (account.memoryRefused || status == LUA_ERRMEM) {
      state_.reset();  // it may hold its memory in globals: start afresh
      return fail("LUA_LIMIT", "the script exceeded its memory limit (" +
                                   std::to_string(limits_.memoryBytes) +
                                   " bytes); its interpreter was discarded");
    }
    std::string why = errorText(L);
    lua_settop(L, 0);
    return fail("LUA_ERROR", "the script failed: " + why);
  }
  lua_settop(L, 0);
  if (call.badReturn) return fail("LUA_ERROR", call.badReturn);
  return out;
}

}  // namespace labgate::rules
