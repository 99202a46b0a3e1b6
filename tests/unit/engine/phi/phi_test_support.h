// Test-local helpers for the PHI gate tests: just enough ASTM and HL7 splitting to turn fixture and
// corpus text into Documents, without depending on the connectors (written separately). Not a
// parser: no validation, default behaviours only.
//   - ASTM: E1381 frames (STX FN text ETB|ETX C1 C2 CR LF) are unwrapped, '#' comment lines and a
//     leading frame number ("1H|...") are dropped; records end at CR or LF; delimiters come from
//     the H record (the doubled-backslash "H|\\^&" is read as the default). fields[0] and fields[1]
//     hold the record type (E1394 numbering: P-6 is fields[6]); H-2 is the definition, not split.
//   - HL7: BOM dropped, segments end at CR or LF; MSH-1 is the field separator, MSH-2 the encoding
//     characters. Field text: escapes decoded, component/repeat/subcomponent delimiters -> space.
#pragma once

#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/model/document.h"
#include "engine/phi/phi_gate.h"

namespace labgate::phi::testing {

inline std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

inline std::string trimSpaces(const std::string& text) {
  size_t begin = text.find_first_not_of(" \t");
  if (begin == std::string::npos) return "";
  size_t end = text.find_last_not_of(" \t");
  return text.substr(begin, end - begin + 1);
}

inline std::vector<std::string> splitOn(std::string_view text, char separator) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (size_t i = 0; i <= text.size(); ++i) {
    if (i == text.size() || text[i] == separator) {
      parts.emplace_back(text.substr(start, i - start));
      start = i + 1;
    }
  }
  return parts;
}

/// Lines split on CR and/or LF, empty lines dropped.
inline std::vector<std::string> splitLines(std::string_view text) {
  std::vector<std::string> lines;
  std::string line;
  for (char c : text) {
    if (c == '\r' || c == '\n') {
      if (!line.empty()) lines.push_back(line);
      line.clear();
    } else {
      line += c;
    }
  }
  if (!line.empty()) lines.push_back(line);
  return lines;
}

/// The record text inside E1381 frames, or the input without '#' comment lines when unframed.
inline std::string unwrapAstm(std::string_view bytes) {
  std::string out;
  if (bytes.find('\x02') != std::string_view::npos) {
    size_t i = 0;
    while ((i = bytes.find('\x02', i)) != std::string_view::npos) {
      i += 2;  // STX and the frame number
      while (i < bytes.size() && bytes[i] != '\x03' && bytes[i] != '\x17') out += bytes[i++];
      i += 3;  // ETX/ETB and the two checksum characters; CR LF are skipped as separators
    }
    return out;
  }
  for (const std::string& line : splitLines(bytes)) {
    if (line[0] == '#') continue;
    bool framePrefixed = line.size() > 2 && line[0] >= '0' && line[0] <= '7' && line[1] >= 'A' &&
                         line[1] <= 'Z' && line[2] == '|';
    out += framePrefixed ? line.substr(1) : line;
    out += '\r';
  }
  return out;
}

/// Decodes one field: escapes resolved, component/repeat delimiters (and `extraSpace`) -> space.
inline std::string decodeText(const std::string& raw, char component, char repeat, char escape,
                              char extraSpace, bool hl7) {
  std::string text;
  for (size_t i = 0; i < raw.size(); ++i) {
    char c = raw[i];
    if (c == escape) {
      size_t close = raw.find(escape, i + 1);
      if (close != std::string::npos && close > i + 1) {
        std::string code = raw.substr(i + 1, close - i - 1);
        std::string decoded;
        if (code == "F") decoded = "|";
        if (code == "S") decoded = std::string(1, component);
        if (code == "R") decoded = std::string(1, repeat);
        if (code == "E") decoded = std::string(1, escape);
        if (hl7 && code == "T") decoded = "&";
        if (hl7 && code == ".br") decoded = " ";
        if (!decoded.empty()) {
          text += decoded;
          i = close;
          continue;
        }
      }
    }
    text += (c == component || c == repeat || c == extraSpace) ? ' ' : c;
  }
  return trimSpaces(text);
}

/// Splits simple ASTM text (see the file comment) into a Document.
inline Document astmDocument(std::string_view bytes) {
  Document document;
  document.format = SourceFormat::kAstm;
  char fieldSep = '|', repeat = '\\', component = '^', escape = '&';
  for (const std::string& line : splitLines(unwrapAstm(bytes))) {
    Record record;
    record.type = std::string(1, line[0]);
    record.ordinal = static_cast<int>(document.records.size());
    if (record.type == "H" && line.size() >= 5 && line.compare(1, 5, "|\\\\^&") != 0) {
      fieldSep = line[1];
      repeat = line[2];
      component = line[3];
      escape = line[4];
    }
    std::vector<std::string> parts = splitOn(line, fieldSep);
    record.fields.push_back(Field{record.type, record.type, false});
    for (size_t i = 0; i < parts.size(); ++i) {
      bool definition = record.type == "H" && i == 1;
      std::string text = i == 0 ? record.type
                         : definition
                             ? parts[i]
                             : decodeText(parts[i], component, repeat, escape, '\0', false);
      record.fields.push_back(Field{i == 0 ? record.type : parts[i], text, false});
    }
    document.records.push_back(std::move(record));
  }
  return document;
}

/// Splits HL7 v2 text (default encoding characters) into a Document.
inline Document hl7Document(std::string_view bytes) {
  if (bytes.substr(0, 3) == "\xEF\xBB\xBF") bytes.remove_prefix(3);
  Document document;
  document.format = SourceFormat::kHl7;
  for (const std::string& line : splitLines(bytes)) {
    std::vector<std::string> parts = splitOn(line, '|');
    Record record;
    record.type = parts[0];
    record.ordinal = static_cast<int>(document.records.size());
    record.fields.push_back(Field{record.type, record.type, false});
    size_t first = 1;
    if (record.type == "MSH" || record.type == "FHS" || record.type == "BHS") {
      record.fields.push_back(Field{"|", "|", false});
      record.fields.push_back(Field{parts.size() > 1 ? parts[1] : "", "", false});
      first = 2;
    }
    for (size_t i = first; i < parts.size(); ++i) {
      record.fields.push_back(
          Field{parts[i], decodeText(parts[i], '^', '~', '\\', '&', true), false});
    }
    document.records.push_back(std::move(record));
  }
  return document;
}

/// "LOC=id" for every hit, in order, for compact assertions (no values involved).
inline std::vector<std::string> hitList(const Screening& screening) {
  std::vector<std::string> out;
  for (const Hit& hit : screening.hits) out.push_back(hit.location + "=" + hit.patternId);
  return out;
}

/// The distinct locations that have hits.
inline std::set<std::string> hitLocations(const Screening& screening) {
  std::set<std::string> out;
  for (const Hit& hit : screening.hits) out.insert(hit.location);
  return out;
}

}  // namespace labgate::phi::testing
