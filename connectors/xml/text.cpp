// Encoding detection and conversion to UTF-8, prolog scanning and line numbers for XML exports.
#include "connectors/xml/text.h"

#include <algorithm>
#include <cstdint>

namespace labgate::xml {
namespace {

void appendUtf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

std::string lineOf(int line) { return "line " + std::to_string(line); }

// windows-1252 0x80..0x9F; the five unassigned bytes map to the C1 control of the same value.
constexpr uint16_t kCp1252High[32] = {
    0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
    0x2039, 0x0152, 0x008D, 0x017D, 0x008F, 0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
    0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178};

Status decodeUtf16(std::string& bytes, size_t start, bool bigEndian) {
  std::string out;
  out.reserve(bytes.size() / 2 + bytes.size() / 4);
  int line = 1;
  auto unit = [&](size_t i) -> uint32_t {
    auto b0 = static_cast<unsigned char>(bytes[i]), b1 = static_cast<unsigned char>(bytes[i + 1]);
    return bigEndian ? (b0 << 8 | b1) : (b1 << 8 | b0);
  };
  if ((bytes.size() - start) % 2 != 0) {
    return Status::invalid("line 1", "UTF-16 text with an odd number of bytes");
  }
  for (size_t i = start; i + 1 < bytes.size(); i += 2) {
    uint32_t cp = unit(i);
    if (cp >= 0xD800 && cp <= 0xDBFF) {
      uint32_t low = i + 3 < bytes.size() ? unit(i + 2) : 0;
      if (low < 0xDC00 || low > 0xDFFF) {
        return Status::invalid(lineOf(line), "not valid UTF-16 (unpaired surrogate)");
      }
      cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
      i += 2;
    } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
      return Status::invalid(lineOf(line), "not valid UTF-16 (unpaired surrogate)");
    }
    if (cp == '\n') ++line;
    appendUtf8(out, cp);
  }
  bytes.swap(out);
  return Status::ok();
}

void decodeSingleByte(std::string& bytes, bool cp1252) {
  std::string out;
  out.reserve(bytes.size() + bytes.size() / 8);
  for (char c : bytes) {
    auto b = static_cast<unsigned char>(c);
    if (b < 0x80) {
      out += c;
    } else if (cp1252 && b < 0xA0) {
      appendUtf8(out, kCp1252High[b - 0x80]);
    } else {
      appendUtf8(out, b);
    }
  }
  bytes.swap(out);
}

// Checks UTF-8 well-formedness (no overlong forms, surrogates or code points above U+10FFFF).
Status checkUtf8(std::string_view s) {
  int line = 1;
  for (size_t i = 0; i < s.size();) {
    auto b = static_cast<unsigned char>(s[i]);
    if (b < 0x80) {
      if (b == '\n') ++line;
      ++i;
      continue;
    }
    size_t len = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC2 ? 2 : 0;
    if (len == 0 || b > 0xF4 || i + len > s.size()) {
      return Status::invalid(
          lineOf(line), "not valid UTF-8 (declare the file's encoding in the XML declaration)");
    }
    uint32_t cp = b & (0xFF >> (len + 1));
    for (size_t k = 1; k < len; ++k) {
      auto c = static_cast<unsigned char>(s[i + k]);
      if ((c & 0xC0) != 0x80) {
        return Status::invalid(lineOf(line), "not valid UTF-8 (broken multi-byte sequence)");
      }
      cp = cp << 6 | (c & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF)) {
      return Status::invalid(lineOf(line), "not valid UTF-8 (overlong form or surrogate)");
    }
    i += len;
  }
  return Status::ok();
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// The encoding named by an XML declaration at the start of `text`, lower-cased; "" when none.
std::string declaredEncoding(std::string_view text) {
  if (text.substr(0, 5) != "<?xml") return "";
  size_t end = text.find("?>");
  if (end == std::string_view::npos || end > 4096) return "";
  std::string_view decl = text.substr(0, end);
  size_t at = decl.find("encoding");
  if (at == std::string_view::npos) return "";
  at = decl.find_first_of("\"'", at);
  if (at == std::string_view::npos) return "";
  size_t close = decl.find(decl[at], at + 1);
  if (close == std::string_view::npos) return "";
  return lower(decl.substr(at + 1, close - at - 1));
}

bool isNameChar(char c) {
  auto b = static_cast<unsigned char>(c);
  return b >= 0x80 || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         c == '_' || c == ':' || c == '-' || c == '.';
}

}  // namespace

Status decodeToUtf8(std::string& bytes) {
  auto at = [&](size_t i) {
    return i < bytes.size() ? static_cast<unsigned char>(bytes[i]) : 0x100;
  };
  if (at(0) == 0xEF && at(1) == 0xBB && at(2) == 0xBF) {
    bytes.erase(0, 3);
    return checkUtf8(bytes);
  }
  if ((at(0) == 0xFF && at(1) == 0xFE && at(2) == 0 && at(3) == 0) ||
      (at(0) == 0 && at(1) == 0 && at(2) == 0xFE && at(3) == 0xFF)) {
    return Status::invalid("line 1", "UTF-32 is not supported");
  }
  if (at(0) == 0xFF && at(1) == 0xFE) return decodeUtf16(bytes, 2, false);
  if (at(0) == 0xFE && at(1) == 0xFF) return decodeUtf16(bytes, 2, true);
  if (at(0) == '<' && at(1) == 0 && at(2) == '?' && at(3) == 0) return decodeUtf16(bytes, 0, false);
  if (at(0) == 0 && at(1) == '<' && at(2) == 0 && at(3) == '?') return decodeUtf16(bytes, 0, true);

  std::string enc = declaredEncoding(bytes);
  if (enc.empty() || enc == "utf-8" || enc == "utf8" || enc == "us-ascii" || enc == "ascii") {
    return checkUtf8(bytes);
  }
  if (enc == "iso-8859-1" || enc == "iso8859-1" || enc == "iso_8859-1" || enc == "latin1" ||
      enc == "latin-1" || enc == "l1") {
    decodeSingleByte(bytes, false);
    return Status::ok();
  }
  if (enc == "windows-1252" || enc == "cp1252") {
    decodeSingleByte(bytes, true);
    return Status::ok();
  }
  std::string shown;
  for (char c : enc.substr(0, 40)) shown += isNameChar(c) ? c : '?';
  return Status::invalid("line 1", "encoding '" + shown +
                                       "' is not supported (UTF-8, UTF-16, ISO-8859-1, "
                                       "windows-1252)");
}

Prolog scanProlog(std::string_view text) {
  Prolog prolog;
  size_t i = 0;
  while (i < text.size()) {
    char c = text[i];
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      ++i;
    } else if (text.substr(i, 4) == "<!--") {
      size_t end = text.find("-->", i + 4);
      if (end == std::string_view::npos) return prolog;
      i = end + 3;
    } else if (text.substr(i, 2) == "<?") {
      size_t end = text.find("?>", i + 2);
      if (end == std::string_view::npos) return prolog;
      i = end + 2;
    } else if (text.substr(i, 2) == "<!") {
      // <!DOCTYPE, or any other markup declaration in the prolog: refused alike.
      prolog.doctype = true;
      prolog.doctypeAt = i;
      return prolog;
    } else if (c == '<') {
      size_t end = i + 1;
      while (end < text.size() && isNameChar(text[end])) ++end;
      if (end < text.size()) prolog.root = std::string(text.substr(i + 1, end - i - 1));
      return prolog;
    } else {
      return prolog;  // text before the root: not well-formed, the parser says so
    }
  }
  return prolog;
}

std::string asciiHead(std::string_view head) {
  auto at = [&](size_t i) {
    return i < head.size() ? static_cast<unsigned char>(head[i]) : 0x100u;
  };
  size_t start = 0, step = 1, low = 0;
  if (at(0) == 0xEF && at(1) == 0xBB && at(2) == 0xBF) {
    start = 3;
  } else if (at(0) == 0xFF && at(1) == 0xFE) {
    start = 2, step = 2, low = 0;
  } else if (at(0) == 0xFE && at(1) == 0xFF) {
    start = 2, step = 2, low = 1;
  } else if (at(0) == '<' && at(1) == 0) {
    step = 2, low = 0;
  } else if (at(0) == 0 && at(1) == '<') {
    step = 2, low = 1;
  }
  std::string out;
  out.reserve(head.size() / step);
  for (size_t i = start; i + step - 1 < head.size(); i += step) {
    unsigned char b = at(i + low);
    bool ascii = b < 0x80 && (step == 1 || at(i + (1 - low)) == 0);
    out += ascii ? static_cast<char>(b) : '?';
  }
  return out;
}

LineIndex::LineIndex(std::string_view text) {
  for (size_t i = text.find('\n'); i != std::string_view::npos; i = text.find('\n', i + 1)) {
    newlines_.push_back(i);
  }
}

int LineIndex::lineAt(size_t offset) const {
  auto it = std::lower_bound(newlines_.begin(), newlines_.end(), offset);
  return static_cast<int>(it - newlines_.begin()) + 1;
}

}  // namespace labgate::xml
