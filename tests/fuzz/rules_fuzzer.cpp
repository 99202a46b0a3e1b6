// libFuzzer harness for the rule-set loader (rules/rule_set.h): the input is the JSON text of a
// rule set, given to parseRuleSet(). Any Status is fine; a crash, an escaping exception, a leak
// or a hang is not.
//
// A rule set names its Lua rules by path (lua[i].file, opened as given: relative to the working
// directory, or absolute). So that the fuzzer never reads an arbitrary file (a device, a FIFO, a
// large binary), the input is parsed first with the same JSON parser and refused (return -1: not
// kept in the corpus) when a lua entry's file is a string outside kLuaDir, a folder the harness
// fills at start-up with a few small scripts (one that loads, one without check(), one that does
// not compile, one whose top level fails). None of them loops or allocates, so the instruction
// and memory limits the input chooses cannot make a run hang or grow. Built with clang by
// tests/CMakeLists.txt; seeds in tests/fuzz/corpus/rules.
#include <Poco/Dynamic/Var.h>
#include <Poco/Exception.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>

#include "rules/rule_set.h"

namespace {

// Fixed (not per process) so that seeds can name the scripts.
constexpr const char* kLuaDir = "/tmp/labgate-rules-fuzz";

struct Script {
  const char* name;
  const char* source;
};

constexpr Script kScripts[] = {
    {"ok.lua",
     "function check(result, sample, batch)\n"
     "  if result.numeric and result.numeric > 100 then\n"
     "    return {outcome = \"WARN\", code = \"HIGH\", message = \"high\", action = \"hold\"}\n"
     "  end\n"
     "end\n"},
    {"nocheck.lua", "local x = 1\n"},
    {"syntax.lua", "function check(result\n"},
    {"error.lua", "error(\"top level fails\")\n"},
};

void writeScripts() {
  static const bool done = [] {
    mkdir(kLuaDir, 0700);  // may exist from an earlier run
    for (const Script& s : kScripts) {
      // Written to a private name then renamed: a concurrent run never reads half a script.
      const std::string path = std::string(kLuaDir) + "/" + s.name;
      const std::string temp = path + "." + std::to_string(getpid());
      {
        std::ofstream out(temp, std::ios::binary | std::ios::trunc);
        out << s.source;
      }
      std::rename(temp.c_str(), path.c_str());
    }
    return true;
  }();
  (void)done;
}

/// True when `file` (as parseRuleSet would open it) names at most a file directly in kLuaDir.
bool safeLuaPath(const std::string& file) {
  const std::string prefix = std::string(kLuaDir) + "/";
  if (file.compare(0, prefix.size(), prefix) != 0) return false;
  const std::string rest = file.substr(prefix.size());
  return rest.find('/') == std::string::npos && rest.find('\0') == std::string::npos &&
         rest != "." && rest != "..";
}

/// False when the input, parsed as parseRuleSet parses it, would open a file outside kLuaDir.
bool readsOnlyOurScripts(const std::string& json) {
  try {
    Poco::JSON::Parser parser;
    Poco::JSON::Object::Ptr root = parser.parse(json).extract<Poco::JSON::Object::Ptr>();
    if (!root || !root->has("lua")) return true;
    Poco::JSON::Array::Ptr list = root->getArray("lua");
    if (!list) return true;
    for (size_t i = 0; i < list->size(); ++i) {
      Poco::JSON::Object::Ptr entry = list->getObject(static_cast<unsigned>(i));
      if (!entry || !entry->has("file")) continue;
      Poco::Dynamic::Var file = entry->get("file");
      if (file.isString() && !safeLuaPath(file.convert<std::string>())) return false;
    }
    return true;
  } catch (const Poco::Exception&) {
    return true;  // parseRuleSet fails the same way before it opens anything
  } catch (const std::exception&) {
    return true;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  writeScripts();
  const std::string json(reinterpret_cast<const char*>(data), size);
  if (!readsOnlyOurScripts(json)) return -1;
  labgate::StatusOr<std::shared_ptr<const labgate::RulesStage>> stage =
      labgate::rules::parseRuleSet(json, "fuzz.json");
  if (stage.isOk()) {
    (void)stage.value()->version();
  } else {
    (void)stage.status().toString();
  }
  return 0;
}
