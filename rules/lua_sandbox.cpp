// The Lua sandbox's accounting and guarded library (see lua_sandbox.h).
#include "rules/lua_sandbox.h"

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <lua.hpp>

namespace labgate::rules {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kHookEvery = 100;                  // instructions between hook calls
constexpr size_t kClockEveryBytes = 256u << 10;  // allocator growth between clock reads

LuaAccount& accountOf(lua_State* L) {
  void* ud = nullptr;
  lua_getallocf(L, &ud);
  return *static_cast<LuaAccount*>(ud);
}

const char* stopText(LuaStop stop) {
  switch (stop) {
    case LuaStop::kInstructions:
      return "instruction limit exceeded";
    case LuaStop::kTime:
      return "time limit exceeded";
    case LuaStop::kCost:
      return "cost bound exceeded";
    case LuaStop::kNone:
      break;
  }
  return "limit exceeded";
}

/// Raises the sticky stop: from now on every instruction raises again.
[[noreturn]] void raiseStop(lua_State* L) {
  LuaAccount& account = accountOf(L);
  lua_sethook(
      L, [](lua_State* S, lua_Debug*) { raiseStop(S); }, LUA_MASKCOUNT, 1);
  // The text is anchored in the registry (openLuaSandbox), so pushing it allocates nothing.
  lua_pushstring(L, stopText(account.stop));
  lua_error(L);
  std::abort();  // lua_error does not return
}

/// Stops the call as too costly; `detail` names the built-in and the bound, never a value.
[[noreturn]] void raiseCost(lua_State* L, std::string detail) {
  LuaAccount& account = accountOf(L);
  account.costDetail = std::move(detail);
  account.stop = LuaStop::kCost;
  raiseStop(L);
}

void countHook(lua_State* L, lua_Debug*) {
  LuaAccount& account = accountOf(L);
  if (account.stop == LuaStop::kNone) {
    account.budget -= kHookEvery;
    if (account.budget < 0) {
      account.stop = LuaStop::kInstructions;
    } else if (Clock::now() >= account.deadline) {
      account.stop = LuaStop::kTime;
    }
  }
  if (account.stop != LuaStop::kNone) raiseStop(L);
}

/// Charges `elements` moved by a built-in to the instruction budget.
void chargeElements(lua_State* L, const char* what, lua_Unsigned elements) {
  LuaAccount& account = accountOf(L);
  if (elements > account.maxElements()) {
    raiseCost(L, std::string(what) + ": would move more elements than the rule's memory can hold");
  }
  account.budget -= static_cast<int64_t>(elements);
  if (account.budget < 0) {
    account.stop = LuaStop::kInstructions;
    raiseStop(L);
  }
}

// ----- base library ------------------------------------------------------------------------

/// pcall(f, ...) that re-raises a limit instead of returning it.
int guardedPcall(lua_State* L) {
  luaL_checkany(L, 1);
  lua_pushboolean(L, 1);
  lua_insert(L, 1);  // true, f, args...
  int status = lua_pcall(L, lua_gettop(L) - 2, LUA_MULTRET, 0);
  if (accountOf(L).stop != LuaStop::kNone) raiseStop(L);
  if (status == LUA_OK) return lua_gettop(L);
  lua_pushboolean(L, 0);
  lua_replace(L, 1);  // false, error
  return 2;
}

/// xpcall(f, handler, ...): the handler runs after the call has unwound, with the hook active
/// (Lua runs a message handler with hooks off when the error came from the hook itself).
int guardedXpcall(lua_State* L) {
  luaL_checktype(L, 2, LUA_TFUNCTION);
  int n = lua_gettop(L);
  lua_pushboolean(L, 1);
  lua_pushvalue(L, 1);
  lua_rotate(L, 3, 2);  // f, handler, true, f, args...
  int status = lua_pcall(L, n - 2, LUA_MULTRET, 0);
  if (accountOf(L).stop != LuaStop::kNone) raiseStop(L);
  if (status == LUA_OK) return lua_gettop(L) - 2;
  // f, handler, true, error
  lua_pushvalue(L, 2);
  lua_insert(L, -2);  // f, handler, true, handler, error
  lua_call(L, 1, 1);  // f, handler, true, handled
  lua_pushboolean(L, 0);
  lua_replace(L, 3);
  return 2;
}

/// setmetatable that refuses a metatable with a finalizer (__gc runs with hooks off).
int guardedSetmetatable(lua_State* L) {
  if (lua_type(L, 2) == LUA_TTABLE) {
    lua_pushliteral(L, "__gc");
    if (lua_rawget(L, 2) != LUA_TNIL) {
      return luaL_error(L, "setmetatable: __gc finalizers are not available to rules");
    }
    lua_pop(L, 1);
  }
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
  return lua_gettop(L);
}

/// True for values whose default text would carry an address.
bool hasAddress(lua_State* L, int index) {
  switch (lua_type(L, index)) {
    case LUA_TTABLE:
    case LUA_TFUNCTION:
    case LUA_TUSERDATA:
    case LUA_TLIGHTUSERDATA:
    case LUA_TTHREAD:
      break;
    default:
      return false;
  }
  if (luaL_getmetafield(L, index, "__tostring") != LUA_TNIL) {
    lua_pop(L, 1);
    return false;  // the script's own text
  }
  return true;
}

/// tostring without addresses: a table or function is its type name.
int guardedTostring(lua_State* L) {
  luaL_checkany(L, 1);
  if (hasAddress(L, 1)) {
    lua_pushstring(L, luaL_typename(L, 1));
  } else {
    luaL_tolstring(L, 1, nullptr);
  }
  return 1;
}

// ----- string library ----------------------------------------------------------------------

/// string.format without %p and without addresses for %s.
int guardedFormat(lua_State* L) {
  size_t length = 0;
  const char* format = luaL_checklstring(L, 1, &length);
  for (size_t i = 0; i < length; ++i) {
    if (format[i] != '%') continue;
    ++i;
    while (i < length && std::strchr("-+ #0123456789.", format[i]) && format[i] != '\0') ++i;
    if (i < length && format[i] == 'p') {
      return luaL_error(L, "string.format: '%%p' is not available to rules");
    }
  }
  for (int arg = 2; arg <= lua_gettop(L); ++arg) {
    if (!hasAddress(L, arg)) continue;
    lua_pushstring(L, luaL_typename(L, arg));
    lua_replace(L, arg);
  }
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
  return lua_gettop(L);
}

enum class PatternCall { kFind, kMatch, kGmatch, kGsub };

/// find/match/gmatch/gsub refused when the pattern could cost more than kLuaPatternBudget steps.
int guardedPattern(lua_State* L) {
  auto call = static_cast<PatternCall>(lua_tointeger(L, lua_upvalueindex(2)));
  const char* name = lua_tostring(L, lua_upvalueindex(3));
  size_t n = 0, m = 0;
  luaL_checklstring(L, 1, &n);
  const char* p = luaL_checklstring(L, 2, &m);
  double cost = 0;
  if (call == PatternCall::kFind && lua_toboolean(L, 4)) {
    cost = (static_cast<double>(n) + 1) * (static_cast<double>(m) + 1);  // plain search
  } else {
    cost = luaPatternCost(std::string(p, m), n, call != PatternCall::kGmatch);
  }
  int replacement = lua_type(L, 3);
  if (call == PatternCall::kGsub && (replacement == LUA_TSTRING || replacement == LUA_TNUMBER)) {
    // The replacement text is read once per match, and an empty match writes nothing: up to
    // n + 1 matches times its length, whatever the memory.
    size_t r = 0;
    lua_tolstring(L, 3, &r);
    cost += (static_cast<double>(n) + 1) * (static_cast<double>(r) + 1);
  }
  if (!(cost <= kLuaPatternBudget)) {
    char detail[160];
    std::snprintf(detail, sizeof detail,
                  "%s: the pattern is too costly for a subject of %zu bytes (estimate %.3g "
                  "steps, at most %.3g)",
                  name, n, cost, kLuaPatternBudget);
    raiseCost(L, detail);
  }
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
  return lua_gettop(L);
}

// ----- table library -----------------------------------------------------------------------
// Lua's own insert/remove/move loop inside C over as many elements as `#t` claims, and `#t` is
// whatever __len returns (2^50, say) without a table that large: these versions charge every
// element moved and refuse more than the memory could hold.

int guardedInsert(lua_State* L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  // First empty slot; wraps like Lua's own when __len claims the largest integer.
  lua_Integer end = static_cast<lua_Integer>(static_cast<lua_Unsigned>(luaL_len(L, 1)) + 1u);
  lua_Integer pos = end;
  switch (lua_gettop(L)) {
    case 2:
      break;
    case 3: {
      pos = luaL_checkinteger(L, 2);
      luaL_argcheck(L, static_cast<lua_Unsigned>(pos) - 1u < static_cast<lua_Unsigned>(end), 2,
                    "position out of bounds");
      chargeElements(L, "table.insert",
                     static_cast<lua_Unsigned>(end) - static_cast<lua_Unsigned>(pos));
      for (lua_Integer i = end; i > pos; --i) {
        lua_geti(L, 1, i - 1);
        lua_seti(L, 1, i);
      }
      break;
    }
    default:
      return luaL_error(L, "wrong number of arguments to 'insert'");
  }
  lua_seti(L, 1, pos);
  return 0;
}

int guardedRemove(lua_State* L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_Integer size = luaL_len(L, 1);
  lua_Integer pos = luaL_optinteger(L, 2, size);
  if (pos != size) {
    luaL_argcheck(L, static_cast<lua_Unsigned>(pos) - 1u <= static_cast<lua_Unsigned>(size), 2,
                  "position out of bounds");
  }
  lua_geti(L, 1, pos);  // the removed element
  if (pos < size) {
    chargeElements(L, "table.remove",
                   static_cast<lua_Unsigned>(size) - static_cast<lua_Unsigned>(pos));
  }
  for (; pos < size; ++pos) {
    lua_geti(L, 1, pos + 1);
    lua_seti(L, 1, pos);
  }
  lua_pushnil(L);
  lua_seti(L, 1, pos);
  return 1;
}

int guardedMove(lua_State* L) {
  lua_Integer from = luaL_checkinteger(L, 2);
  lua_Integer last = luaL_checkinteger(L, 3);
  lua_Integer to = luaL_checkinteger(L, 4);
  int target = lua_isnoneornil(L, 5) ? 1 : 5;
  luaL_checktype(L, 1, LUA_TTABLE);
  luaL_checktype(L, target, LUA_TTABLE);
  if (last >= from) {
    luaL_argcheck(L, from > 0 || last < LUA_MAXINTEGER + from, 3, "too many elements to move");
    lua_Integer count = last - from + 1;
    luaL_argcheck(L, to <= LUA_MAXINTEGER - count + 1, 4, "destination wrap around");
    chargeElements(L, "table.move", static_cast<lua_Unsigned>(count));
    bool forward = to > last || to <= from || (target != 1 && !lua_compare(L, 1, target, LUA_OPEQ));
    for (lua_Integer k = 0; k < count; ++k) {
      lua_Integer i = forward ? k : count - 1 - k;
      lua_geti(L, 1, from + i);
      lua_seti(L, target, to + i);
    }
  }
  lua_pushvalue(L, target);
  return 1;
}

/// Replaces `table[name]` by `guard` with the original as upvalue 1 (and `extra` upvalues
/// pushed by `pushExtra`).
void wrap(lua_State* L, int table, const char* name, lua_CFunction guard, int extra = 0) {
  lua_getfield(L, table, name);
  if (extra > 0) lua_rotate(L, -(extra + 1), 1);  // original below the extras
  lua_pushcclosure(L, guard, 1 + extra);
  lua_setfield(L, table, name);
}

}  // namespace

void LuaAccount::startCall(int64_t instructions, std::chrono::milliseconds timeout) {
  budget = instructions;
  deadline = Clock::now() + timeout;
  bytesSinceClock = 0;
  stop = LuaStop::kNone;
  memoryRefused = false;
  costDetail.clear();
}

void* luaAccountedAlloc(void* ud, void* ptr, size_t oldSize, size_t newSize) {
  auto& account = *static_cast<LuaAccount*>(ud);
  size_t old = ptr ? oldSize : 0;
  if (newSize == 0) {
    std::free(ptr);
    account.used -= old;
    return nullptr;
  }
  if (newSize > old) {
    size_t growth = newSize - old;
    if (account.stop != LuaStop::kNone) return nullptr;  // stopped: nothing more
    bool overLimit = account.used + growth > account.memoryLimit;
    account.bytesSinceClock += growth;
    if (overLimit || account.bytesSinceClock >= kClockEveryBytes) {
      account.bytesSinceClock = 0;
      if (Clock::now() >= account.deadline) {
        account.stop = LuaStop::kTime;
        return nullptr;
      }
    }
    if (overLimit) {
      account.memoryRefused = true;
      return nullptr;  // Lua collects garbage once and raises a memory error
    }
  }
  void* block = std::realloc(ptr, newSize);
  if (block) {
    account.used = account.used - old + newSize;
    if (newSize > old) account.memoryRefused = false;  // e.g. after Lua's emergency collection
  }
  return block;
}

void armLuaHook(lua_State* L) { lua_sethook(L, countHook, LUA_MASKCOUNT, kHookEvery); }

void openLuaSandbox(lua_State* L) {
  luaL_requiref(L, LUA_GNAME, luaopen_base, 1);
  luaL_requiref(L, LUA_STRLIBNAME, luaopen_string, 1);
  luaL_requiref(L, LUA_TABLIBNAME, luaopen_table, 1);
  luaL_requiref(L, LUA_MATHLIBNAME, luaopen_math, 1);
  luaL_requiref(L, LUA_UTF8LIBNAME, luaopen_utf8, 1);
  lua_settop(L, 0);
  for (const char* unsafe : {"dofile", "loadfile", "load", "require", "collectgarbage", "print",
                             "rawset", "rawget", "warn"}) {
    lua_pushnil(L);
    lua_setglobal(L, unsafe);
  }
  // The stop texts stay reachable, so raising them never allocates.
  for (LuaStop stop : {LuaStop::kInstructions, LuaStop::kTime, LuaStop::kCost}) {
    lua_pushstring(L, stopText(stop));
    luaL_ref(L, LUA_REGISTRYINDEX);
  }

  lua_pushglobaltable(L);
  int globals = lua_gettop(L);
  lua_pushcfunction(L, guardedPcall);
  lua_setfield(L, globals, "pcall");
  lua_pushcfunction(L, guardedXpcall);
  lua_setfield(L, globals, "xpcall");
  lua_pushcfunction(L, guardedTostring);
  lua_setfield(L, globals, "tostring");
  wrap(L, globals, "setmetatable", guardedSetmetatable);

  lua_getfield(L, globals, LUA_STRLIBNAME);
  int strings = lua_gettop(L);
  lua_pushnil(L);
  lua_setfield(L, strings, "dump");  // bytecode out
  wrap(L, strings, "format", guardedFormat);
  struct Guarded {
    const char* name;
    PatternCall call;
  };
  for (Guarded g : {Guarded{"find", PatternCall::kFind}, Guarded{"match", PatternCall::kMatch},
                    Guarded{"gmatch", PatternCall::kGmatch}, Guarded{"gsub", PatternCall::kGsub}}) {
    lua_pushinteger(L, static_cast<lua_Integer>(g.call));
    lua_pushfstring(L, "string.%s", g.name);
    wrap(L, strings, g.name, guardedPattern, 2);
  }

  lua_getfield(L, globals, LUA_TABLIBNAME);
  int tables = lua_gettop(L);
  lua_pushcfunction(L, guardedInsert);
  lua_setfield(L, tables, "insert");
  lua_pushcfunction(L, guardedRemove);
  lua_setfield(L, tables, "remove");
  lua_pushcfunction(L, guardedMove);
  lua_setfield(L, tables, "move");
  lua_settop(L, 0);
}

double luaPatternCost(const std::string& pattern, size_t subjectLength, bool anchorAllowed) {
  // Lua's matcher tries each start position; at each position a single-character item with
  // '*', '+' or '-' tries up to n + 1 lengths and '?' two; %b and back-references scan up to n
  // bytes once per visit. Comparing the pattern's items (a set included) with the subject costs
  // up to n * m more.
  const double n = static_cast<double>(subjectLength) + 1;
  const size_t m = pattern.size();
  double starts = n;
  size_t i = 0;
  if (anchorAllowed && m > 0 && pattern[0] == '^') {
    starts = 1;
    i = 1;
  }
  double paths = 1;
  double scans = 0;                // %b and back-references
  auto skipSet = [&](size_t at) {  // at: '['; returns the index after the closing ']'
    size_t j = at + 1;
    if (j < m && pattern[j] == '^') ++j;
    do {
      if (j >= m) return m;
      if (pattern[j++] == '%' && j < m) ++j;
    } while (j < m && pattern[j] != ']');
    return j < m ? j + 1 : m;
  };
  while (i < m) {
    char c = pattern[i];
    if (c == '(' || c == ')') {
      ++i;
      continue;
    }
    if (c == '$' && i + 1 == m) break;
    if (c == '%') {
      if (i + 1 >= m) break;  // malformed: Lua raises when it gets there
      char d = pattern[i + 1];
      if (d == 'b') {
        scans += 1;
        i += 4;
        continue;
      }
      if (d == 'f') {
        i += 2;
        if (i < m && pattern[i] == '[') i = skipSet(i);
        continue;
      }
      if (std::isdigit(static_cast<unsigned char>(d))) {
        scans += 1;
        i += 2;
        continue;
      }
      i += 2;
    } else if (c == '[') {
      i = skipSet(i);
    } else {
      ++i;
    }
    if (i < m) {  // a single-character item: its quantifier
      char q = pattern[i];
      if (q == '*' || q == '+' || q == '-') {
        ++i;
        // The last item (closing captures aside) cannot fail once reached: it does not branch,
        // and its scan is within the n * m term.
        if (pattern.find_first_not_of(')', i) != std::string::npos) paths *= n;
      } else if (q == '?') {
        paths *= 2;
        ++i;
      }
    }
  }
  return starts * paths * (1 + scans * n) + n * (static_cast<double>(m) + 1);
}

}  // namespace labgate::rules
