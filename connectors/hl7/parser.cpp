// HL7 v2 inbound parsing: batch splitting, the MSH header, segments and fields into a Document,
// character sets, and serialising a Document back to text (see parser.h for the contracts).
#include "connectors/hl7/parser.h"

#include <charconv>
#include <cstdint>
#include <optional>

namespace labgate::hl7 {
namespace {

constexpr std::string_view kBom = "\xEF\xBB\xBF";
constexpr size_t kMaxConfiguredBytes = size_t{1} << 30;

enum class Charset { kUnknown, kUtf8, kLatin1 };

std::string_view stripBom(std::string_view text) {
  if (text.substr(0, kBom.size()) == kBom) text.remove_prefix(kBom.size());
  return text;
}

bool isSpace(char c) { return c == ' ' || c == '\t'; }

std::string segmentLocation(size_t number) {
  std::string location("segment ");
  location.append(std::to_string(number));
  return location;
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && isSpace(text.front())) text.remove_prefix(1);
  while (!text.empty() && isSpace(text.back())) text.remove_suffix(1);
  return text;
}

bool isAlnum(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

// A byte that may serve as a delimiter: printable ASCII, not a letter or digit.
bool isDelimiterChar(char c) { return c > 0x20 && c < 0x7F && !isAlnum(c); }

// A line holding nothing but spaces and control characters (blank lines, MLLP leftovers).
bool isBlankLine(std::string_view line) {
  for (char c : line) {
    if (static_cast<unsigned char>(c) > 0x20) return false;
  }
  return true;
}

// Calls fn(line) for every non-blank line of `text` (lines end at CR, LF or CRLF).
template <typename Fn>
void forEachLine(std::string_view text, Fn&& fn) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find_first_of("\r\n", pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    if (!isBlankLine(line) && !fn(line)) return;
    pos = end + 1;
  }
}

bool isMshStart(std::string_view line) {
  return line.size() >= 4 && line.substr(0, 3) == "MSH" && isDelimiterChar(line[3]);
}

bool isEnvelopeSegment(std::string_view line) {
  std::string_view id = line.substr(0, 3);
  if (id != "FHS" && id != "BHS" && id != "BTS" && id != "FTS") return false;
  return line.size() == 3 || !isAlnum(line[3]);
}

bool isValidSegmentId(std::string_view id) {
  if (id.size() != 3 || id[0] < 'A' || id[0] > 'Z') return false;
  for (char c : id.substr(1)) {
    if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))) return false;
  }
  return true;
}

Charset charsetOf(std::string_view name) {
  std::string upper;
  for (char c : trim(name)) upper.push_back(c >= 'a' && c <= 'z' ? static_cast<char>(c - 32) : c);
  if (upper == "ASCII" || upper == "UNICODE UTF-8" || upper == "UTF-8" || upper == "UNICODE") {
    return Charset::kUtf8;
  }
  if (upper == "8859/1") return Charset::kLatin1;
  return Charset::kUnknown;
}

// Offset of the first byte that does not belong to a valid UTF-8 sequence, or npos.
size_t firstInvalidUtf8(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t length = 0;
    uint32_t min = 0;
    uint32_t cp = 0;
    if (c >= 0xC2 && c <= 0xDF) {
      length = 2, min = 0x80, cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      length = 3, min = 0x800, cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      length = 4, min = 0x10000, cp = c & 0x07;
    } else {
      return i;
    }
    if (i + length > text.size()) return i;
    for (size_t k = 1; k < length; ++k) {
      auto cc = static_cast<unsigned char>(text[i + k]);
      if ((cc & 0xC0) != 0x80) return i;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return i;
    i += length;
  }
  return std::string_view::npos;
}

void appendLatin1(std::string& out, unsigned char c) {
  if (c < 0x80) {
    out.push_back(static_cast<char>(c));
  } else {
    out.push_back(static_cast<char>(0xC0 | (c >> 6)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  }
}

std::string latin1ToUtf8(std::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 8);
  for (char c : text) appendLatin1(out, static_cast<unsigned char>(c));
  return out;
}

// `text` with every byte that is not part of valid UTF-8 read as Latin-1.
std::string repairUtf8(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 8);
  while (!text.empty()) {
    size_t bad = firstInvalidUtf8(text);
    if (bad == std::string_view::npos) {
      out.append(text);
      break;
    }
    out.append(text.substr(0, bad));
    appendLatin1(out, static_cast<unsigned char>(text[bad]));
    text.remove_prefix(bad + 1);
  }
  return out;
}

// UTF-8 back to Latin-1; characters beyond U+00FF (and broken sequences) become '?'.
std::string utf8ToLatin1(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      out.push_back(static_cast<char>(c));
    } else if ((c == 0xC2 || c == 0xC3) && i + 1 < text.size() &&
               (static_cast<unsigned char>(text[i + 1]) & 0xC0) == 0x80) {
      out.push_back(static_cast<char>(((c & 0x03) << 6) | (text[i + 1] & 0x3F)));
      ++i;
    } else if (c >= 0xC0) {
      out.push_back('?');  // a lead byte: skip its continuation bytes
      while (i + 1 < text.size() && (static_cast<unsigned char>(text[i + 1]) & 0xC0) == 0x80) ++i;
    } else {
      out.push_back('?');
    }
  }
  return out;
}

bool hasHighBytes(std::string_view text) {
  for (char c : text) {
    if (static_cast<unsigned char>(c) >= 0x80) return true;
  }
  return false;
}

// The replacement for a formatting or character-set escape sequence body, or nullopt for the
// sequences escape.h decodes and for unknown ones.
std::optional<std::string_view> formattingReplacement(std::string_view body) {
  if (body == "H" || body == "N" || body == ".fi" || body == ".nf") return "";
  if (body.size() > 1 && (body[0] == 'C' || body[0] == 'M')) {
    for (char c : body.substr(1)) {
      bool hex = (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F') || (c >= 'a' && c <= 'f');
      if (!hex) return std::nullopt;
    }
    return "";
  }
  std::string_view command = body.substr(0, 3);
  if (command == ".sp" || command == ".ce") return "\n";
  if (command == ".in" || command == ".ti" || command == ".sk") return " ";
  return std::nullopt;
}

// The MSH line's parts split at its field separator: parts[0] "MSH", parts[1] MSH-2, parts[k]
// MSH-(k+1).
struct MshLine {
  std::string_view line;
  std::vector<std::string_view> parts;
  std::string_view field(size_t n) const {  // MSH-n for n >= 2
    return n >= 2 && n - 1 < parts.size() ? parts[n - 1] : std::string_view();
  }
};

std::string_view firstLine(std::string_view text) {
  std::string_view found;
  forEachLine(stripBom(text), [&](std::string_view line) {
    found = line;
    return false;
  });
  return found;
}

// Reads MSH-1 and MSH-2 of `line` into `d`.
Status readDelimiters(std::string_view line, Hl7Delimiters& d) {
  if (line.substr(0, 3) != "MSH") {
    return Status::invalid("segment 1", "the message does not start with an MSH segment");
  }
  if (line.size() < 4 || !isDelimiterChar(line[3])) {
    return Status::invalid("MSH-1", "no usable field separator after MSH");
  }
  d.field = line[3];
  std::string_view encoding = line.substr(4);
  encoding = encoding.substr(0, encoding.find(d.field));
  // v2.7 added a fifth encoding character (truncation); the first four are the delimiters.
  bool usable = encoding.size() == 4 || encoding.size() == 5;
  for (size_t i = 0; usable && i < encoding.size(); ++i) {
    usable = isDelimiterChar(encoding[i]) && encoding[i] != d.field &&
             encoding.find(encoding[i], i + 1) == std::string_view::npos;
  }
  if (!usable) {
    return Status::invalid("MSH-2",
                           "the encoding characters must be four distinct delimiter characters "
                           "(component, repetition, escape, sub-component)");
  }
  d.component = encoding[0];
  d.repetition = encoding[1];
  d.escape = encoding[2];
  d.subcomponent = encoding[3];
  return Status::ok();
}

// The first component of the first repetition of `raw`, escapes resolved, trimmed, valid UTF-8.
std::string firstComponent(std::string_view raw, const Hl7Delimiters& d, size_t index = 0) {
  std::string_view repetition = raw.substr(0, raw.find(d.repetition));
  std::vector<std::string_view> components = splitAt(repetition, d.component);
  if (index >= components.size()) return "";
  std::string value = unescapeText(trim(components[index]), d);
  return isValidUtf8(value) ? value : repairUtf8(value);
}

}  // namespace

// ----- options -----

Status setHl7Option(Hl7Options& options, const std::string& key, const std::string& value) {
  std::string_view v = trim(value);
  if (key == "sample_id_field") {
    std::string upper;
    for (char c : v) upper.push_back(c >= 'a' && c <= 'z' ? static_cast<char>(c - 32) : c);
    if (upper != "OBR-3" && upper != "OBR-2" && upper != "SPM-2") {
      return Status::config(key, "must be OBR-3, OBR-2 or SPM-2");
    }
    options.sampleIdField = upper;
    return Status::ok();
  }
  if (key == "max_message_bytes") {
    uint64_t bytes = 0;
    auto [end, error] = std::from_chars(v.data(), v.data() + v.size(), bytes);
    if (v.empty() || error != std::errc() || end != v.data() + v.size() || bytes == 0 ||
        bytes > kMaxConfiguredBytes) {
      return Status::config(key, "must be a whole number of bytes from 1 to 1073741824");
    }
    options.maxMessageBytes = static_cast<size_t>(bytes);
    return Status::ok();
  }
  if (key == "default_charset") {
    if (charsetOf(v) == Charset::kUnknown) {
      return Status::config(key, "must be ASCII, 8859/1, UNICODE UTF-8, UTF-8 or UNICODE");
    }
    options.defaultCharset = std::string(v);
    return Status::ok();
  }
  return Status::config(key,
                        "unknown HL7 option (known: sample_id_field, max_message_bytes, "
                        "default_charset)");
}

std::vector<std::string> hl7OptionKeys() {
  return {"sample_id_field", "max_message_bytes", "default_charset"};
}

// ----- text helpers -----

std::vector<std::string_view> splitAt(std::string_view raw, char separator) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    size_t end = raw.find(separator, start);
    if (end == std::string_view::npos) {
      parts.push_back(raw.substr(start));
      return parts;
    }
    parts.push_back(raw.substr(start, end - start));
    start = end + 1;
  }
}

bool isValidUtf8(std::string_view text) { return firstInvalidUtf8(text) == std::string_view::npos; }

std::string decodeFormattedText(std::string_view text, const Hl7Delimiters& d) {
  std::string out;
  size_t chunkStart = 0;
  size_t i = text.find(d.escape);
  bool sawHex = false;
  while (i != std::string_view::npos) {
    size_t close = text.find(d.escape, i + 1);
    if (close == std::string_view::npos) break;
    std::string_view body = text.substr(i + 1, close - i - 1);
    if (!body.empty() && body[0] == 'X') sawHex = true;
    if (auto replacement = formattingReplacement(body)) {
      out += unescapeText(text.substr(chunkStart, i - chunkStart), d);
      out.append(*replacement);
      chunkStart = close + 1;
    }
    i = text.find(d.escape, close + 1);
  }
  if (chunkStart == 0) {
    out = unescapeText(text, d);
  } else {
    out += unescapeText(text.substr(chunkStart), d);
  }
  if (sawHex && hasHighBytes(out) && !isValidUtf8(out)) return repairUtf8(out);
  return out;
}

std::string decodeFieldText(std::string_view raw, const Hl7Delimiters& d) {
  std::string out;
  auto isStructural = [&](char c) {
    return c == d.component || c == d.repetition || c == d.subcomponent || c == d.field;
  };
  auto flush = [&](std::string_view piece) {
    if (piece.empty()) return;
    std::string decoded = decodeFormattedText(piece, d);
    std::string_view part = decoded;
    while (!part.empty() && static_cast<unsigned char>(part.front()) <= 0x20) part.remove_prefix(1);
    while (!part.empty() && static_cast<unsigned char>(part.back()) <= 0x20) part.remove_suffix(1);
    if (part.empty()) return;
    if (!out.empty()) out.push_back(' ');
    out.append(part);
  };
  size_t start = 0;
  size_t i = 0;
  while (i < raw.size()) {
    char c = raw[i];
    if (c == d.escape) {
      // An escape sequence ends at the next escape character before any delimiter; without one
      // the escape character is literal.
      size_t j = i + 1;
      while (j < raw.size() && raw[j] != d.escape && !isStructural(raw[j])) ++j;
      i = (j < raw.size() && raw[j] == d.escape) ? j + 1 : i + 1;
      continue;
    }
    if (isStructural(c)) {
      flush(raw.substr(start, i - start));
      start = i + 1;
    }
    ++i;
  }
  flush(raw.substr(start));
  return out;
}

Hl7Delimiters documentDelimiters(const Document& document) {
  Hl7Delimiters d;
  if (document.records.empty() || document.records[0].type != "MSH") return d;
  const Record& msh = document.records[0];
  if (msh.fields.size() > 1 && msh.fields[1].raw.size() == 1) d.field = msh.fields[1].raw[0];
  if (msh.fields.size() > 2 && msh.fields[2].raw.size() >= 4) {
    const std::string& e = msh.fields[2].raw;
    d.component = e[0];
    d.repetition = e[1];
    d.escape = e[2];
    d.subcomponent = e[3];
  }
  return d;
}

// ----- splitting and parsing -----

std::vector<std::string> splitBatch(std::string_view text) {
  std::vector<std::string> messages;
  std::string current;
  auto flush = [&] {
    if (!current.empty()) messages.push_back(std::move(current));
    current.clear();
  };
  forEachLine(stripBom(text), [&](std::string_view line) {
    if (isEnvelopeSegment(line)) {
      flush();
      return true;
    }
    if (isMshStart(line)) flush();
    current.append(line);
    current.push_back('\r');
    return true;
  });
  flush();
  return messages;
}

StatusOr<MessageHeader> parseHeader(std::string_view message) {
  std::string_view line = firstLine(message);
  MessageHeader header;
  Status status = readDelimiters(line, header.delimiters);
  if (!status.isOk()) return status;
  const Hl7Delimiters& d = header.delimiters;
  MshLine msh{line, splitAt(line, d.field)};
  header.sendingApplication = firstComponent(msh.field(3), d);
  header.sendingFacility = firstComponent(msh.field(4), d);
  header.receivingApplication = firstComponent(msh.field(5), d);
  header.receivingFacility = firstComponent(msh.field(6), d);
  header.messageCode = firstComponent(msh.field(9), d, 0);
  header.triggerEvent = firstComponent(msh.field(9), d, 1);
  header.messageStructure = firstComponent(msh.field(9), d, 2);
  header.controlId = firstComponent(msh.field(10), d);
  header.processingId = firstComponent(msh.field(11), d);
  header.version = firstComponent(msh.field(12), d);
  header.acceptAckType = firstComponent(msh.field(15), d);
  header.applicationAckType = firstComponent(msh.field(16), d);
  header.charset = std::string(msh.field(18));
  if (!isValidUtf8(header.charset)) header.charset = repairUtf8(header.charset);
  if (header.messageCode.empty()) {
    return Status::invalid("MSH-9", "the message type (MSH-9.1) is missing");
  }
  if (header.controlId.empty()) {
    return Status::invalid("MSH-10", "the message control id is missing");
  }
  return header;
}

namespace {

// The Record for one segment line; `isMsh` lays MSH-1/MSH-2 out as parser.h describes.
Record makeRecord(std::string_view line, std::string_view id, bool isMsh, const Hl7Delimiters& d,
                  int ordinal) {
  Record record;
  record.type = std::string(id);
  record.ordinal = ordinal;
  std::vector<std::string_view> parts = splitAt(line, d.field);
  record.fields.reserve(parts.size() + (isMsh ? 1 : 0));
  record.fields.push_back(Field{record.type, record.type, false});
  size_t first = 1;
  if (isMsh) {
    std::string separator(1, d.field);
    record.fields.push_back(Field{separator, separator, false});
    std::string encoding(parts.size() > 1 ? parts[1] : std::string_view());
    record.fields.push_back(Field{encoding, encoding, false});
    first = 2;
  }
  for (size_t k = first; k < parts.size(); ++k) {
    record.fields.push_back(Field{std::string(parts[k]), decodeFieldText(parts[k], d), false});
  }
  return record;
}

// Location of byte `offset` of a segment line: "SEG-n", or "segment n" inside the segment id.
std::string locationOf(std::string_view line, std::string_view id, size_t offset, char separator,
                       size_t segmentNumber) {
  size_t field = 0;
  for (size_t i = 0; i < offset && i < line.size(); ++i) {
    if (line[i] == separator) ++field;
  }
  if (id == "MSH") ++field;  // MSH-1 is the separator itself
  if (field == 0) return segmentLocation(segmentNumber);
  std::string location(id);
  location.push_back('-');
  location.append(std::to_string(field));
  return location;
}

}  // namespace

StatusOr<Document> parseHl7(std::string_view message, const Hl7Options& options) {
  if (message.size() > options.maxMessageBytes) {
    return Status::tooLarge("message", "the message is larger than max_message_bytes");
  }
  StatusOr<MessageHeader> header = parseHeader(message);
  if (!header.isOk()) return header.status();
  const Hl7Delimiters d = header->delimiters;
  std::string_view declared = header->charset;
  declared = declared.substr(0, declared.find(d.repetition));
  Charset charset = charsetOf(trim(declared).empty() ? options.defaultCharset : declared);
  if (charset == Charset::kUnknown) {
    return Status::invalid("MSH-18",
                           "unsupported character set (LabGate reads ASCII, 8859/1 and "
                           "UNICODE UTF-8)");
  }
  std::string_view text = stripBom(message);
  std::string converted;
  if (charset == Charset::kLatin1 && hasHighBytes(text)) {
    converted = latin1ToUtf8(text);
    text = converted;
  }

  Document document;
  document.format = SourceFormat::kHl7;
  Status failure;
  forEachLine(text, [&](std::string_view line) {
    const size_t number = document.records.size() + 1;
    std::string_view id = line.substr(0, line.find(d.field));
    if (number > 1 && id == "MSH") {
      failure = Status::invalid(segmentLocation(number),
                                "a second MSH segment: a batch must be split into messages first");
      return false;
    }
    if (!isValidSegmentId(id)) {
      failure = Status::invalid(segmentLocation(number),
                                "the segment id is not three upper-case letters or digits");
      return false;
    }
    if (charset == Charset::kUtf8) {
      size_t bad = firstInvalidUtf8(line);
      if (bad != std::string_view::npos) {
        failure = Status::invalid(locationOf(line, id, bad, d.field, number),
                                  "bytes that are not valid UTF-8 (MSH-18 declares ASCII or "
                                  "UTF-8)");
        return false;
      }
    }
    document.records.push_back(makeRecord(line, id, number == 1, d, static_cast<int>(number - 1)));
    return true;
  });
  if (!failure.isOk()) return failure;
  return document;
}

std::string serialise(const Document& document, const Hl7Options& options) {
  const Hl7Delimiters d = documentDelimiters(document);
  std::string out;
  Charset charset = charsetOf(options.defaultCharset);
  for (const Record& record : document.records) {
    const bool isMsh = record.type == "MSH" && record.fields.size() >= 3;
    out.append(record.type);
    if (isMsh) {
      out.append(record.fields[1].raw);
      out.append(record.fields[2].raw);
      if (record.fields.size() > 18 && &record == &document.records[0]) {
        std::string_view declared = record.fields[18].raw;
        declared = trim(declared.substr(0, declared.find(d.repetition)));
        if (!declared.empty()) charset = charsetOf(declared);
      }
    }
    for (size_t n = isMsh ? 3 : 1; n < record.fields.size(); ++n) {
      out.push_back(d.field);
      out.append(record.fields[n].raw);
    }
    out.push_back('\r');
  }
  if (charset == Charset::kLatin1 && hasHighBytes(out)) return utf8ToLatin1(out);
  return out;
}

}  // namespace labgate::hl7
