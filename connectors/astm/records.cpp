// E1394 record parsing (text -> Document) and the canonical Message builder (Document -> Message).
#include "connectors/astm/records.h"

#include <cctype>
#include <charconv>

#include "engine/model/utf8.h"

namespace labgate::astm {
namespace {

bool isSpace(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }
bool isAsciiLetter(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u < 0x80 && std::isalpha(u) != 0;
}
bool isDelimiterCandidate(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u < 0x80 && std::ispunct(u) != 0;
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && isSpace(text.front())) text.remove_prefix(1);
  while (!text.empty() && isSpace(text.back())) text.remove_suffix(1);
  return text;
}

bool isBlank(std::string_view line) { return trim(line).empty(); }

// The lines of `text` separated by CR, LF or CRLF, empty ones left out.
std::vector<std::string_view> splitLines(std::string_view text) {
  std::vector<std::string_view> lines;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find_first_of("\r\n", pos);
    if (end == std::string_view::npos) end = text.size();
    if (end > pos) lines.push_back(text.substr(pos, end - pos));
    pos = end + 1;
  }
  return lines;
}

bool isHeaderLine(std::string_view line) {
  return line.size() > 1 && line[0] == 'H' && isDelimiterCandidate(line[1]);
}

bool isTerminatorLine(std::string_view line, char field) {
  return !line.empty() && line[0] == 'L' && (line.size() == 1 || line[1] == field);
}

// Removes a captured frame number ("1H|...", "2P|...") when the option allows it. Before the
// header is known (`field` 0) only a header line is recognised.
std::string_view stripPrefix(std::string_view line, char field, const AstmOptions& options) {
  if (!options.stripFramePrefix || line.size() < 3 || line[0] < '0' || line[0] > '9' ||
      !isAsciiLetter(line[1])) {
    return line;
  }
  const std::string_view rest = line.substr(1);
  if (isHeaderLine(rest) || (field != 0 && rest[1] == field)) return rest;
  return line;
}

bool isCommentLine(std::string_view line) {
  const std::string_view t = trim(line);
  return t.empty() || t[0] == '#';
}

// Decodes one escape sequence body ("F", "S", "R", "E", "Xhhhh"); false if unknown.
bool decodeEscape(std::string_view body, const Delimiters& d, std::string& out) {
  if (body.size() == 1) {
    switch (body[0]) {
      case 'F':
        out += d.field;
        return true;
      case 'S':
        out += d.component;
        return true;
      case 'R':
        out += d.repeat;
        return true;
      case 'E':
        out += d.escape;
        return true;
      default:
        return false;
    }
  }
  if (body.size() >= 3 && body[0] == 'X' && (body.size() - 1) % 2 == 0) {
    std::string bytes;
    for (size_t i = 1; i < body.size(); i += 2) {
      unsigned value = 0;
      const auto [end, error] = std::from_chars(body.data() + i, body.data() + i + 2, value, 16);
      if (error != std::errc() || end != body.data() + i + 2) return false;
      bytes += static_cast<char>(value);
    }
    out += bytes;
    return true;
  }
  return false;
}

// Decodes the escape sequences of one component (no component or repeat delimiters in `raw`).
std::string decodeEscapes(std::string_view raw, const Delimiters& d) {
  std::string out;
  out.reserve(raw.size());
  for (size_t i = 0; i < raw.size(); ++i) {
    const char c = raw[i];
    if (c == d.escape) {
      const size_t close = raw.find(d.escape, i + 1);
      if (close != std::string_view::npos && close - i <= 33 &&
          decodeEscape(raw.substr(i + 1, close - i - 1), d, out)) {
        i = close;
        continue;
      }
    }
    out += c;  // data, or an escape character that starts no known sequence: kept as sent
  }
  return out;
}

// Field::text: the components and repetitions of `raw`, each decoded and trimmed, the non-empty
// ones joined by one space.
std::string decode(std::string_view raw, const Delimiters& d) {
  std::string out;
  out.reserve(raw.size());
  size_t pos = 0;
  while (pos <= raw.size()) {
    size_t end = pos;
    while (end < raw.size() && raw[end] != d.component && raw[end] != d.repeat) ++end;
    const std::string piece = decodeEscapes(raw.substr(pos, end - pos), d);
    const std::string_view trimmedPiece = trim(piece);
    if (!trimmedPiece.empty()) {
      if (!out.empty()) out += ' ';
      out.append(trimmedPiece);
    }
    pos = end + 1;
  }
  return out;
}

std::string_view fieldRaw(const Record& record, size_t n) {
  if (n >= record.fields.size() || record.fields[n].stripped()) return {};
  return record.fields[n].raw();
}

std::string fieldText(const Record& record, size_t n) {
  if (n >= record.fields.size() || record.fields[n].stripped()) return {};
  return std::string(record.fields[n].text());
}

std::string firstComponent(const Record& record, size_t n, const Delimiters& d) {
  const auto parts = fieldComponents(fieldRaw(record, n), d);
  return parts.empty() ? std::string() : parts.front();
}

std::string firstNonEmptyComponent(const Record& record, size_t n, const Delimiters& d) {
  for (auto& part : fieldComponents(fieldRaw(record, n), d)) {
    if (!part.empty()) return part;
  }
  return {};
}

// The manufacturer's local test code from R-3 (see AstmOptions::testCodeComponent).
std::string testCode(const Record& record, const Delimiters& d, const AstmOptions& options) {
  const auto parts = fieldComponents(fieldRaw(record, 3), d);
  if (!options.testCodeComponents.empty()) {
    std::string code;
    for (const int component : options.testCodeComponents) {
      const auto index = static_cast<size_t>(component - 1);
      if (index >= parts.size() || parts[index].empty()) continue;
      if (!code.empty()) code += options.testCodeSeparator;
      code += parts[index];
    }
    if (!code.empty()) return code;
  }
  if (options.testCodeComponent > 0) {
    const auto index = static_cast<size_t>(options.testCodeComponent - 1);
    return index < parts.size() ? parts[index] : std::string();
  }
  bool universalEmpty = true;
  for (size_t i = 0; i < 3 && i < parts.size(); ++i) universalEmpty &= parts[i].empty();
  if (universalEmpty && parts.size() > 3 && !parts[3].empty()) return parts[3];
  for (const auto& part : parts) {
    if (!part.empty()) return part;
  }
  return {};
}

Sample makeSample(const Record& order, const Delimiters& d, bool qcMessage) {
  Sample sample;
  sample.sampleId = firstComponent(order, 3, d);
  if (sample.sampleId.empty()) sample.sampleId = firstNonEmptyComponent(order, 4, d);
  sample.position = fieldText(order, 4);
  const std::string action = firstComponent(order, 12, d);
  sample.kind = (action == "Q" || qcMessage) ? SampleKind::kQc : SampleKind::kUnknown;
  sample.acquiredAt = firstComponent(order, 7, d);
  if (sample.acquiredAt.empty()) sample.acquiredAt = firstComponent(order, 8, d);
  return sample;
}

Result makeResult(const Record& result, const Delimiters& d, const AstmOptions& options) {
  Result out;
  out.instrumentCode = testCode(result, d, options);
  out.value = firstNonEmptyComponent(result, 4, d);
  out.numeric = parsePlainNumber(out.value, options.decimalComma);
  out.units = fieldText(result, 5);
  out.referenceRange = fieldText(result, 6);
  out.flags = fieldText(result, 7);
  out.status = fieldText(result, 9);
  out.measuredAt = firstComponent(result, 13, d);
  if (out.measuredAt.empty()) out.measuredAt = firstComponent(result, 12, d);
  out.location = "R-" + std::to_string(result.ordinal + 1);
  return out;
}

// Every field of `document` as valid UTF-8, or Status::invalid naming the first field that is not
// (its location, never its bytes). Field::text is checked too: an &X..& escape can decode to any
// byte.
Status checkUtf8(const Document& document, const AstmOptions& options) {
  for (const Record& record : document.records) {
    for (size_t i = 1; i < record.fields.size(); ++i) {
      const Field& field = record.fields[i];
      if (isValidUtf8(field.raw()) && isValidUtf8(field.text())) continue;
      if (options.charset == AstmOptions::Charset::kLatin1 || isValidUtf8(field.raw())) {
        return Status::invalid(record.location(i),
                               "an &X..& escape decodes to bytes that are not valid UTF-8");
      }
      return Status::invalid(record.location(i),
                             "bytes that are not valid UTF-8 (the connector reads UTF-8, "
                             "astm.charset = utf-8; if the instrument sends ISO 8859-1 text, set "
                             "its astm.charset = latin-1)");
    }
  }
  return Status::ok();
}

}  // namespace

std::optional<Delimiters> delimitersFromDefinition(std::string_view definition, char field) {
  std::string def(definition);
  if (def.size() == 4 && def[0] == def[1]) def.erase(0, 1);  // "\\^&" as some senders write it
  Delimiters d;
  d.field = field;
  if (def.size() > 0) d.repeat = def[0];
  if (def.size() > 1) d.component = def[1];
  if (def.size() > 2) d.escape = def[2];
  const char all[] = {d.field, d.repeat, d.component, d.escape};
  for (int i = 0; i < 4; ++i) {
    for (int j = i + 1; j < 4; ++j) {
      if (all[i] == all[j]) return std::nullopt;
    }
  }
  return d;
}

std::string decodeFieldText(std::string_view raw, const Delimiters& delimiters) {
  return decode(raw, delimiters);
}

std::vector<std::string> fieldComponents(std::string_view raw, const Delimiters& delimiters) {
  std::vector<std::string> parts;
  if (raw.empty()) return parts;
  const size_t repeat = raw.find(delimiters.repeat);
  if (repeat != std::string_view::npos) raw = raw.substr(0, repeat);
  size_t pos = 0;
  while (true) {
    const size_t end = raw.find(delimiters.component, pos);
    const std::string_view part =
        raw.substr(pos, end == std::string_view::npos ? std::string_view::npos : end - pos);
    parts.emplace_back(trim(decodeEscapes(part, delimiters)));
    if (end == std::string_view::npos) break;
    pos = end + 1;
  }
  return parts;
}

std::optional<double> parsePlainNumber(std::string_view value, bool decimalComma) {
  std::string_view v = trim(value);
  if (!v.empty() && v[0] == '+') v.remove_prefix(1);
  std::string text;
  text.reserve(v.size());
  bool digits = false;
  bool separator = false;
  bool exponent = false;
  for (size_t i = 0; i < v.size(); ++i) {
    const char c = v[i];
    if (c >= '0' && c <= '9') {
      digits = true;
      text += c;
    } else if (c == '-' && i == 0) {
      text += c;
    } else if ((c == '.' || (c == ',' && decimalComma)) && !separator && !exponent) {
      separator = true;
      text += '.';
    } else if ((c == 'e' || c == 'E') && digits && !exponent && i + 1 < v.size()) {
      exponent = true;
      text += 'e';
      if (v[i + 1] == '+' || v[i + 1] == '-') text += v[++i];
      if (i + 1 >= v.size()) return std::nullopt;
    } else {
      return std::nullopt;
    }
  }
  if (!digits) return std::nullopt;
  double number = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return number;
}

std::vector<std::string> splitMessages(std::string_view text, const AstmOptions& options) {
  std::vector<std::string> messages;
  std::string current;  // the message being collected (records joined by CR)
  std::string stray;    // lines outside any message
  char field = 0;       // 0 = outside a message
  auto flushStray = [&] {
    if (!stray.empty()) messages.push_back(std::move(stray));
    stray.clear();
  };
  auto closeUnterminated = [&] {
    if (field != 0 && options.deliverWithoutTerminator) messages.push_back(std::move(current));
    current.clear();
    field = 0;
  };
  for (std::string_view line : splitLines(text)) {
    if (isBlank(line)) continue;
    if (field == 0 && options.skipCommentLines && isCommentLine(line)) continue;
    const std::string_view header = stripPrefix(line, 0, options);
    if (isHeaderLine(header)) {
      closeUnterminated();
      flushStray();
      field = header[1];
      current.assign(header);
      continue;
    }
    if (field == 0) {
      if (!stray.empty()) stray += '\r';
      stray.append(line);
      continue;
    }
    const std::string_view record = stripPrefix(line, field, options);
    current += '\r';
    current.append(record);
    if (isTerminatorLine(record, field)) {
      messages.push_back(std::move(current));
      current.clear();
      field = 0;
    }
  }
  closeUnterminated();
  flushStray();
  return messages;
}

StatusOr<Document> parseRecords(std::string_view messageText, const AstmOptions& options) {
  // astm.charset: what leaves the parser (and goes into an ORU declaring UTF-8) is valid UTF-8.
  std::string converted;
  if (options.charset == AstmOptions::Charset::kLatin1) {
    converted = latin1ToUtf8(messageText);
    messageText = converted;
  }
  const std::vector<std::string_view> lines = splitLines(messageText);
  size_t first = 0;
  while (first < lines.size() &&
         (isBlank(lines[first]) || (options.skipCommentLines && isCommentLine(lines[first])))) {
    ++first;
  }
  if (first == lines.size()) {
    return Status::invalid("record 1", "not an ASTM message: no records");
  }
  const std::string_view header = stripPrefix(lines[first], 0, options);
  if (header.empty() || header[0] != 'H') {
    const auto lead = static_cast<unsigned char>(header.empty() ? 0 : header[0]);
    return Status::invalid(
        "record 1", lead < 0x20 || lead == 0x7F
                        ? "not an ASTM message: the first record starts with a control character "
                          "instead of a header (H) record"
                        : "not an ASTM message: the first record is not a header (H) record");
  }
  if (header.size() < 2 || !isDelimiterCandidate(header[1])) {
    return Status::invalid("H-2",
                           "not an ASTM message: the header record defines no field "
                           "delimiter");
  }
  const char field = header[1];
  const size_t defEnd = header.find(field, 2);
  const auto delimiters = delimitersFromDefinition(
      header.substr(2, defEnd == std::string_view::npos ? std::string_view::npos : defEnd - 2),
      field);
  if (!delimiters) {
    return Status::invalid("H-2", "the delimiter definition uses one character twice");
  }
  Document document;
  document.format = SourceFormat::kAstm;
  for (size_t i = first; i < lines.size(); ++i) {
    if (isBlank(lines[i])) continue;
    const std::string_view line = stripPrefix(lines[i], field, options);
    Record record;
    record.type = isAsciiLetter(line[0]) ? std::string(1, line[0]) : std::string("?");
    record.ordinal = static_cast<int>(document.records.size());
    record.fields.push_back(Field{record.type, record.type, false});
    size_t pos = 0;
    while (true) {
      const size_t end = line.find(field, pos);
      const std::string_view raw =
          line.substr(pos, end == std::string_view::npos ? std::string_view::npos : end - pos);
      const bool definition = record.type == "H" && record.fields.size() == 2;
      record.fields.push_back(
          Field{std::string(raw), definition ? std::string(raw) : decode(raw, *delimiters), false});
      if (end == std::string_view::npos) break;
      pos = end + 1;
    }
    document.records.push_back(std::move(record));
  }
  if (Status valid = checkUtf8(document, options); !valid.isOk()) return valid;
  return document;
}

StatusOr<Message> buildMessage(const Document& document, const AstmOptions& options) {
  if (document.records.empty() || document.records.front().type != "H") {
    return Status::invalid("record 1",
                           "not an ASTM message: the first record is not a header (H) record");
  }
  const Record& header = document.records.front();
  // The Document does not keep the field delimiter; '|' is used to decode &F& in components.
  const Delimiters d = delimitersFromDefinition(fieldRaw(header, 2)).value_or(Delimiters{});
  Message message;
  message.controlId = fieldText(header, 3);
  message.sender = firstNonEmptyComponent(header, 5, d);
  message.processingId = firstComponent(header, 12, d);
  message.version = firstComponent(header, 13, d);
  message.sentAt = firstComponent(header, 14, d);
  const bool qcMessage = options.qcFromProcessingId && message.processingId == "Q";

  constexpr size_t kNone = static_cast<size_t>(-1);
  size_t sample = kNone;
  size_t result = kNone;  // index of the result a C record attaches to
  for (const Record& record : document.records) {
    if (record.type == "O") {
      message.samples.push_back(makeSample(record, d, qcMessage));
      sample = message.samples.size() - 1;
      result = kNone;
    } else if (record.type == "R") {
      if (sample == kNone) {
        message.samples.emplace_back();
        if (qcMessage) message.samples.back().kind = SampleKind::kQc;
        sample = message.samples.size() - 1;
      }
      auto& results = message.samples[sample].results;
      results.push_back(makeResult(record, d, options));
      result = results.size() - 1;
    } else if (record.type == "C") {
      if (result == kNone) continue;
      const std::string text = fieldText(record, 4);
      if (text.empty()) continue;
      std::string& comment = message.samples[sample].results[result].comment;
      if (!comment.empty()) comment += "; ";
      comment += text;
    } else {
      result = kNone;
      if (record.type == "P" || record.type == "H" || record.type == "L") sample = kNone;
    }
  }
  return message;
}

}  // namespace labgate::astm
