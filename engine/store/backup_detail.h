// Private to engine/store/backup*.cpp: helpers both halves of the backup code use.
#pragma once

#include <Poco/Path.h>
#include <stdlib.h>

#include <cctype>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/model/status.h"
#include "engine/security/posix_file.h"

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

/// The raw bytes of lower-case hex; nullopt when it is not hex.
inline std::optional<std::string> bytesOfHex(const std::string& hex) {
  if (hex.size() % 2 != 0) return std::nullopt;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  std::string out;
  for (size_t i = 0; i < hex.size(); i += 2) {
    int hi = nibble(hex[i]), lo = nibble(hex[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out += static_cast<char>(hi << 4 | lo);
  }
  return out;
}

/// A new private (0700) folder under `parent` named `prefix` + 6 random characters, removed
/// with everything in it when the guard goes (backups and retention archives).
class TempFolder {
 public:
  static StatusOr<std::shared_ptr<TempFolder>> make(const std::string& parent,
                                                    const std::string& prefix) {
    const std::string made = security::createPrivateDirectories(parent);
    if (!made.empty()) return Status::io(parent, made);
    std::string pattern = Poco::Path(parent).append(prefix + "XXXXXX").toString();
    std::vector<char> buffer(pattern.begin(), pattern.end());
    buffer.push_back('\0');
    if (::mkdtemp(buffer.data()) == nullptr) {
      return Status::io(parent,
                        std::string("cannot create a temporary folder: ") + std::strerror(errno));
    }
    return std::make_shared<TempFolder>(std::string(buffer.data()));
  }
  explicit TempFolder(std::string path) : path_(std::move(path)) {}
  ~TempFolder() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempFolder(const TempFolder&) = delete;
  TempFolder& operator=(const TempFolder&) = delete;
  std::string file(const std::string& name) const {
    return Poco::Path(path_).append(name).toString();
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

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
