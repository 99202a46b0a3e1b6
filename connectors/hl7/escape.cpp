// HL7 v2 escape sequences (see escape.h for the encoding chosen).
#include "connectors/hl7/escape.h"

namespace labgate::hl7 {
namespace {

constexpr char kHexDigits[] = "0123456789ABCDEF";

bool isControl(unsigned char c) { return c < 0x20 || c == 0x7F; }

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// Decodes the hex digits of a \X..\ sequence; false when they are not pairs of hex digits.
bool decodeHex(std::string_view digits, std::string& out) {
  if (digits.empty() || digits.size() % 2 != 0) return false;
  std::string bytes;
  bytes.reserve(digits.size() / 2);
  for (size_t i = 0; i < digits.size(); i += 2) {
    int high = hexValue(digits[i]);
    int low = hexValue(digits[i + 1]);
    if (high < 0 || low < 0) return false;
    bytes.push_back(static_cast<char>(high * 16 + low));
  }
  out += bytes;
  return true;
}

// Appends the meaning of the sequence body (the text between two escape characters); false when
// the body is not one LabGate decodes.
bool decodeSequence(std::string_view body, const Hl7Delimiters& d, std::string& out) {
  if (body.size() == 1) {
    switch (body[0]) {
      case 'F':
        out.push_back(d.field);
        return true;
      case 'S':
        out.push_back(d.component);
        return true;
      case 'T':
        out.push_back(d.subcomponent);
        return true;
      case 'R':
        out.push_back(d.repetition);
        return true;
      case 'E':
        out.push_back(d.escape);
        return true;
      default:
        return false;
    }
  }
  if (body == ".br") {
    out.push_back('\n');
    return true;
  }
  if (body.size() > 1 && body[0] == 'X') return decodeHex(body.substr(1), out);
  return false;
}

}  // namespace

std::string escapeText(std::string_view text, const Hl7Delimiters& d) {
  std::string out;
  out.reserve(text.size() + 8);
  size_t i = 0;
  while (i < text.size()) {
    char c = text[i];
    auto uc = static_cast<unsigned char>(c);
    if (isControl(uc)) {
      out.push_back(d.escape);
      out.push_back('X');
      while (i < text.size() && isControl(static_cast<unsigned char>(text[i]))) {
        auto b = static_cast<unsigned char>(text[i]);
        out.push_back(kHexDigits[b >> 4]);
        out.push_back(kHexDigits[b & 0x0F]);
        ++i;
      }
      out.push_back(d.escape);
      continue;
    }
    char code = 0;
    if (c == d.field)
      code = 'F';
    else if (c == d.component)
      code = 'S';
    else if (c == d.repetition)
      code = 'R';
    else if (c == d.escape)
      code = 'E';
    else if (c == d.subcomponent)
      code = 'T';
    if (code != 0) {
      out.push_back(d.escape);
      out.push_back(code);
      out.push_back(d.escape);
    } else {
      out.push_back(c);
    }
    ++i;
  }
  return out;
}

std::string unescapeText(std::string_view text, const Hl7Delimiters& d) {
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    if (text[i] != d.escape) {
      out.push_back(text[i]);
      ++i;
      continue;
    }
    size_t close = text.find(d.escape, i + 1);
    if (close == std::string_view::npos) {  // a lone escape character: keep the rest as sent
      out.append(text.substr(i));
      break;
    }
    std::string_view body = text.substr(i + 1, close - i - 1);
    if (!decodeSequence(body, d, out)) out.append(text.substr(i, close - i + 1));
    i = close + 1;
  }
  return out;
}

}  // namespace labgate::hl7
