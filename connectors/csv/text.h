// Text decoding for exports: whatever the quantitation software wrote (UTF-8 with or without a
// BOM, UTF-16 from Windows, Latin-1/Windows-1252), read as a stream of UTF-8 chunks.
#pragma once

#include <cstddef>
#include <cstdint>
#include <istream>
#include <string>
#include <string_view>

#include "engine/model/status.h"

namespace labgate::csv {

enum class Encoding { kAuto, kUtf8, kUtf16Le, kUtf16Be, kLatin1 };

/// "auto", "utf-8", "utf-16", "utf-16le", "utf-16be", "latin-1" (also "iso-8859-1",
/// "windows-1252"); anything else is a Status::config naming `key`.
StatusOr<Encoding> parseEncoding(const std::string& key, const std::string& text);
const char* toString(Encoding encoding);

/// Guesses the encoding from the first bytes: a BOM decides; without one, NUL bytes in alternate
/// positions mean UTF-16; otherwise UTF-8 (bytes that are not valid UTF-8 are read as
/// Windows-1252, which is what Latin-1 exports contain).
Encoding sniffEncoding(std::string_view head);

/// Reads `in` in chunks and appends UTF-8 to the caller's buffer. The BOM is dropped. Memory is
/// one chunk (64 KiB) plus an incomplete character carried between chunks.
class TextReader {
 public:
  explicit TextReader(std::istream& in, Encoding encoding = Encoding::kAuto);

  /// Appends the next decoded chunk to `out`; false at the end of the input (nothing appended).
  bool read(std::string& out);
  Encoding encoding() const { return encoding_; }
  /// Bytes consumed from the stream so far.
  size_t bytesRead() const { return bytesRead_; }

 private:
  void decode(std::string_view bytes, bool last, std::string& out);

  std::istream& in_;
  Encoding encoding_;
  bool started_ = false;
  std::string carry_;  // an incomplete multi-byte sequence from the previous chunk
  std::string chunk_;
  size_t bytesRead_ = 0;
};

/// Whole-buffer convenience: decodes `bytes` to UTF-8.
std::string decodeToUtf8(std::string_view bytes, Encoding encoding = Encoding::kAuto);

/// Appends the UTF-8 encoding of `cp` (a replacement character for invalid code points).
void appendUtf8(std::string& out, uint32_t cp);

}  // namespace labgate::csv
