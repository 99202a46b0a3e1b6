// Parsing of the ASTM connector's configuration keys into AstmOptions.
#include "connectors/astm/options.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdint>
#include <functional>
#include <optional>

#include "util/text.h"

namespace labgate::astm {
namespace {

std::string trimmed(const std::string& text) { return std::string(util::trimmed(text)); }

std::string lowered(const std::string& text) { return util::lowered(text); }

std::optional<bool> parseBool(const std::string& value) {
  const std::string v = lowered(trimmed(value));
  if (v == "true" || v == "yes" || v == "on" || v == "1") return true;
  if (v == "false" || v == "no" || v == "off" || v == "0") return false;
  return std::nullopt;
}

// A whole non-negative number with an optional binary K/M suffix ("64K" = 65536).
std::optional<uint64_t> parseSize(const std::string& value) {
  std::string v = trimmed(value);
  uint64_t multiplier = 1;
  if (!v.empty()) {
    const char last = static_cast<char>(std::toupper(static_cast<unsigned char>(v.back())));
    if (last == 'K' || last == 'M') {
      multiplier = last == 'K' ? 1024 : 1024 * 1024;
      v.pop_back();
      v = trimmed(v);
    }
  }
  if (v.empty()) return std::nullopt;
  uint64_t number = 0;
  const auto [end, error] = std::from_chars(v.data(), v.data() + v.size(), number);
  if (error != std::errc() || end != v.data() + v.size()) return std::nullopt;
  if (number > UINT64_MAX / multiplier) return std::nullopt;
  return number * multiplier;
}

std::optional<int> parseInt(const std::string& value) {
  const std::string v = trimmed(value);
  int number = 0;
  const auto [end, error] = std::from_chars(v.data(), v.data() + v.size(), number);
  if (v.empty() || error != std::errc() || end != v.data() + v.size()) return std::nullopt;
  return number;
}

using Setter = std::function<Status(AstmOptions&, const std::string& key, const std::string&)>;

Setter boolSetter(bool AstmOptions::*member) {
  return [member](AstmOptions& options, const std::string& key, const std::string& value) {
    const auto parsed = parseBool(value);
    if (!parsed) {
      return Status::config(key,
                            "expected true or false (yes/no, on/off, 1/0), got \"" + value + "\"");
    }
    options.*member = *parsed;
    return Status::ok();
  };
}

Setter sizeSetter(size_t AstmOptions::*member, uint64_t minimum, uint64_t maximum) {
  return [=](AstmOptions& options, const std::string& key, const std::string& value) {
    const auto parsed = parseSize(value);
    if (!parsed || *parsed < minimum || *parsed > maximum) {
      return Status::config(key, "expected a byte count from " + std::to_string(minimum) + " to " +
                                     std::to_string(maximum) +
                                     " (K and M suffixes allowed), got \"" + value + "\"");
    }
    options.*member = static_cast<size_t>(*parsed);
    return Status::ok();
  };
}

Setter intSetter(int AstmOptions::*member, int minimum, int maximum) {
  return [=](AstmOptions& options, const std::string& key, const std::string& value) {
    const auto parsed = parseInt(value);
    if (!parsed || *parsed < minimum || *parsed > maximum) {
      return Status::config(key, "expected a whole number from " + std::to_string(minimum) +
                                     " to " + std::to_string(maximum) + ", got \"" + value + "\"");
    }
    options.*member = *parsed;
    return Status::ok();
  };
}

Status setCharset(AstmOptions& options, const std::string& key, const std::string& value) {
  const std::string v = lowered(trimmed(value));
  if (v == "utf-8" || v == "utf8") {
    options.charset = AstmOptions::Charset::kUtf8;
  } else if (v == "latin-1" || v == "latin1" || v == "iso-8859-1") {
    options.charset = AstmOptions::Charset::kLatin1;
  } else {
    return Status::config(key, "expected utf-8 or latin-1 (ISO 8859-1), got \"" + value + "\"");
  }
  return Status::ok();
}

// test_code_components: "2, 4, 7, 8" -> {2, 4, 7, 8}; each 1..32, at most 8, none twice.
Status setTestCodeComponents(AstmOptions& options, const std::string& key,
                             const std::string& value) {
  if (options.testCodeComponent != 0) {
    return Status::config(key,
                          "cannot be combined with astm.test_code_component (one component); "
                          "remove one of the two keys");
  }
  std::vector<int> components;
  size_t at = 0;
  const std::string text = trimmed(value);
  while (at <= text.size()) {
    size_t comma = text.find(',', at);
    if (comma == std::string::npos) comma = text.size();
    const auto number = parseInt(text.substr(at, comma - at));
    if (!number || *number < 1 || *number > 32) {
      return Status::config(key,
                            "expected component numbers from 1 to 32 separated by commas "
                            "(e.g. 2,4,7,8), got \"" +
                                value + "\"");
    }
    if (std::find(components.begin(), components.end(), *number) != components.end()) {
      return Status::config(key, "component " + std::to_string(*number) + " is listed twice");
    }
    components.push_back(*number);
    at = comma + 1;
  }
  if (components.size() > 8) return Status::config(key, "at most 8 components");
  options.testCodeComponents = std::move(components);
  return Status::ok();
}

// test_code_separator: 1 to 4 printable ASCII characters, no blank.
Status setTestCodeSeparator(AstmOptions& options, const std::string& key,
                            const std::string& value) {
  const bool printable = std::all_of(value.begin(), value.end(), [](char c) {
    return static_cast<unsigned char>(c) > 0x20 && static_cast<unsigned char>(c) < 0x7F;
  });
  if (value.empty() || value.size() > 4 || !printable) {
    return Status::config(
        key, "expected 1 to 4 printable characters without blanks (e.g. /), got \"" + value + "\"");
  }
  options.testCodeSeparator = value;
  return Status::ok();
}

// test_code_component refuses to be combined with test_code_components.
Status setTestCodeComponent(AstmOptions& options, const std::string& key,
                            const std::string& value) {
  if (!options.testCodeComponents.empty()) {
    return Status::config(key,
                          "cannot be combined with astm.test_code_components (a composite "
                          "code); remove one of the two keys");
  }
  return intSetter(&AstmOptions::testCodeComponent, 0, 32)(options, key, value);
}

struct OptionEntry {
  const char* key;
  Setter set;
};

// Documentation order; the one table both setAstmOption() and astmOptionKeys() read.
const std::vector<OptionEntry>& optionTable() {
  static const std::vector<OptionEntry> kTable = {
      {"max_frame_bytes", sizeSetter(&AstmOptions::maxFrameBytes, 7, 64ull * 1024 * 1024)},
      {"max_message_bytes", sizeSetter(&AstmOptions::maxMessageBytes, 16, 1024ull * 1024 * 1024)},
      {"strict_frame_numbers", boolSetter(&AstmOptions::strictFrameNumbers)},
      {"allow_missing_checksum", boolSetter(&AstmOptions::allowMissingChecksum)},
      {"allow_lowercase_checksum", boolSetter(&AstmOptions::allowLowercaseChecksum)},
      {"receive_timeout_seconds", intSetter(&AstmOptions::receiveTimeoutSeconds, 1, 3600)},
      {"accept_unframed", boolSetter(&AstmOptions::acceptUnframed)},
      {"deliver_without_terminator", boolSetter(&AstmOptions::deliverWithoutTerminator)},
      {"max_consecutive_naks", intSetter(&AstmOptions::maxConsecutiveNaks, 1, 100)},
      {"decimal_comma", boolSetter(&AstmOptions::decimalComma)},
      {"skip_comment_lines", boolSetter(&AstmOptions::skipCommentLines)},
      {"strip_frame_prefix", boolSetter(&AstmOptions::stripFramePrefix)},
      {"qc_from_processing_id", boolSetter(&AstmOptions::qcFromProcessingId)},
      {"test_code_component", setTestCodeComponent},
      {"charset", setCharset},
      {"test_code_components", setTestCodeComponents},
      {"test_code_separator", setTestCodeSeparator},
  };
  return kTable;
}

}  // namespace

Status setAstmOption(AstmOptions& options, const std::string& key, const std::string& value) {
  const std::string wanted = lowered(trimmed(key));
  for (const auto& entry : optionTable()) {
    if (wanted == entry.key) return entry.set(options, entry.key, value);
  }
  return Status::config(key,
                        "unknown ASTM option; accepted keys are listed in docs/connectors/astm.md");
}

std::vector<std::string> astmOptionKeys() {
  std::vector<std::string> keys;
  for (const auto& entry : optionTable()) keys.emplace_back(entry.key);
  return keys;
}

}  // namespace labgate::astm
