// Loading a PHI pattern file: JSON (Poco::JSON) -> validated, compiled PhiGate::Rules.
// Validation is strict: every key is known, every required key present, ids unique, every regex
// compiles under RE2 and cannot match the empty string. Each error names the key or id.
#include "engine/phi/rules.h"

#include <Poco/Exception.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <algorithm>
#include <set>
#include <string_view>

#include "util/json_object.h"

namespace labgate::phi {
namespace {

using Poco::Dynamic::Var;
using Poco::JSON::Array;
using Poco::JSON::Object;

constexpr std::array<std::string_view, kFormatCount> kFormatNames = {"astm", "hl7", "csv", "xml"};

/// Collects the first error while a file is walked; later errors are ignored.
class Loader {
 public:
  explicit Loader(std::string sourceName) : source_(std::move(sourceName)) {}

  bool failed() const { return !error_.empty(); }
  Status status() const { return Status::config(source_, error_); }
  /// Keeps the first error: `parts` (strings) one after the other, built only when it is kept.
  template <typename... Parts>
  void fail(const Parts&... parts) {
    if (error_.empty()) (error_.append(parts), ...);
  }

  /// Fails when `object` has a key outside `allowed` (util/json_object.h: "WHERE: KEY: unknown
  /// key; known keys are ...").
  void checkKeys(const Object& object, const std::set<std::string>& allowed,
                 const std::string& where) {
    if (std::optional<std::string> unknown = util::unknownKey(object, allowed, where)) {
      fail(*unknown);
    }
  }

  bool stringAt(const Object& object, const std::string& key, const std::string& where,
                bool required, std::string* out) {
    if (!object.has(key)) {
      if (required) fail(where + ": missing key \"" + key + "\"");
      return false;
    }
    Var value = object.get(key);
    if (!value.isString()) {
      fail(where + ": \"" + key + "\" must be a string");
      return false;
    }
    *out = value.convert<std::string>();
    return true;
  }

  bool boolAt(const Object& object, const std::string& key, const std::string& where) {
    if (!object.has(key)) return false;
    Var value = object.get(key);
    if (value.type() != typeid(bool)) {
      fail(where + ": \"" + key + "\" must be true or false");
      return false;
    }
    return value.extract<bool>();
  }

  /// Compiles `regex` (wrapped so that it can join an RE2::Set with the same flags).
  std::unique_ptr<RE2> compile(const std::string& regex, bool caseInsensitive,
                               const std::string& where) {
    RE2::Options options;
    options.set_log_errors(false);
    options.set_case_sensitive(!caseInsensitive);
    auto re = std::make_unique<RE2>(regex, options);
    if (!re->ok()) {
      fail(where + ": regex does not compile: " + re->error());
      return nullptr;
    }
    return re;
  }

  /// A list of format names as a bit mask (bit = SourceFormat).
  unsigned formatMask(const Var& value, const std::string& where) {
    if (value.type() != typeid(Array::Ptr)) {
      fail(where + " must be an array of format names (astm, hl7, csv, xml)");
      return 0;
    }
    unsigned mask = 0;
    const Array& array = *value.extract<Array::Ptr>();
    for (size_t i = 0; i < array.size(); ++i) {
      std::string name = array.get(static_cast<unsigned>(i)).toString();
      auto it = std::find(kFormatNames.begin(), kFormatNames.end(), name);
      if (it == kFormatNames.end()) {
        fail(where, ": unknown format \"", name, "\" (expected astm, hl7, csv or xml)");
        return 0;
      }
      mask |= 1u << static_cast<unsigned>(it - kFormatNames.begin());
    }
    if (mask == 0) fail(where + " is empty");
    return mask;
  }

  /// Compiles every entry of a "patterns"/"allow" array into `group`.
  void loadGroup(const Var& value, const std::string& key, bool allowNumericId,
                 std::set<std::string>& ids, PatternGroup& group) {
    if (value.type() != typeid(Array::Ptr)) {
      fail("\"" + key + "\" must be an array of objects");
      return;
    }
    RE2::Options setOptions;
    setOptions.set_log_errors(false);
    group.set = std::make_unique<RE2::Set>(setOptions, RE2::UNANCHORED);
    const Array& array = *value.extract<Array::Ptr>();
    for (size_t i = 0; i < array.size() && !failed(); ++i) {
      std::string where = key + "[" + std::to_string(i) + "]";
      Var entry = array.get(static_cast<unsigned>(i));
      if (entry.type() != typeid(Object::Ptr)) {
        fail(where + ": must be an object");
        return;
      }
      const Object& object = *entry.extract<Object::Ptr>();
      std::set<std::string> allowed = {"id", "regex", "case_insensitive", "description"};
      if (allowNumericId) {
        allowed.insert("numeric_id");
        allowed.insert("formats");
        allowed.insert("screen_exempt");
      }
      checkKeys(object, allowed, where);
      std::string id, regex, description;
      if (!stringAt(object, "id", where, true, &id)) return;
      if (id.empty()) return fail(where + ": \"id\" is empty");
      where += " (id \"" + id + "\")";
      if (id.rfind("structural.", 0) == 0) {
        return fail(where + ": ids starting with \"structural.\" are reserved");
      }
      if (!ids.insert(id).second) return fail(where + ": duplicate id");
      if (!stringAt(object, "regex", where, true, &regex)) return;
      stringAt(object, "description", where, false, &description);
      bool caseInsensitive = boolAt(object, "case_insensitive", where);
      bool numericId = allowNumericId && boolAt(object, "numeric_id", where);
      bool screenExempt = allowNumericId && boolAt(object, "screen_exempt", where);
      unsigned formats = ~0u;
      if (object.has("formats"))
        formats = formatMask(object.get("formats"), where + ": \"formats\"");
      if (failed()) return;
      std::unique_ptr<RE2> re = compile(regex, caseInsensitive, where);
      if (!re) return;
      if (matchesEmpty(*re)) return fail(where + ": regex matches the empty string");
      std::string setError;
      std::string wrapped = (caseInsensitive ? "(?i:" : "(?:") + regex + ")";
      if (group.set->Add(wrapped, &setError) < 0) {
        return fail(where, ": regex cannot join the pattern set: ", setError);
      }
      group.items.push_back(CompiledPattern{id, std::move(re), numericId, formats, screenExempt});
    }
    if (failed()) return;
    if (group.items.empty()) {
      group.set.reset();
    } else if (!group.set->Compile()) {
      fail("\"" + key + "\": the pattern set is too large for RE2 to compile");
    }
  }

  /// Loads {"astm": ["P-6", ...], ...} into `out`; entries may be objects {"location", "id"} when
  /// `withIds`. Structural ids are "structural.<location>" unless given.
  void loadLocations(const Var& value, const std::string& key, bool withIds,
                     const std::set<std::string>& reservedIds,
                     std::array<FieldRules, kFormatCount>& out, size_t* count) {
    if (value.type() != typeid(Object::Ptr)) {
      return fail("\"" + key + "\" must be an object keyed by format (astm, hl7, csv, xml)");
    }
    const Object& object = *value.extract<Object::Ptr>();
    for (const std::string& format : object.getNames()) {
      auto it = std::find(kFormatNames.begin(), kFormatNames.end(), format);
      if (it == kFormatNames.end()) {
        return fail(key, ": unknown format \"", format, "\" (expected astm, hl7, csv or xml)");
      }
      FieldRules& rules = out[static_cast<size_t>(it - kFormatNames.begin())];
      Var list = object.get(format);
      if (list.type() != typeid(Array::Ptr)) {
        return fail(key, ".", format, ": must be an array of locations");
      }
      const Array& array = *list.extract<Array::Ptr>();
      for (size_t i = 0; i < array.size() && !failed(); ++i) {
        std::string where = key;
        where.append(".").append(format).append("[").append(std::to_string(i)).append("]");
        Var entry = array.get(static_cast<unsigned>(i));
        std::string location, id;
        if (entry.isString()) {
          location = entry.convert<std::string>();
        } else if (withIds && entry.type() == typeid(Object::Ptr)) {
          const Object& rule = *entry.extract<Object::Ptr>();
          checkKeys(rule, {"location", "id"}, where);
          if (!stringAt(rule, "location", where, true, &location)) return;
          stringAt(rule, "id", where, false, &id);
        } else {
          return fail(where + (withIds ? ": must be a location string or {\"location\", \"id\"}"
                                       : ": must be a location string"));
        }
        if (failed()) return;
        std::string type;
        size_t field = 0;
        if (!parseLocation(location, &type, &field)) {
          return fail(where, ": bad location \"", location,
                      "\" (expected TYPE-N or TYPE-*, e.g. \"P-6\", \"PID-5\", \"NK1-*\")");
        }
        if (withIds) {
          if (id.empty()) id = "structural." + location;
          if (id.rfind("structural.", 0) != 0) {
            return fail(where, ": structural id \"", id, "\" must start with \"structural.\"");
          }
          if (reservedIds.count(id) != 0) return fail(where, ": id \"", id, "\" is taken");
        }
        if (!rules[type].emplace(field, id).second) {
          return fail(where, ": duplicate location \"", location, "\"");
        }
        ++*count;
      }
    }
  }

  std::unique_ptr<RE2> loadFullMatch(const Var& value, const std::string& where) {
    if (!value.isString()) {
      fail(where + ": must be a string");
      return nullptr;
    }
    std::unique_ptr<RE2> re = compile(value.convert<std::string>(), false, where);
    if (re && RE2::FullMatch("", *re)) fail(where + ": regex matches the empty string");
    return re;
  }

  static bool parseLocation(const std::string& text, std::string* type, size_t* field) {
    static const RE2 kLocation("([A-Za-z][A-Za-z0-9_]{0,15})-(\\*|[1-9][0-9]{0,3})");
    std::string number;
    if (!RE2::FullMatch(text, kLocation, type, &number)) return false;
    *field = number == "*" ? kAllFields : static_cast<size_t>(std::stoul(number));
    return true;
  }

  /// True when `re` can produce a zero-length match (it would "find" PHI in any text).
  static bool matchesEmpty(const RE2& re) {
    for (const char* probe : {"", " ", "x", "x y-1.2 Z"}) {
      re2::StringPiece text(probe), match;
      if (re.Match(text, 0, text.size(), RE2::UNANCHORED, &match, 1) && match.empty()) {
        return true;
      }
    }
    return false;
  }

 private:
  std::string source_;
  std::string error_;
};

}  // namespace

std::vector<int> PatternGroup::matching(const re2::StringPiece& text) const {
  std::vector<int> found;
  if (!set) return found;
  RE2::Set::ErrorInfo info{RE2::Set::kNoError};
  if (!set->Match(text, &found, &info) && info.kind != RE2::Set::kNoError) {
    found.clear();  // the DFA gave up: ask each expression (RE2 falls back to its NFA)
    for (size_t i = 0; i < items.size(); ++i) {
      if (RE2::PartialMatch(text, *items[i].re)) found.push_back(static_cast<int>(i));
    }
  }
  std::sort(found.begin(), found.end());
  return found;
}

const std::string* findFieldRule(const FieldRules& rules, const std::string& type, size_t field) {
  auto byType = rules.find(type);
  if (byType == rules.end()) return nullptr;
  auto exact = byType->second.find(field);
  if (exact != byType->second.end()) return &exact->second;
  auto all = byType->second.find(kAllFields);
  return all == byType->second.end() ? nullptr : &all->second;
}

StatusOr<std::shared_ptr<const PhiGate::Rules>> compileRules(const std::string& json,
                                                             const std::string& sourceName) {
  Loader loader(sourceName);
  Var root;
  try {
    Poco::JSON::Parser parser;
    root = parser.parse(json);
  } catch (const Poco::Exception& e) {
    return Status::config(sourceName, "not valid JSON: " + e.displayText());
  }
  if (root.type() != typeid(Object::Ptr)) {
    return Status::config(sourceName, "the top level must be a JSON object");
  }
  const Object& top = *root.extract<Object::Ptr>();
  loader.checkKeys(top,
                   {"version", "description", "structural", "placeholders", "patterns", "allow",
                    "exempt", "exempt_all", "numeric_value", "columns"},
                   "");
  if (loader.failed()) return loader.status();
  if (!top.has("version") || !top.get("version").isInteger() ||
      top.get("version").convert<int>() != 1) {
    return Status::config(sourceName, "\"version\" must be present and equal to 1");
  }
  if (top.has("description") && !top.get("description").isString()) {
    return Status::config(sourceName, "\"description\" must be a string");
  }
  if (!top.has("patterns")) return Status::config(sourceName, "missing key \"patterns\"");

  auto rules = std::make_shared<PhiGate::Rules>();
  std::set<std::string> ids;
  loader.loadGroup(top.get("patterns"), "patterns", true, ids, rules->patterns);
  if (!loader.failed() && top.has("allow")) {
    loader.loadGroup(top.get("allow"), "allow", false, ids, rules->allows);
  }
  if (!loader.failed() && top.has("columns")) {
    loader.loadGroup(top.get("columns"), "columns", false, ids, rules->columns);
  }
  if (!loader.failed() && top.has("structural")) {
    loader.loadLocations(top.get("structural"), "structural", true, ids, rules->structural,
                         &rules->structuralCount);
  }
  if (!loader.failed() && top.has("exempt")) {
    size_t exemptCount = 0;
    loader.loadLocations(top.get("exempt"), "exempt", false, ids, rules->exempt, &exemptCount);
  }
  if (!loader.failed() && top.has("exempt_all")) {
    size_t exemptCount = 0;
    loader.loadLocations(top.get("exempt_all"), "exempt_all", false, ids, rules->exemptAll,
                         &exemptCount);
  }
  if (!loader.failed() && top.has("numeric_value")) {
    rules->numericValue = loader.loadFullMatch(top.get("numeric_value"), "numeric_value");
  }
  if (!loader.failed() && top.has("placeholders")) {
    Var list = top.get("placeholders");
    if (list.type() != typeid(Array::Ptr)) {
      loader.fail("\"placeholders\" must be an array of regex strings");
    } else {
      const Array& array = *list.extract<Array::Ptr>();
      for (size_t i = 0; i < array.size() && !loader.failed(); ++i) {
        auto re = loader.loadFullMatch(array.get(static_cast<unsigned>(i)),
                                       "placeholders[" + std::to_string(i) + "]");
        if (re) rules->placeholders.push_back(std::move(re));
      }
    }
  }
  if (loader.failed()) return loader.status();
  return std::shared_ptr<const PhiGate::Rules>(std::move(rules));
}

}  // namespace labgate::phi
