// Decoding mapping spreadsheets (see spreadsheet_text.h).
#include "mappings/spreadsheet_text.h"

#include <array>
#include <cstdint>
#include <cstdio>

#include "util/utf8.h"

namespace labgate::mappings {
namespace {

constexpr size_t kMaxProblems = 20;

// Windows-1252's 0x80-0x9F; 0 marks the five bytes it leaves undefined.
constexpr std::array<uint16_t, 32> kCp1252High = {
    0x20AC, 0,      0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
    0x2039, 0x0152, 0,      0x017D, 0,      0,      0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
    0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0,      0x017E, 0x0178};

constexpr uint32_t kReplacement = 0xFFFD;

std::string hexByte(unsigned value) {
  std::array<char, 8> buffer{};
  std::snprintf(buffer.data(), buffer.size(), "0x%02X", value & 0xFFu);
  return buffer.data();
}

void appendUtf8(std::string& out, uint32_t cp) {
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

// Appends decoded characters and keeps the position of the next one, for problems.
class Writer {
 public:
  explicit Writer(DecodedText& out) : out_(out) {}

  void put(uint32_t cp) {
    if (cp < 0x20 && cp != '\t' && cp != '\r' && cp != '\n') {
      problem("control character " + hexByte(cp) +
              " (not text; was the file saved as something other than CSV?)");
    } else if (cp == 0x7F) {
      problem("control character 0x7F (not text)");
    }
    appendUtf8(out_.text, cp);
    if (cp == '\r') {
      ++line_;
      character_ = 1;
      afterCr_ = true;
      return;
    }
    if (cp == '\n') {
      if (!afterCr_) {
        ++line_;
        character_ = 1;
      }
      afterCr_ = false;
      return;
    }
    afterCr_ = false;
    ++character_;
  }

  // A problem at the character about to be written.
  void problem(std::string message) {
    if (out_.problems.size() < kMaxProblems) {
      out_.problems.push_back({line_, character_, std::move(message)});
    }
  }

 private:
  DecodedText& out_;
  int line_ = 1;
  int character_ = 1;
  bool afterCr_ = false;
};

bool looksLikeUtf16(std::string_view bytes, bool& bigEndian) {
  const size_t n = std::min<size_t>(bytes.size(), 1024) & ~size_t{1};
  size_t evenNul = 0, oddNul = 0;
  for (size_t i = 0; i < n; ++i) {
    if (bytes[i] == '\0') ++(i % 2 == 0 ? evenNul : oddNul);
  }
  if (n < 4) return false;
  if (oddNul * 4 >= n && evenNul == 0) {
    bigEndian = false;
    return true;
  }
  if (evenNul * 4 >= n && oddNul == 0) {
    bigEndian = true;
    return true;
  }
  return false;
}

void decodeUtf16(std::string_view bytes, bool bigEndian, Writer& writer) {
  auto unit = [&](size_t i) -> uint32_t {
    const auto a = static_cast<unsigned char>(bytes[i]);
    const auto b = static_cast<unsigned char>(bytes[i + 1]);
    return bigEndian ? (a << 8u) | b : (b << 8u) | a;
  };
  size_t i = 0;
  for (; i + 1 < bytes.size(); i += 2) {
    const uint32_t u = unit(i);
    if (u >= 0xD800 && u <= 0xDBFF && i + 3 < bytes.size()) {
      const uint32_t low = unit(i + 2);
      if (low >= 0xDC00 && low <= 0xDFFF) {
        writer.put(0x10000 + ((u - 0xD800) << 10) + (low - 0xDC00));
        i += 2;
        continue;
      }
    }
    if (u >= 0xD800 && u <= 0xDFFF) {
      writer.problem("UTF-16 unit " + hexByte(u >> 8) + hexByte(u).substr(2) +
                     " is half of a character without its other half");
      writer.put(kReplacement);
      continue;
    }
    writer.put(u);
  }
  if (i < bytes.size()) {
    writer.problem("the file ends in the middle of a UTF-16 character (an odd number of bytes)");
  }
}

void decodeUtf8(std::string_view bytes, Writer& writer) {
  for (size_t i = 0; i < bytes.size();) {
    const auto c = static_cast<unsigned char>(bytes[i]);
    if (c < 0x80) {
      writer.put(c);
      ++i;
      continue;
    }
    const size_t n = util::utf8SequenceLength(bytes, i);
    if (n == 0) {
      writer.problem("byte " + hexByte(c) +
                     " is not UTF-8, and the file has UTF-8 text elsewhere (two encodings mixed?); "
                     "save the file again as \"CSV UTF-8\"");
      writer.put(kReplacement);
      ++i;
      continue;
    }
    uint32_t cp = c & (0xFFu >> (n + 1));
    for (size_t k = 1; k < n; ++k)
      cp = (cp << 6) | (static_cast<unsigned char>(bytes[i + k]) & 0x3F);
    writer.put(cp);
    i += n;
  }
}

void decodeWindows1252(std::string_view bytes, Writer& writer) {
  for (char ch : bytes) {
    const auto c = static_cast<unsigned char>(ch);
    if (c >= 0x80 && c < 0xA0) {
      const uint16_t cp = kCp1252High[c - 0x80];
      if (cp == 0) {
        writer.problem("byte " + hexByte(c) +
                       " is no character in Windows-1252 (the file is not UTF-8 either); save "
                       "the file again as \"CSV UTF-8\"");
        writer.put(kReplacement);
        continue;
      }
      writer.put(cp);
      continue;
    }
    writer.put(c);
  }
}

bool hasMultiByteUtf8(std::string_view bytes) {
  for (size_t i = 0; i < bytes.size(); ++i) {
    if (static_cast<unsigned char>(bytes[i]) >= 0x80 && util::utf8SequenceLength(bytes, i) > 0) {
      return true;
    }
  }
  return false;
}

}  // namespace

DecodedText decodeSpreadsheetText(std::string_view bytes) {
  DecodedText out;
  out.text.reserve(bytes.size());
  Writer writer(out);
  bool bigEndian = false;
  if (bytes.starts_with("\xEF\xBB\xBF")) {
    out.encoding = "UTF-8";
    out.bom = true;
    decodeUtf8(bytes.substr(3), writer);
  } else if (bytes.starts_with("\xFF\xFE") || bytes.starts_with("\xFE\xFF")) {
    bigEndian = bytes[0] == '\xFE';
    out.encoding = bigEndian ? "UTF-16BE" : "UTF-16LE";
    out.bom = true;
    decodeUtf16(bytes.substr(2), bigEndian, writer);
  } else if (looksLikeUtf16(bytes, bigEndian)) {
    out.encoding = bigEndian ? "UTF-16BE" : "UTF-16LE";
    decodeUtf16(bytes, bigEndian, writer);
  } else if (util::isValidUtf8(bytes) || hasMultiByteUtf8(bytes)) {
    out.encoding = "UTF-8";
    decodeUtf8(bytes, writer);
  } else {
    out.encoding = "Windows-1252";
    decodeWindows1252(bytes, writer);
  }
  return out;
}

std::string printable(std::string_view text, size_t maxCharacters) {
  std::string out;
  size_t characters = 0;
  for (size_t i = 0; i < text.size();) {
    if (characters == maxCharacters) {
      out += "...";
      break;
    }
    ++characters;
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7F) {
      out.push_back(static_cast<char>(c));
      ++i;
      continue;
    }
    const size_t n = c < 0x80 ? 0 : util::utf8SequenceLength(text, i);
    if (n == 0) {
      out += "\\x" + hexByte(c).substr(2);
      ++i;
      continue;
    }
    out.append(text.substr(i, n));
    i += n;
  }
  return out;
}

}  // namespace labgate::mappings
