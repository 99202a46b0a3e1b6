// The Lua sandbox's accounting and its guarded library (used by rules/lua_rule.cpp only).
//
// Every bound a script could escape is enforced here:
//  - instructions: a count hook every kHookEvery instructions charges the budget; C functions
//    that move table elements (table.insert/remove/move) charge one instruction per element;
//  - time: the same hook, and the allocator every kClockEveryBytes, compare the clock with the
//    call's deadline;
//  - once the instruction or time limit (or a cost bound) is hit the stop is sticky for the rest
//    of the call: the hook raises on every instruction, the allocator refuses all growth, and the
//    sandbox's pcall/xpcall re-raise instead of returning, so a script cannot catch it;
//  - memory: the allocator refuses growth beyond the interpreter's limit;
//  - built-ins that run long inside C, where no hook fires, are bounded: string patterns by an
//    estimate of their backtracking cost, table moves by the number of elements;
//  - finalizers are refused (setmetatable with a __gc field), because hooks are off inside them;
//  - tostring and string.format never print an address (%p is refused).
//
// Thread-safety: one LuaAccount per interpreter; the interpreter is used by one thread at a time.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

struct lua_State;  // lua.hpp is private to labgate_rules

namespace labgate::rules {

/// Why a call was stopped; kNone while it runs within its limits.
enum class LuaStop {
  kNone,
  kInstructions,  // the instruction budget is spent
  kTime,          // the call's deadline passed
  kCost,          // a built-in call (pattern, table move) was refused as too costly
};

/// The accounting of one interpreter: the allocator's user data.
struct LuaAccount {
  size_t used = 0;         // bytes allocated by the interpreter
  size_t memoryLimit = 0;  // bytes
  int64_t budget = 0;      // instructions left in this call
  std::chrono::steady_clock::time_point deadline{};
  size_t bytesSinceClock = 0;     // growth since the allocator last read the clock
  LuaStop stop = LuaStop::kNone;  // sticky until the next call
  bool memoryRefused = false;     // an allocation was refused for the memory limit this call
  std::string costDetail;         // what a kCost stop refused (no values from the message)

  /// Resets the per-call state before a call (or the top level) runs.
  void startCall(int64_t instructions, std::chrono::milliseconds timeout);
  /// The largest number of table elements one built-in may move.
  size_t maxElements() const { return memoryLimit / 16 + 1; }
};

/// The allocator: lua_newstate(luaAccountedAlloc, &account).
void* luaAccountedAlloc(void* ud, void* ptr, size_t oldSize, size_t newSize);

/// Opens the safe libraries and installs the guarded functions. Raises on failure (call it in a
/// protected call).
void openLuaSandbox(lua_State* L);

/// (Re)arms the count hook for a new call (after a stop it fires on every instruction).
void armLuaHook(lua_State* L);

/// The estimated number of matcher steps of `pattern` on a subject of `subjectLength` bytes, an
/// upper bound on Lua's backtracking matcher. `anchorAllowed`: a leading '^' anchors (find,
/// match, gsub; not gmatch). Exposed for the tests.
double luaPatternCost(const std::string& pattern, size_t subjectLength, bool anchorAllowed);

/// The most matcher steps a single pattern call may cost.
inline constexpr double kLuaPatternBudget = 2e7;

}  // namespace labgate::rules
