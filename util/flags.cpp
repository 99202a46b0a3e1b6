// The flag words (see flags.h).
#include "util/flags.h"

#include <array>
#include <string>

#include "util/text.h"

namespace labgate::util {
namespace {

// Lower case, runs of white space and '_' folded to one space, trimmed.
std::string folded(std::string_view text) {
  std::string out;
  bool gap = false;
  for (char c : trimmed(text)) {
    if (c == ' ' || c == '\t' || c == '_') {
      gap = true;
      continue;
    }
    if (gap && !out.empty()) out += ' ';
    gap = false;
    out += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  }
  return out;
}

constexpr std::array<std::string_view, 9> kYes = {
    "true", "yes", "y", "1", "x", "manual", "manually integrated", "m", "mm"};
constexpr std::array<std::string_view, 7> kNo = {"false", "no", "n", "0", "auto", "automatic", ""};

}  // namespace

std::optional<bool> flagWord(std::string_view text) {
  const std::string word = folded(text);
  for (std::string_view yes : kYes) {
    if (word == yes) return true;
  }
  for (std::string_view no : kNo) {
    if (word == no) return false;
  }
  return std::nullopt;
}

}  // namespace labgate::util
