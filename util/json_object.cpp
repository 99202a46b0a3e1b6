// The unknown-key check of strict JSON files (see json_object.h).
#include "util/json_object.h"

namespace labgate::util {

std::string unknownKeyMessage(const std::string& key, const std::set<std::string>& known,
                              const std::string& location) {
  std::string list;
  for (const std::string& k : known) list += (list.empty() ? "" : ", ") + k;
  return (location.empty() ? "" : location + ": ") + key + ": unknown key; known keys are " + list;
}

std::optional<std::string> unknownKey(const std::vector<std::string>& keys,
                                      const std::set<std::string>& known,
                                      const std::string& location) {
  for (const std::string& key : keys) {
    if (!known.count(key)) return unknownKeyMessage(key, known, location);
  }
  return std::nullopt;
}

}  // namespace labgate::util
