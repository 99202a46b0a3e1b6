#include "connectors/csv/text.h"

#include <array>
#include <cstdint>
#include <sstream>

namespace labgate::csv {
namespace {

constexpr size_t kChunkBytes = 64 * 1024;

// Windows-1252's 0x80-0x9F; the rest of the byte range is Latin-1 (= the code point).
constexpr std::array<uint16_t, 32> kCp1252High = {
    0x20AC, 0xFFFD, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
    0x2039, 0x0152, 0xFFFD, 0x017D, 0xFFFD, 0xFFFD, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
    0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0xFFFD, 0x017E, 0x0178};

uint32_t latin1CodePoint(unsigned char b) {
  if (b >= 0x80 && b < 0xA0) return kCp1252High[b - 0x80];
  return b;
}

// Length of the valid UTF-8 sequence at s[0], 0 if invalid, -1 if it may continue past the end.
int utf8Sequence(std::string_view s) {
  auto b0 = static_cast<unsigned char>(s[0]);
  if (b0 < 0x80) return 1;
  int len;
  uint32_t min;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2;
    min = 0x80;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    len = 3;
    min = 0x800;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    len = 4;
    min = 0x10000;
  } else {
    return 0;
  }
  uint32_t cp = b0 & (0xFF >> (len + 1));
  for (int i = 1; i < len; ++i) {
    if (static_cast<size_t>(i) >= s.size()) return -1;
    auto b = static_cast<unsigned char>(s[i]);
    if ((b & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return len;
}

}  // namespace

void appendUtf8(std::string& out, uint32_t cp) {
  if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) cp = 0xFFFD;
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

StatusOr<Encoding> parseEncoding(const std::string& key, const std::string& text) {
  if (text == "auto") return Encoding::kAuto;
  if (text == "utf-8" || text == "utf8") return Encoding::kUtf8;
  if (text == "utf-16" || text == "utf-16le") return Encoding::kUtf16Le;
  if (text == "utf-16be") return Encoding::kUtf16Be;
  if (text == "latin-1" || text == "iso-8859-1" || text == "windows-1252" || text == "cp1252") {
    return Encoding::kLatin1;
  }
  return Status::config(key,
                        "unknown encoding \"" + text +
                            "\" (expected auto, utf-8, utf-16, utf-16le, utf-16be or latin-1)");
}

const char* toString(Encoding encoding) {
  switch (encoding) {
    case Encoding::kAuto:
      return "auto";
    case Encoding::kUtf8:
      return "utf-8";
    case Encoding::kUtf16Le:
      return "utf-16le";
    case Encoding::kUtf16Be:
      return "utf-16be";
    case Encoding::kLatin1:
      return "latin-1";
  }
  return "auto";
}

Encoding sniffEncoding(std::string_view head) {
  if (head.size() >= 3 && head.substr(0, 3) == "\xEF\xBB\xBF") return Encoding::kUtf8;
  if (head.size() >= 2 && head.substr(0, 2) == "\xFF\xFE") return Encoding::kUtf16Le;
  if (head.size() >= 2 && head.substr(0, 2) == "\xFE\xFF") return Encoding::kUtf16Be;
  size_t evenNul = 0, oddNul = 0, n = std::min<size_t>(head.size(), 512) & ~size_t{1};
  for (size_t i = 0; i < n; ++i) {
    if (head[i] == '\0') ++(i % 2 == 0 ? evenNul : oddNul);
  }
  if (n >= 4 && oddNul * 4 >= n && evenNul == 0) return Encoding::kUtf16Le;
  if (n >= 4 && evenNul * 4 >= n && oddNul == 0) return Encoding::kUtf16Be;
  return Encoding::kUtf8;
}

TextReader::TextReader(std::istream& in, Encoding encoding) : in_(in), encoding_(encoding) {}

bool TextReader::read(std::string& out) {
  chunk_.resize(kChunkBytes);
  in_.read(chunk_.data(), static_cast<std::streamsize>(chunk_.size()));
  chunk_.resize(static_cast<size_t>(in_.gcount()));
  bytesRead_ += chunk_.size();
  bool last = chunk_.size() < kChunkBytes;
  if (chunk_.empty() && carry_.empty()) return false;
  std::string bytes = std::move(carry_);
  carry_.clear();
  bytes += chunk_;
  if (!started_) {
    started_ = true;
    Encoding sniffed = sniffEncoding(bytes);
    if (encoding_ == Encoding::kAuto) encoding_ = sniffed;
    // Drop a BOM that matches the encoding in use.
    if (encoding_ == Encoding::kUtf8 && bytes.starts_with("\xEF\xBB\xBF")) bytes.erase(0, 3);
    if (encoding_ == Encoding::kUtf16Le && bytes.starts_with("\xFF\xFE")) bytes.erase(0, 2);
    if (encoding_ == Encoding::kUtf16Be && bytes.starts_with("\xFE\xFF")) bytes.erase(0, 2);
  }
  size_t before = out.size();
  decode(bytes, last, out);
  if (last && !carry_.empty()) {  // a truncated character at the very end
    appendUtf8(out, 0xFFFD);
    carry_.clear();
  }
  return out.size() > before || !last || !chunk_.empty();
}

void TextReader::decode(std::string_view bytes, bool last, std::string& out) {
  out.reserve(out.size() + bytes.size());
  switch (encoding_) {
    case Encoding::kAuto:
    case Encoding::kUtf8: {
      size_t i = 0;
      while (i < bytes.size()) {
        auto b = static_cast<unsigned char>(bytes[i]);
        if (b < 0x80) {
          out.push_back(static_cast<char>(b));
          ++i;
          continue;
        }
        int len = utf8Sequence(bytes.substr(i));
        if (len < 0 && !last) {
          carry_.assign(bytes.substr(i));
          return;
        }
        if (len <= 0) {  // not UTF-8: the byte is Windows-1252
          appendUtf8(out, latin1CodePoint(b));
          ++i;
        } else {
          out.append(bytes.substr(i, static_cast<size_t>(len)));
          i += static_cast<size_t>(len);
        }
      }
      return;
    }
    case Encoding::kLatin1:
      for (char c : bytes) appendUtf8(out, latin1CodePoint(static_cast<unsigned char>(c)));
      return;
    case Encoding::kUtf16Le:
    case Encoding::kUtf16Be: {
      bool le = encoding_ == Encoding::kUtf16Le;
      size_t i = 0;
      auto unit = [&](size_t at) -> uint32_t {
        auto a = static_cast<unsigned char>(bytes[at]),
             b = static_cast<unsigned char>(bytes[at + 1]);
        return le ? (a | (b << 8)) : ((a << 8) | b);
      };
      while (i + 1 < bytes.size()) {
        uint32_t u = unit(i);
        if (u >= 0xD800 && u <= 0xDBFF) {
          if (i + 3 >= bytes.size()) {
            if (!last) break;
            appendUtf8(out, 0xFFFD);
            i += 2;
            continue;
          }
          uint32_t low = unit(i + 2);
          if (low >= 0xDC00 && low <= 0xDFFF) {
            appendUtf8(out, 0x10000 + ((u - 0xD800) << 10) + (low - 0xDC00));
            i += 4;
            continue;
          }
          appendUtf8(out, 0xFFFD);
          i += 2;
          continue;
        }
        appendUtf8(out, u);
        i += 2;
      }
      if (i < bytes.size()) carry_.assign(bytes.substr(i));
      return;
    }
  }
}

std::string decodeToUtf8(std::string_view bytes, Encoding encoding) {
  std::string in(bytes);
  std::istringstream stream(in);
  TextReader reader(stream, encoding);
  std::string out;
  while (reader.read(out)) {
  }
  return out;
}

}  // namespace labgate::csv
