// Building ORU^R01 v2.5.1 (see oru.h for the message shape and the field-by-field contract).
#include "connectors/hl7/oru.h"

#include <charconv>
#include <cmath>
#include <string_view>

#include "connectors/hl7/escape.h"

namespace labgate::hl7 {
namespace {

constexpr char kSegmentEnd = '\r';
constexpr std::string_view kResultStatuses = "CDFINOPRSUWX";  // HL7 table 0085
constexpr std::string_view kNotFinalStatuses = "PRSIO";

std::string_view trim(std::string_view s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return {};
  size_t e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

bool isDigit(char c) { return c >= '0' && c <= '9'; }

// Fields of one segment; fields[0] is the segment id. Values are stored encoded.
class Segment {
 public:
  explicit Segment(std::string id) { fields_.push_back(std::move(id)); }
  Segment& set(size_t index, std::string encoded) {
    if (fields_.size() <= index) fields_.resize(index + 1);
    fields_[index] = std::move(encoded);
    return *this;
  }
  // Appends the segment, without trailing empty fields, and its terminator.
  void appendTo(std::string& out) const {
    size_t last = fields_.size() - 1;
    while (last > 0 && fields_[last].empty()) --last;
    for (size_t i = 0; i <= last; ++i) {
      if (i > 0) out.push_back('|');
      out += fields_[i];
    }
    out.push_back(kSegmentEnd);
  }

 private:
  std::vector<std::string> fields_;
};

std::string esc(std::string_view text) { return escapeText(trim(text)); }

// "a^b^c..." from already-escaped components, without trailing empty components.
std::string components(std::initializer_list<std::string> parts) {
  std::vector<std::string> v(parts);
  while (!v.empty() && v.back().empty()) v.pop_back();
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) {
    if (i > 0) out.push_back('^');
    out += v[i];
  }
  return out;
}

char obxStatus(const Result& result) {
  std::string_view s = trim(result.status);
  if (s.empty()) return 'F';
  char c = s[0];
  if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  return kResultStatuses.find(c) == std::string_view::npos ? 'F' : c;
}

char obrStatus(const Sample& sample) {
  bool notFinal = false;
  for (const Result& r : sample.results) {
    char s = obxStatus(r);
    if (s == 'C') return 'C';
    if (kNotFinalStatuses.find(s) != std::string_view::npos) notFinal = true;
  }
  return notFinal ? 'P' : 'F';
}

std::string observationId(const Result& r) {
  std::string instrument = esc(r.instrumentCode);
  if (trim(r.lisCode).empty()) return components({instrument, "", kInstrumentCodingSystem});
  return components({esc(r.lisCode), esc(r.lisName), kLisCodingSystem, instrument, "",
                     instrument.empty() ? "" : kInstrumentCodingSystem});
}

// The shortest fixed-point text of a finite double ("" for inf/nan).
std::string fixedText(double value) {
  if (!std::isfinite(value)) return {};
  char buf[400];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value, std::chars_format::fixed);
  if (ec != std::errc()) return {};
  return std::string(buf, end);
}

// True for a number in exponent form such as "1.5E-3" (the whole text must be the number).
bool isExponentNumber(std::string_view v) {
  if (v.find_first_of("eE") == std::string_view::npos) return false;
  double parsed = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), parsed);
  return ec == std::errc() && end == v.data() + v.size();
}

// A censored number: comparator (">", "<", ">=", "<=", "=", "<>") then a plain decimal number.
bool splitCensored(std::string_view v, std::string_view& comparator, std::string_view& number) {
  size_t n = 0;
  while (n < v.size() && n < 2 && (v[n] == '<' || v[n] == '>' || v[n] == '=')) ++n;
  if (n == 0) return false;
  comparator = v.substr(0, n);
  if (comparator != ">" && comparator != "<" && comparator != ">=" && comparator != "<=" &&
      comparator != "=" && comparator != "<>")
    return false;
  number = trim(v.substr(n));
  return !roundDecimalText(number, -1).empty();
}

void appendObx(std::string& out, const OruHeader& header, const Result& r, int setId) {
  ObxValue value = formatObxValue(r);
  Segment obx("OBX");
  obx.set(1, std::to_string(setId))
      .set(2, value.type)
      .set(3, observationId(r))
      .set(5, value.value)
      .set(6, esc(r.units))
      .set(7, esc(r.referenceRange))
      .set(8, esc(r.flags))
      .set(11, std::string(1, obxStatus(r)))
      .set(14, esc(r.measuredAt))
      .set(18, esc(header.instrumentId));
  if (r.signature) {
    // §11.50: the responsible observer is the person whose signature released the result
    // (XCN-1 user name, XCN-2 printed name).
    obx.set(16, components({esc(r.signature->username), esc(r.signature->printedName)}));
  }
  obx.appendTo(out);

  // One NTE per line of the comment; blank lines are kept inside, dropped at the ends.
  std::string_view comment = trim(r.comment);
  int nteId = 0;
  while (!comment.empty()) {
    size_t eol = comment.find_first_of("\r\n");
    std::string_view line = comment.substr(0, eol);
    Segment nte("NTE");
    nte.set(1, std::to_string(++nteId)).set(2, "L").set(3, escapeText(line));
    nte.appendTo(out);
    if (eol == std::string_view::npos) break;
    if (comment[eol] == '\r' && eol + 1 < comment.size() && comment[eol + 1] == '\n') ++eol;
    comment = comment.substr(eol + 1);
  }
  if (r.signature) {
    // §11.50 manifestation: printed name, UTC date and time, meaning.
    Segment nte("NTE");
    nte.set(1, std::to_string(++nteId))
        .set(2, "L")
        .set(3, escapeText("Electronically signed (" + r.signature->meaning + ") by " +
                           r.signature->printedName + " " + r.signature->signedAt));
    nte.appendTo(out);
  }
}

void appendOrder(std::string& out, const OruHeader& header, const Sample& sample, int setId) {
  std::string sampleId = esc(sample.sampleId);
  Segment orc("ORC");
  orc.set(1, "RE").set(3, sampleId);
  orc.appendTo(out);

  std::string_view observedAt = trim(sample.acquiredAt);
  for (const Result& r : sample.results) {
    if (!observedAt.empty()) break;
    observedAt = trim(r.measuredAt);
  }
  Segment obr("OBR");
  obr.set(1, std::to_string(setId))
      .set(3, sampleId)
      .set(4, components({esc(header.serviceCode), esc(header.serviceText), kLisCodingSystem}))
      .set(7, escapeText(observedAt))
      .set(25, std::string(1, obrStatus(sample)));
  obr.appendTo(out);

  int obxId = 0;
  for (const Result& r : sample.results) appendObx(out, header, r, ++obxId);
}

}  // namespace

std::string roundDecimalText(std::string_view text, int decimals) {
  size_t i = 0;
  bool negative = false;
  if (i < text.size() && (text[i] == '+' || text[i] == '-')) negative = text[i++] == '-';
  size_t intBegin = i;
  while (i < text.size() && isDigit(text[i])) ++i;
  std::string intPart(text.substr(intBegin, i - intBegin));
  std::string fracPart;
  if (i < text.size() && text[i] == '.') {
    size_t fracBegin = ++i;
    while (i < text.size() && isDigit(text[i])) ++i;
    fracPart = std::string(text.substr(fracBegin, i - fracBegin));
  }
  if (i != text.size() || (intPart.empty() && fracPart.empty())) return {};
  if (decimals < 0) return std::string(text);

  // Work on all kept digits as one number, then put the point back.
  std::string digits = intPart + fracPart;
  size_t keep = intPart.size() + static_cast<size_t>(decimals);
  bool roundUp = false;
  if (fracPart.size() > static_cast<size_t>(decimals)) {
    roundUp = digits[keep] >= '5';
    digits.resize(keep);
  } else {
    digits.append(static_cast<size_t>(decimals) - fracPart.size(), '0');
  }
  size_t intLen = intPart.size();
  if (roundUp) {
    size_t k = digits.size();
    while (k > 0 && digits[k - 1] == '9') digits[--k] = '0';
    if (k == 0) {
      digits.insert(digits.begin(), '1');
      ++intLen;
    } else {
      ++digits[k - 1];
    }
  }
  std::string integer = digits.substr(0, intLen);
  size_t nz = integer.find_first_not_of('0');
  integer = nz == std::string::npos ? "0" : integer.substr(nz);
  std::string out;
  if (negative && digits.find_first_not_of('0') != std::string::npos) out.push_back('-');
  out += integer;
  if (decimals > 0) {
    out.push_back('.');
    out += digits.substr(intLen);
  }
  return out;
}

ObxValue formatObxValue(const Result& result) {
  std::string_view v = trim(result.value);
  std::string plain = roundDecimalText(v, result.decimals);
  if (!plain.empty()) return {"NM", result.decimals < 0 ? std::string(v) : plain};

  std::string_view comparator, number;
  if (splitCensored(v, comparator, number)) {
    std::string rounded = roundDecimalText(number, result.decimals);
    return {"SN", escapeText(comparator) + "^" + rounded};
  }
  if (result.numeric && (v.empty() || isExponentNumber(v))) {
    // Only a number (or one in exponent form, which NM cannot carry): write it in fixed point.
    std::string fixed = roundDecimalText(fixedText(*result.numeric), result.decimals);
    if (!fixed.empty()) return {"NM", fixed};
  }
  if (v.empty()) return {"", ""};
  return {"ST", escapeText(v)};
}

std::string buildOruR01(const OruHeader& header, const std::vector<Sample>& samples) {
  std::string out;
  Segment msh("MSH");
  msh.set(1, "^~\\&")
      .set(2, esc(header.sendingApplication))
      .set(3, esc(header.sendingFacility))
      .set(4, esc(header.receivingApplication))
      .set(5, esc(header.receivingFacility))
      .set(6, esc(header.timestamp))
      .set(8, "ORU^R01^ORU_R01")
      .set(9, esc(header.controlId))
      .set(10, esc(header.processingId))
      .set(11, "2.5.1")
      .set(17, "UNICODE UTF-8");
  msh.appendTo(out);  // MSH-1 is the separator itself, so MSH-n sits at index n - 1 here

  int obrId = 0;
  for (const Sample& sample : samples) appendOrder(out, header, sample, ++obrId);
  return out;
}

}  // namespace labgate::hl7
