// Strict JSON configuration files (rule sets, the PHI pattern file, CSV and XML layout files): one
// check for keys a file may not hold, with one message wherever it is found:
//   LOCATION: KEY: unknown key; known keys are a, b, c
// LOCATION is where the object sits (a file, or a path inside one); it is left out when empty.
#pragma once

#include <optional>
#include <set>
#include <string>
#include <vector>

namespace Poco::JSON {
class Object;
}

namespace labgate::util {

/// The message for the first of `keys` not in `known` (in the order given), or nullopt when all
/// are known. The known keys are listed in sorted order.
std::optional<std::string> unknownKey(const std::vector<std::string>& keys,
                                      const std::set<std::string>& known,
                                      const std::string& location);

/// The message for `key` refused at `location` (what unknownKey() says about it).
std::string unknownKeyMessage(const std::string& key, const std::set<std::string>& known,
                              const std::string& location);

/// unknownKey() over the keys of a POCO JSON object (include Poco/JSON/Object.h first).
template <typename JsonObject = Poco::JSON::Object>
std::optional<std::string> unknownKey(const JsonObject& object, const std::set<std::string>& known,
                                      const std::string& location) {
  std::vector<std::string> keys;
  object.getNames(keys);
  return unknownKey(keys, known, location);
}

}  // namespace labgate::util
