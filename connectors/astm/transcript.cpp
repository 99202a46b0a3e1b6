// Bracket-notation transcript translation. See transcript.h for what counts as instrument bytes.
#include "connectors/astm/transcript.h"

#include <array>

namespace labgate::astm {
namespace {

// ASCII names of the control characters 0x00..0x1F.
constexpr std::array<std::string_view, 32> kControlNames = {
    "NUL", "SOH", "STX", "ETX", "EOT", "ENQ", "ACK", "BEL", "BS",  "HT",  "LF",
    "VT",  "FF",  "CR",  "SO",  "SI",  "DLE", "DC1", "DC2", "DC3", "DC4", "NAK",
    "SYN", "ETB", "CAN", "EM",  "SUB", "ESC", "FS",  "GS",  "RS",  "US"};

// The byte a bracketed name stands for, or -1.
int controlByte(std::string_view name) {
  for (size_t i = 0; i < kControlNames.size(); ++i) {
    if (name == kControlNames[i]) return static_cast<int>(i);
  }
  if (name == "TAB") return 0x09;
  if (name == "DEL") return 0x7F;
  return -1;
}

bool isHostLine(std::string_view line) {
  for (char c : line) {
    if (c == ' ' || c == '\t') continue;
    return c == '-';
  }
  return false;
}

// Replaces bracketed control-character names in `text` by their bytes.
std::string translateNames(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t pos = 0;
  while (pos < text.size()) {
    if (text[pos] == '[') {
      const size_t close = text.find(']', pos + 1);
      if (close != std::string_view::npos && close - pos <= 4) {
        const int byte = controlByte(text.substr(pos + 1, close - pos - 1));
        if (byte >= 0) {
          out += static_cast<char>(byte);
          pos = close + 1;
          continue;
        }
      }
    }
    out += text[pos++];
  }
  return out;
}

}  // namespace

std::string translateTranscript(std::string_view transcript) {
  // First the instrument's lines joined (a name like [CR] may itself be split by a line break),
  // then the names translated.
  std::string joined;
  joined.reserve(transcript.size());
  size_t pos = 0;
  while (pos < transcript.size()) {
    size_t end = transcript.find('\n', pos);
    if (end == std::string_view::npos) end = transcript.size();
    std::string_view line = transcript.substr(pos, end - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);  // the logger's CRLF
    if (!isHostLine(line)) joined.append(line);
    pos = end + 1;
  }
  return translateNames(joined);
}

}  // namespace labgate::astm
