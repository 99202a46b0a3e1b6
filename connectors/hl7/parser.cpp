// HL7 v2 inbound parsing: batch splitting, the MSH header, segments and fields into a Document,
// character sets, and serialising a Document back to text (see parser.h for the contracts).
#include "connectors/hl7/parser.h"

#include <charconv>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

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
    // Not find_first_of("\r\n"): libstdc++ runs that as one memchr over the set per byte.
    size_t end = pos;
    while (end < text.size() && text[end] != '\r' && text[end] != '\n') ++end;
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
  // Eight bytes at a time: this runs over every message whose character set is 8859/1.
  size_t i = 0;
  for (; i + 8 <= text.size(); i += 8) {
    uint64_t word = 0;
    std::memcpy(&word, text.data() + i, sizeof word);
    if ((word & 0x8080808080808080ULL) != 0) return true;
  }
  for (; i < text.size(); ++i) {
    if (static_cast<unsigned char>(text[i]) >= 0x80) return true;
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
  out.reserve(raw.size());  // decoding shortens (only a repaired \X..\ sequence can grow)
  auto isStructural = [&](char c) {
    return c == d.component || c == d.repetition || c == d.subcomponent || c == d.field;
  };
  std::string decoded;
  auto flush = [&](std::string_view piece) {
    if (piece.empty()) return;
    std::string_view part = piece;
    if (piece.find(d.escape) != std::string_view::npos) {  // else it decodes to itself
      decoded = decodeFormattedText(piece, d);
      part = decoded;
    }
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
  if (msh.fields.size() > 1 && msh.fields[1].raw().size() == 1) d.field = msh.fields[1].raw()[0];
  if (msh.fields.size() > 2 && msh.fields[2].raw().size() >= 4) {
    const std::string_view e = msh.fields[2].raw();
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

// A view field's text: decodeFieldText over the message's delimiters.
class Hl7FieldSource final : public FieldSource {
 public:
  Hl7FieldSource(std::string text, const Hl7Delimiters& d) : FieldSource(std::move(text)), d_(d) {}
  std::string decode(std::string_view raw) const override { return decodeFieldText(raw, d_); }

 private:
  Hl7Delimiters d_;
};

// Byte classes of the tokeniser (a table per message: the delimiters are the message's own).
constexpr unsigned char kPlain = 0;
constexpr unsigned char kFieldEnd = 1;   // the field separator
constexpr unsigned char kLineEnd = 2;    // CR or LF
constexpr unsigned char kStructure = 4;  // component, repetition, sub-component or escape
constexpr unsigned char kHigh = 8;       // a byte >= 0x80 (UTF-8 to validate)

// One field of the segment being read: offsets into the line, and the classes seen in it.
struct Span {
  uint32_t begin;
  uint32_t end;
  unsigned char classes;
};

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

// The Record for one segment line from its field spans (parser.h: the MSH layout, views into the
// source's text).
Record makeRecord(std::string_view line, const std::vector<Span>& spans, bool isMsh,
                  const std::shared_ptr<const FieldSource>& source, int ordinal) {
  Record record;
  const std::string_view id = line.substr(0, spans[0].end);
  record.type = std::string(id);
  record.ordinal = ordinal;
  record.source = source;
  record.fields.reserve(spans.size() + (isMsh ? 1 : 0));
  record.fields.emplace_back(id, Field::View::kVerbatim, source.get());
  size_t first = 1;
  if (isMsh) {
    record.fields.emplace_back(line.substr(3, 1), Field::View::kVerbatim, source.get());
    std::string_view encoding;
    if (spans.size() > 1) encoding = line.substr(spans[1].begin, spans[1].end - spans[1].begin);
    record.fields.emplace_back(encoding, Field::View::kVerbatim, source.get());
    first = 2;
  }
  for (size_t k = first; k < spans.size(); ++k) {
    const Span& span = spans[k];
    record.fields.emplace_back(
        line.substr(span.begin, span.end - span.begin),
        (span.classes & kStructure) != 0 ? Field::View::kDecoded : Field::View::kTrimmed,
        source.get());
  }
  return record;
}

// What parseHl7 needs of parseHeader() without building a MessageHeader: the same checks in the
// same order (parseHeader's errors), the delimiters and MSH-18 as sent.
Status checkHeader(std::string_view message, Hl7Delimiters& d, std::string_view& charset) {
  const std::string_view line = firstLine(message);
  Status status = readDelimiters(line, d);
  if (!status.isOk()) return status;
  std::string_view fields[19];  // MSH-2..MSH-18 (fields[n] = MSH-n)
  size_t n = 2;
  size_t start = 4;
  while (n <= 18) {
    const size_t end = line.find(d.field, start);
    fields[n++] = line.substr(start, end == std::string_view::npos ? end : end - start);
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  // MSH-9.1 and MSH-10.1 are empty exactly when firstComponent() would return "" for them.
  auto firstComponentEmpty = [&](std::string_view raw) {
    std::string_view component = raw.substr(0, raw.find(d.repetition));
    return trim(component.substr(0, component.find(d.component))).empty();
  };
  if (firstComponentEmpty(fields[9])) {
    return Status::invalid("MSH-9", "the message type (MSH-9.1) is missing");
  }
  if (firstComponentEmpty(fields[10])) {
    return Status::invalid("MSH-10", "the message control id is missing");
  }
  charset = fields[18];
  return Status::ok();
}

// Tokenises `source`'s text into `document` (parseHl7's loop). With `stopAtHigh` (8859/1 read as
// sent), stops at the first byte >= 0x80 with `sawHigh` set: the caller converts and starts again.
// False with `failure` set for a message parseHl7 refuses.
bool tokenize(const std::shared_ptr<const FieldSource>& source, const Hl7Delimiters& d,
              Charset charset, bool stopAtHigh, Document& document, bool& sawHigh,
              Status& failure) {
  const std::string_view text = source->text();

  unsigned char classes[256] = {};
  for (int c = 0x80; c < 256; ++c) classes[c] = kHigh;
  classes[static_cast<unsigned char>('\r')] = kLineEnd;
  classes[static_cast<unsigned char>('\n')] = kLineEnd;
  for (char c : {d.component, d.repetition, d.escape, d.subcomponent}) {
    classes[static_cast<unsigned char>(c)] = kStructure;
  }
  classes[static_cast<unsigned char>(d.field)] = kFieldEnd;

  document.records.reserve(text.size() / 64 + 4);
  std::vector<Span> spans;
  spans.reserve(32);
  const char* const base = text.data();
  const size_t size = text.size();
  size_t lineStart = 0;
  size_t fieldStart = 0;
  unsigned char fieldClasses = 0;
  unsigned char lineClasses = 0;

  // Ends the line [lineStart, end): checks it and appends its Record; false on an error.
  auto endLine = [&](size_t end) {
    spans.push_back(Span{static_cast<uint32_t>(fieldStart - lineStart),
                         static_cast<uint32_t>(end - lineStart), fieldClasses});
    lineClasses |= fieldClasses;
    const std::string_view line(base + lineStart, end - lineStart);
    const unsigned char seen = lineClasses;
    lineStart = fieldStart = end + 1;
    fieldClasses = lineClasses = 0;
    if (line.empty() || (static_cast<unsigned char>(line[0]) <= 0x20 && isBlankLine(line))) {
      spans.clear();
      return true;
    }
    const size_t number = document.records.size() + 1;
    const std::string_view id = line.substr(0, spans[0].end);
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
    if (charset == Charset::kUtf8 && (seen & kHigh) != 0) {
      size_t bad = firstInvalidUtf8(line);
      if (bad != std::string_view::npos) {
        failure = Status::invalid(locationOf(line, id, bad, d.field, number),
                                  "bytes that are not valid UTF-8 (MSH-18 declares ASCII or "
                                  "UTF-8)");
        return false;
      }
    }
    document.records.push_back(
        makeRecord(line, spans, number == 1, source, static_cast<int>(number - 1)));
    spans.clear();
    return true;
  };
  // One byte that is not plain text.
  auto visit = [&](size_t pos) {
    const unsigned char cls = classes[static_cast<unsigned char>(base[pos])];
    if (cls == kFieldEnd) {
      spans.push_back(Span{static_cast<uint32_t>(fieldStart - lineStart),
                           static_cast<uint32_t>(pos - lineStart), fieldClasses});
      lineClasses |= fieldClasses;
      fieldClasses = 0;
      fieldStart = pos + 1;
      return true;
    }
    if (cls == kLineEnd) return endLine(pos);
    if (cls == kHigh && stopAtHigh) {
      sawHigh = true;
      return false;
    }
    fieldClasses |= cls;
    return true;
  };

  size_t pos = 0;
#if defined(__SSE2__)
  // Sixteen bytes at a time: a mask of the bytes that are delimiters, line ends or >= 0x80, then
  // only those are visited (fields average a few bytes, so most of the text is skipped).
  const __m128i field = _mm_set1_epi8(d.field);
  const __m128i component = _mm_set1_epi8(d.component);
  const __m128i repetition = _mm_set1_epi8(d.repetition);
  const __m128i escape = _mm_set1_epi8(d.escape);
  const __m128i subcomponent = _mm_set1_epi8(d.subcomponent);
  const __m128i cr = _mm_set1_epi8('\r');
  const __m128i lf = _mm_set1_epi8('\n');
  for (; pos + 16 <= size; pos += 16) {
    const __m128i block = _mm_loadu_si128(reinterpret_cast<const __m128i*>(base + pos));
    __m128i hits = _mm_or_si128(_mm_cmpeq_epi8(block, field), _mm_cmpeq_epi8(block, component));
    hits = _mm_or_si128(hits, _mm_cmpeq_epi8(block, repetition));
    hits = _mm_or_si128(hits, _mm_cmpeq_epi8(block, escape));
    hits = _mm_or_si128(hits, _mm_cmpeq_epi8(block, subcomponent));
    hits = _mm_or_si128(hits, _mm_cmpeq_epi8(block, cr));
    hits = _mm_or_si128(hits, _mm_cmpeq_epi8(block, lf));
    hits = _mm_or_si128(hits, block);  // the sign bit: bytes >= 0x80
    auto mask = static_cast<unsigned>(_mm_movemask_epi8(hits));
    while (mask != 0) {
      if (!visit(pos + static_cast<size_t>(__builtin_ctz(mask)))) return false;
      mask &= mask - 1;
    }
  }
#endif
  for (; pos < size; ++pos) {
    if (classes[static_cast<unsigned char>(base[pos])] != kPlain && !visit(pos)) return false;
  }
  if (lineStart < size && !endLine(size)) return false;
  return true;
}

}  // namespace

StatusOr<Document> parseHl7(std::string_view message, const Hl7Options& options) {
  if (message.size() > options.maxMessageBytes) {
    return Status::tooLarge("message", "the message is larger than max_message_bytes");
  }
  Hl7Delimiters d;
  std::string_view declared;
  Status checked = checkHeader(message, d, declared);
  if (!checked.isOk()) return checked;
  declared = declared.substr(0, declared.find(d.repetition));
  Charset charset = charsetOf(trim(declared).empty() ? options.defaultCharset : declared);
  if (charset == Charset::kUnknown) {
    return Status::invalid("MSH-18",
                           "unsupported character set (LabGate reads ASCII, 8859/1 and "
                           "UNICODE UTF-8)");
  }
  const std::string_view received = stripBom(message);
  if (received.size() > UINT32_MAX) return Status::tooLarge("message", "the message is too large");
  // The Document's one copy of the message: every field is a view into it. 8859/1 text is
  // converted to UTF-8 only when a byte >= 0x80 shows up (the tokeniser stops there).
  bool convert = false;
  while (true) {
    auto source = std::make_shared<Hl7FieldSource>(
        convert ? latin1ToUtf8(received) : std::string(received), d);
    Document document;
    document.format = SourceFormat::kHl7;
    bool sawHigh = false;
    Status failure;
    const bool stopAtHigh = charset == Charset::kLatin1 && !convert;
    if (tokenize(source, d, charset, stopAtHigh, document, sawHigh, failure)) return document;
    if (!sawHigh) return failure;
    convert = true;
  }
}

std::string serialise(const Document& document, const Hl7Options& options) {
  const Hl7Delimiters d = documentDelimiters(document);
  std::string out;
  Charset charset = charsetOf(options.defaultCharset);
  for (const Record& record : document.records) {
    const bool isMsh = record.type == "MSH" && record.fields.size() >= 3;
    out.append(record.type);
    if (isMsh) {
      out.append(record.fields[1].raw());
      out.append(record.fields[2].raw());
      if (record.fields.size() > 18 && &record == &document.records[0]) {
        std::string_view declared = record.fields[18].raw();
        declared = trim(declared.substr(0, declared.find(d.repetition)));
        if (!declared.empty()) charset = charsetOf(declared);
      }
    }
    for (size_t n = isMsh ? 3 : 1; n < record.fields.size(); ++n) {
      out.push_back(d.field);
      out.append(record.fields[n].raw());
    }
    out.push_back('\r');
  }
  if (charset == Charset::kLatin1 && hasHighBytes(out)) return utf8ToLatin1(out);
  return out;
}

}  // namespace labgate::hl7
