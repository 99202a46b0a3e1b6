// The Lua sandbox for custom rules (see lua_rule.h).
#include "rules/lua_rule.h"

#include <cstdlib>
#include <cstring>
#include <lua.hpp>

namespace labgate::rules {

struct LuaRule::State {
  lua_State* L = nullptr;
  size_t used = 0;
  size_t limit = 0;
  int64_t budget = 0;     // instructions left in this call
  bool limitHit = false;  // the hook or the allocator stopped the script
  int checkRef = LUA_NOREF;

  ~State() {
    if (L) lua_close(L);
  }
};

namespace {

constexpr int kHookEvery = 1000;  // instructions between hook calls

void* limitedAlloc(void* ud, void* ptr, size_t oldSize, size_t newSize) {
  auto* state = static_cast<LuaRule::State*>(ud);
  size_t old = ptr ? oldSize : 0;
  if (newSize == 0) {
    std::free(ptr);
    state->used -= old;
    return nullptr;
  }
  if (newSize > old && state->used - old + newSize > state->limit) {
    state->limitHit = true;
    return nullptr;  // Lua raises a memory error
  }
  void* block = std::realloc(ptr, newSize);
  if (block) state->used = state->used - old + newSize;
  return block;
}

LuaRule::State* stateOf(lua_State* L) {
  void* ud = nullptr;
  lua_getallocf(L, &ud);
  return static_cast<LuaRule::State*>(ud);
}

void countHook(lua_State* L, lua_Debug*) {
  LuaRule::State* state = stateOf(L);
  state->budget -= kHookEvery;
  if (state->budget < 0) {
    state->limitHit = true;
    luaL_error(L, "instruction limit exceeded");
  }
}

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

std::string fieldText(lua_State* L, int table, const char* key) {
  lua_getfield(L, table, key);
  std::string out;
  if (lua_type(L, -1) == LUA_TSTRING || lua_type(L, -1) == LUA_TNUMBER) {
    size_t len = 0;
    const char* s = lua_tolstring(L, -1, &len);
    out.assign(s, len);
  }
  lua_pop(L, 1);
  return out.substr(0, 200);
}

}  // namespace

LuaRule::LuaRule(std::string name, LuaLimits limits)
    : name_(std::move(name)), limits_(limits), state_(std::make_unique<State>()) {}

LuaRule::~LuaRule() = default;

StatusOr<std::shared_ptr<LuaRule>> LuaRule::load(const std::string& name, const std::string& source,
                                                 LuaLimits limits) {
  std::shared_ptr<LuaRule> rule(new LuaRule(name, limits));
  State& st = *rule->state_;
  st.limit = limits.memoryBytes;
  st.L = lua_newstate(limitedAlloc, &st);
  if (!st.L) return Status::config(name, "cannot create a Lua interpreter");
  lua_State* L = st.L;
  // The safe libraries only.
  luaL_requiref(L, LUA_GNAME, luaopen_base, 1);
  luaL_requiref(L, LUA_STRLIBNAME, luaopen_string, 1);
  luaL_requiref(L, LUA_TABLIBNAME, luaopen_table, 1);
  luaL_requiref(L, LUA_MATHLIBNAME, luaopen_math, 1);
  luaL_requiref(L, LUA_UTF8LIBNAME, luaopen_utf8, 1);
  lua_settop(L, 0);
  for (const char* unsafe :
       {"dofile", "loadfile", "load", "require", "collectgarbage", "print", "rawset", "rawget"}) {
    lua_pushnil(L);
    lua_setglobal(L, unsafe);
  }
  lua_getglobal(L, LUA_STRLIBNAME);
  lua_pushnil(L);
  lua_setfield(L, -2, "dump");  // bytecode out
  lua_pop(L, 1);
  lua_sethook(L, countHook, LUA_MASKCOUNT, kHookEvery);

  st.budget = limits.instructions;
  st.limitHit = false;
  // Text only: precompiled bytecode can crash the VM.
  int loaded = luaL_loadbufferx(L, source.data(), source.size(), name.c_str(), "t");
  if (loaded != LUA_OK || lua_pcall(L, 0, 0, 0) != LUA_OK) {
    std::string why = lua_isstring(L, -1) ? lua_tostring(L, -1) : "unknown error";
    return Status::config(name, (st.limitHit ? "exceeds its limits: " : "") + why);
  }
  lua_getglobal(L, "check");
  if (!lua_isfunction(L, -1)) {
    return Status::config(name, "defines no function check(result, sample, batch)");
  }
  st.checkRef = luaL_ref(L, LUA_REGISTRYINDEX);
  return rule;
}

CheckResult LuaRule::evaluate(const Result& result, const Sample& sample, const Message& batch) {
  std::lock_guard<std::mutex> lock(mutex_);
  CheckResult out;
  out.ruleId = "lua." + name_;
  out.subject = "result";
  State& st = *state_;
  lua_State* L = st.L;
  lua_settop(L, 0);
  st.budget = limits_.instructions;
  st.limitHit = false;
  auto fail = [&](const char* code, const std::string& why) {
    out.outcome = Outcome::kFail;
    out.code = code;
    out.message = why.substr(0, 200);
    out.onFail = DispositionKind::kHold;
    lua_settop(L, 0);
    return out;
  };
  // Building the arguments allocates: a script that exhausted memory fails here too.
  auto push = [&](lua_State* S) -> int {
    lua_rawgeti(S, LUA_REGISTRYINDEX, st.checkRef);
    pushResult(S, result);
    pushSample(S, sample);
    pushBatch(S, batch);
    return lua_pcall(S, 3, 1, 0);
  };
  int status = LUA_OK;
  try {
    status = push(L);
  } catch (...) {
    return fail("LUA_LIMIT", "the script's arguments could not be built (memory limit)");
  }
  if (status != LUA_OK) {
    std::string why = lua_isstring(L, -1) ? lua_tostring(L, -1) : "unknown error";
    if (st.limitHit || status == LUA_ERRMEM) {
      return fail("LUA_LIMIT", "the script exceeded its instruction or memory limit: " + why);
    }
    return fail("LUA_ERROR", "the script failed: " + why);
  }
  if (lua_isnil(L, -1)) {
    lua_settop(L, 0);
    return out;  // pass
  }
  if (!lua_istable(L, -1)) return fail("LUA_ERROR", "check() must return nil or a table");
  int t = lua_gettop(L);
  std::string outcome = fieldText(L, t, "outcome");
  if (outcome == "PASS" || outcome.empty()) {
    lua_settop(L, 0);
    return out;
  }
  if (outcome == "WARN") {
    out.outcome = Outcome::kWarn;
  } else if (outcome == "FAIL") {
    out.outcome = Outcome::kFail;
  } else {
    return fail("LUA_ERROR", "outcome must be \"PASS\", \"WARN\" or \"FAIL\"");
  }
  out.code = fieldText(L, t, "code");
  out.message = fieldText(L, t, "message");
  out.measured = fieldText(L, t, "measured");
  out.limit = fieldText(L, t, "limit");
  std::string action = fieldText(L, t, "action");
  out.onFail = action == "rerun" ? DispositionKind::kReject : DispositionKind::kHold;
  lua_settop(L, 0);
  return out;
}

}  // namespace labgate::rules
