// HL7 v2 ORU^R01 / OUL^R22 Document -> canonical Message (see builder.h for the mapping).
#include "connectors/hl7/builder.h"

#include <charconv>
#include <string>
#include <vector>

namespace labgate::hl7 {
namespace {

std::string_view trim(std::string_view text) {
  while (!text.empty() && static_cast<unsigned char>(text.front()) <= 0x20) text.remove_prefix(1);
  while (!text.empty() && static_cast<unsigned char>(text.back()) <= 0x20) text.remove_suffix(1);
  return text;
}

bool isDigit(char c) { return c >= '0' && c <= '9'; }

std::string positioned(std::string_view prefix, size_t number) {
  std::string text(prefix);
  text.append(std::to_string(number));
  return text;
}

// Reads one record's fields with the message's delimiters.
class SegmentReader {
 public:
  SegmentReader(const Record& record, const Hl7Delimiters& d) : record_(record), d_(d) {}

  std::string_view raw(size_t field) const { return record_.raw(field); }

  /// Component `index` (0-based) of the first repetition of the field, decoded and trimmed.
  std::string component(size_t field, size_t index = 0) const {
    std::string_view repetition = firstRepetition(field);
    std::vector<std::string_view> components = splitAt(repetition, d_.component);
    if (index >= components.size()) return "";
    return std::string(trim(decodeFormattedText(components[index], d_)));
  }

  /// Sub-component 1 of component `index` of the first repetition, decoded and trimmed.
  std::string firstSubcomponent(size_t field, size_t index) const {
    std::vector<std::string_view> components = splitAt(firstRepetition(field), d_.component);
    if (index >= components.size()) return "";
    std::string_view sub = components[index].substr(0, components[index].find(d_.subcomponent));
    return std::string(trim(decodeFormattedText(sub, d_)));
  }

  std::vector<std::string_view> repetitions(size_t field) const {
    return splitAt(raw(field), d_.repetition);
  }

 private:
  std::string_view firstRepetition(size_t field) const {
    std::string_view value = raw(field);
    return value.substr(0, value.find(d_.repetition));
  }

  const Record& record_;
  const Hl7Delimiters& d_;
};

void appendJoined(std::string& out, std::string_view part, std::string_view separator) {
  if (part.empty()) return;
  if (!out.empty()) out.append(separator);
  out.append(part);
}

Status badObx(std::string_view location, size_t segment, std::string_view what) {
  std::string reason = positioned("OBX at segment ", segment);
  reason.append(": ");
  reason.append(what);
  return Status::invalid(std::string(location), std::move(reason));
}

// OBX-5 of a NM observation.
Status readNumeric(const SegmentReader& obx, const Hl7Delimiters& d, size_t segment,
                   Result& result) {
  int count = 0;
  for (std::string_view repetition : obx.repetitions(5)) {
    std::string value(trim(decodeFormattedText(repetition, d)));
    if (value.empty()) continue;
    std::optional<double> number = parseHl7Number(value);
    if (!number) return badObx("OBX-5", segment, "OBX-2 is NM but the value is not a number");
    appendJoined(result.value, value, "~");
    if (++count == 1) {
      result.numeric = number;
    } else {
      result.numeric.reset();
    }
  }
  return Status::ok();
}

// OBX-5 of a SN observation: comparator^num1^separator^num2.
Status readStructuredNumeric(const SegmentReader& obx, size_t segment, Result& result) {
  const std::string comparator = obx.component(5, 0);
  const std::string first = obx.component(5, 1);
  const std::string separator = obx.component(5, 2);
  const std::string second = obx.component(5, 3);
  bool ok = comparator.empty() || comparator == ">" || comparator == "<" || comparator == ">=" ||
            comparator == "<=" || comparator == "=" || comparator == "<>";
  ok = ok && (separator.empty() || separator == "-" || separator == "+" || separator == "/" ||
              separator == "." || separator == ":");
  ok = ok && (first.empty() || parseHl7Number(first)) && (second.empty() || parseHl7Number(second));
  ok = ok && separator.empty() == second.empty();
  if (!ok) {
    return badObx("OBX-5", segment,
                  "OBX-2 is SN but the value is not comparator^number^separator^number");
  }
  result.value = comparator + first + separator + second;
  if (comparator.empty() && separator.empty() && !first.empty()) {
    result.numeric = parseHl7Number(first);
  }
  return Status::ok();
}

// OBX-5 of any other type.
void readText(const SegmentReader& obx, const Hl7Delimiters& d, std::string_view type,
              Result& result) {
  const bool text = type == "ST" || type == "TX" || type == "FT";
  const bool coded = type == "CE" || type == "CWE" || type == "CNE" || type == "CF";
  std::string value;
  for (std::string_view repetition : obx.repetitions(5)) {
    if (text) {
      std::string line = decodeFormattedText(repetition, d);
      if (!value.empty()) value.push_back('\n');
      value.append(line);
      continue;
    }
    std::vector<std::string_view> components = splitAt(repetition, d.component);
    std::string part;
    if (coded) {
      part = components.size() > 1 ? std::string(trim(decodeFormattedText(components[1], d))) : "";
      if (part.empty()) part = trim(decodeFormattedText(components[0], d));
    } else {
      for (size_t k = 0; k < components.size(); ++k) {
        if (k > 0) part.push_back(d.component);
        part.append(decodeFormattedText(components[k], d));
      }
      part = std::string(trim(part));
    }
    appendJoined(value, part, "~");
  }
  result.value = std::string(trim(value));
}

StatusOr<Result> buildResult(const Record& record, const Hl7Delimiters& d, size_t segment) {
  SegmentReader obx(record, d);
  Result result;
  result.location = positioned("OBX-", segment);
  result.instrumentCode = obx.component(3, 0);
  std::string type = obx.component(2, 0);
  for (char& c : type) c = (c >= 'a' && c <= 'z') ? static_cast<char>(c - 32) : c;
  Status status;
  if (type == "NM") {
    status = readNumeric(obx, d, segment, result);
  } else if (type == "SN") {
    status = readStructuredNumeric(obx, segment, result);
  } else {
    readText(obx, d, type, result);
  }
  if (!status.isOk()) return status;
  result.units = obx.component(6, 0);
  result.referenceRange = trim(decodeFormattedText(obx.raw(7), d));
  for (std::string_view repetition : obx.repetitions(8)) {
    std::string_view flag = repetition.substr(0, repetition.find(d.component));
    appendJoined(result.flags, trim(decodeFormattedText(flag, d)), "~");
  }
  result.status = obx.component(11, 0);
  size_t timeField = 14;
  result.measuredAt = obx.component(14, 0);
  if (result.measuredAt.empty()) {
    timeField = 19;
    result.measuredAt = obx.component(19, 0);
  }
  if (!result.measuredAt.empty() && !isHl7Timestamp(result.measuredAt)) {
    return badObx(positioned("OBX-", timeField), segment, "not an HL7 timestamp");
  }
  return result;
}

// The sample id in SPM-2: the placer's entity identifier, else the filler's.
std::string specimenId(const SegmentReader& spm) {
  std::string id = spm.firstSubcomponent(2, 0);
  return id.empty() ? spm.firstSubcomponent(2, 1) : id;
}

SampleKind specimenKind(const SegmentReader& spm) {
  const std::string role = spm.component(11, 0);
  if (role == "Q") return SampleKind::kQc;
  if (role == "C") return SampleKind::kCalibrator;
  return SampleKind::kUnknown;
}

// A message type for a reason: letters, digits and '_' only, so that no arbitrary text is echoed.
std::string printableType(std::string_view code, std::string_view trigger) {
  std::string out;
  auto add = [&](std::string_view part) {
    for (char c : part.substr(0, 8)) {
      if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || isDigit(c) || c == '_') {
        out.push_back(c);
      }
    }
  };
  add(code);
  out.push_back('^');
  add(trigger);
  return out;
}

bool inRange(std::string_view digits, size_t at, int low, int high) {
  if (digits.size() < at + 2) return true;
  int value = (digits[at] - '0') * 10 + (digits[at + 1] - '0');
  return value >= low && value <= high;
}

}  // namespace

bool isHl7Timestamp(std::string_view text) {
  size_t i = 0;
  while (i < text.size() && isDigit(text[i])) ++i;
  std::string_view digits = text.substr(0, i);
  if (digits.size() < 4 || digits.size() > 14 || digits.size() % 2 != 0) return false;
  if (!inRange(digits, 4, 1, 12) || !inRange(digits, 6, 1, 31) || !inRange(digits, 8, 0, 23) ||
      !inRange(digits, 10, 0, 59) || !inRange(digits, 12, 0, 60)) {
    return false;
  }
  if (i < text.size() && text[i] == '.') {
    if (digits.size() != 14) return false;
    size_t start = ++i;
    while (i < text.size() && isDigit(text[i])) ++i;
    if (i == start || i - start > 4) return false;
  }
  if (i < text.size() && (text[i] == '+' || text[i] == '-')) {
    std::string_view zone = text.substr(i + 1);
    if (zone.size() != 4 || !isDigit(zone[0]) || !isDigit(zone[1]) || !isDigit(zone[2]) ||
        !isDigit(zone[3]) || !inRange(zone, 0, 0, 14) || !inRange(zone, 2, 0, 59)) {
      return false;
    }
    i = text.size();
  }
  return i == text.size();
}

std::optional<double> parseHl7Number(std::string_view text) {
  text = trim(text);
  if (!text.empty() && (text[0] == '+' || text[0] == '-')) {
    const bool negative = text[0] == '-';
    std::optional<double> magnitude = parseHl7Number(text.substr(1));
    if (!magnitude || text.size() < 2 || !(isDigit(text[1]) || text[1] == '.')) {
      return std::nullopt;
    }
    return negative ? -*magnitude : *magnitude;
  }
  size_t digits = 0;
  size_t points = 0;
  for (char c : text) {
    if (isDigit(c)) {
      ++digits;
    } else if (c == '.') {
      ++points;
    } else {
      return std::nullopt;
    }
  }
  if (digits == 0 || points > 1) return std::nullopt;
  double value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

StatusOr<Message> buildMessage(const Document& document, const Hl7Options& options) {
  if (document.records.empty() || document.records[0].type != "MSH") {
    return Status::invalid("segment 1", "the document does not start with an MSH segment");
  }
  const Hl7Delimiters d = documentDelimiters(document);
  const SegmentReader msh(document.records[0], d);
  const std::string code = msh.component(9, 0);
  const std::string trigger = msh.component(9, 1);
  const bool oul = code == "OUL" && trigger == "R22";
  if (!(code == "ORU" && trigger == "R01") && !oul) {
    std::string reason = "unsupported message type ";
    reason.append(printableType(code, trigger));
    reason.append(" (LabGate takes results as ORU^R01 or OUL^R22)");
    return Status::rejected("MSH-9", std::move(reason));
  }
  Message message;
  message.controlId = msh.component(10, 0);
  message.sender = msh.component(3, 0);
  const std::string facility = msh.component(4, 0);
  if (!facility.empty()) message.sender.append("^").append(facility);
  message.processingId = msh.component(11, 0);
  message.version = msh.component(12, 0);
  message.sentAt = msh.component(7, 0);
  if (!message.sentAt.empty() && !isHl7Timestamp(message.sentAt)) {
    return Status::invalid("MSH-7", "not an HL7 timestamp");
  }

  int current = -1;     // the sample OBX segments go into
  int lastResult = -1;  // the result NTE segments attach to (in samples[current])
  bool specimenSeen = false;
  std::string specimen;  // OUL: the current SPM's id
  SampleKind specimenRole = SampleKind::kUnknown;
  auto startSample = [&](std::string id) {
    Sample sample;
    sample.sampleId = std::move(id);
    if (oul) sample.kind = specimenRole;
    message.samples.push_back(std::move(sample));
    current = static_cast<int>(message.samples.size()) - 1;
    lastResult = -1;
  };
  for (size_t i = 1; i < document.records.size(); ++i) {
    const Record& record = document.records[i];
    const SegmentReader segment(record, d);
    const size_t position = i + 1;
    if (record.type == "OBR") {
      std::string id = segment.component(options.sampleIdField == "OBR-2" ? 2 : 3, 0);
      startSample(oul && specimenSeen ? specimen : id);
      Sample& sample = message.samples[static_cast<size_t>(current)];
      sample.acquiredAt = segment.component(7, 0);
      if (!sample.acquiredAt.empty() && !isHl7Timestamp(sample.acquiredAt)) {
        return Status::invalid(
            "OBR-7", positioned("OBR at segment ", position).append(": not an HL7 timestamp"));
      }
    } else if (record.type == "OBX") {
      if (current < 0) startSample(oul && specimenSeen ? specimen : "");
      StatusOr<Result> result = buildResult(record, d, position);
      if (!result.isOk()) return result.status();
      auto& results = message.samples[static_cast<size_t>(current)].results;
      results.push_back(std::move(result).value());
      lastResult = static_cast<int>(results.size()) - 1;
    } else if (record.type == "NTE") {
      if (lastResult < 0) continue;
      Result& result =
          message.samples[static_cast<size_t>(current)].results[static_cast<size_t>(lastResult)];
      std::string comment;
      for (std::string_view repetition : segment.repetitions(3)) {
        appendJoined(comment, trim(decodeFormattedText(repetition, d)), "\n");
      }
      appendJoined(result.comment, comment, "\n");
    } else if (record.type == "SPM") {
      lastResult = -1;
      if (oul) {
        specimenSeen = true;
        specimen = specimenId(segment);
        specimenRole = specimenKind(segment);
        current = -1;
      } else if (current >= 0) {
        Sample& sample = message.samples[static_cast<size_t>(current)];
        const std::string id = specimenId(segment);
        if (options.sampleIdField == "SPM-2" && !id.empty()) sample.sampleId = id;
        if (specimenKind(segment) != SampleKind::kUnknown) sample.kind = specimenKind(segment);
      }
    } else if (record.type != "PRT" && record.type != "TCD" && record.type.rfind('Z', 0) != 0) {
      lastResult = -1;
    }
  }
  return message;
}

}  // namespace labgate::hl7
