// Private to engine/store/backup*.cpp: helpers both halves of the backup code use.
#pragma once

#include <cctype>
#include <cstddef>
#include <string>

namespace labgate::backup::detail {

/// The longest header a backup may have: more is a damaged or foreign file.
inline constexpr size_t kMaxHeaderBytes = 64 * 1024;

/// Lower-case hex of raw bytes.
inline std::string hexOf(const std::string& bytes) {
  static const char* kHex = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out += kHex[c >> 4];
    out += kHex[c & 0x0F];
  }
  return out;
}

/// A body file name as the store writes them: one path segment of safe characters.
inline bool isBodyFileName(const std::string& name) {
  if (name.empty() || name.size() > 255 || name[0] == '.') return false;
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.')
      return false;
  }
  return true;
}

}  // namespace labgate::backup::detail
