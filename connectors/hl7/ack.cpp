// HL7 acknowledgments: parseAck and buildAck (see ack.h for the contracts).
#include "connectors/hl7/ack.h"

#include "connectors/hl7/escape.h"
#include "connectors/hl7/parser.h"

namespace labgate::hl7 {
namespace {

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> parts;
  size_t begin = 0;
  while (true) {
    size_t end = s.find(sep, begin);
    parts.push_back(s.substr(begin, end == std::string_view::npos ? end : end - begin));
    if (end == std::string_view::npos) break;
    begin = end + 1;
  }
  return parts;
}

std::string_view at(const std::vector<std::string_view>& parts, size_t i) {
  return i < parts.size() ? parts[i] : std::string_view();
}

// The first repetition's first component of a field, decoded.
std::string firstComponent(std::string_view field, const Hl7Delimiters& d) {
  std::string_view rep = field.substr(0, field.find(d.repetition));
  return unescapeText(rep.substr(0, rep.find(d.component)), d);
}

// "SEG(seq)-field.component" from the raw parts of an ERL/ELD, each decoded.
std::string describeLocation(std::string_view segment, std::string_view sequence,
                             std::string_view field, std::string_view component,
                             const Hl7Delimiters& d) {
  std::string out = unescapeText(segment, d);
  // append(), not "(" + ...: GCC 12's -Wrestrict false positive (bug 105329) in Release builds.
  if (!sequence.empty()) out.append("(").append(unescapeText(sequence, d)).append(")");
  if (!field.empty()) out.append("-").append(unescapeText(field, d));
  if (!component.empty()) out.append(".").append(unescapeText(component, d));
  return out;
}

// "code X text, severity S, location L" for one ERR segment (fields already split).
std::string describeError(const std::vector<std::string_view>& err, const Hl7Delimiters& d) {
  std::string code, codeText, location;
  std::string_view erl = at(err, 2);
  erl = erl.substr(0, erl.find(d.repetition));
  std::string_view hl7Code = at(err, 3);
  hl7Code = hl7Code.substr(0, hl7Code.find(d.repetition));
  if (!erl.empty() || !hl7Code.empty()) {  // v2.5 and later
    auto c = split(erl, d.component);
    location = describeLocation(at(c, 0), at(c, 1), at(c, 2), at(c, 4), d);
    auto cwe = split(hl7Code, d.component);
    code = unescapeText(at(cwe, 0), d);
    codeText = unescapeText(at(cwe, 1), d);
  } else {  // v2.3 ERR-1 (ELD): segment^sequence^field^code&text&system
    std::string_view eld = at(err, 1);
    eld = eld.substr(0, eld.find(d.repetition));
    auto c = split(eld, d.component);
    location = describeLocation(at(c, 0), at(c, 1), at(c, 2), {}, d);
    auto ce = split(at(c, 3), d.subcomponent);
    code = unescapeText(at(ce, 0), d);
    codeText = unescapeText(at(ce, 1), d);
  }
  std::string severity = firstComponent(at(err, 4), d);
  std::string out;
  auto add = [&out](const std::string& part) {
    if (part.empty()) return;
    if (!out.empty()) out += ", ";
    out += part;
  };
  if (!code.empty() || !codeText.empty()) {
    std::string both = code + (code.empty() || codeText.empty() ? "" : " ") + codeText;
    add("code " + both);
  }
  if (!severity.empty()) add("severity " + severity);
  if (!location.empty()) add("location " + location);
  return out;
}

}  // namespace

StatusOr<AckInfo> parseAck(std::string_view message) {
  // The same parser as for inbound messages (parser.h); only leftover MLLP bytes are trimmed here.
  size_t begin = message.find_first_not_of("\x0B\x1C\r\n");
  size_t end = message.find_last_not_of("\x0B\x1C\r\n");
  if (begin == std::string_view::npos) {
    return Status::invalid("MSH", "the acknowledgment has no MSH segment");
  }
  std::vector<std::string> messages = splitBatch(message.substr(begin, end - begin + 1));
  if (messages.empty()) return Status::invalid("MSH", "the acknowledgment has no MSH segment");
  StatusOr<MessageHeader> header = parseHeader(messages.front());
  if (!header.isOk()) return header.status();
  StatusOr<Document> document = parseHl7(messages.front(), Hl7Options{});
  if (!document.isOk()) return document.status();
  const Hl7Delimiters& d = header->delimiters;

  AckInfo info;
  info.sendingApplication = header->sendingApplication;
  info.version = header->version;
  bool haveMsa = false;
  for (const Record& record : document->records) {
    if (record.type == "MSA" && !haveMsa) {
      haveMsa = true;
      info.code = firstComponent(record.raw(1), d);
      info.controlId = firstComponent(record.raw(2), d);
      info.text = unescapeText(record.raw(3), d);
    } else if (record.type == "ERR") {
      std::vector<std::string_view> fields;
      for (const Field& f : record.fields) fields.emplace_back(f.raw());
      std::string summary = describeError(fields, d);
      if (summary.empty()) continue;
      if (!info.error.empty()) info.error += "; ";
      info.error += summary;
    }
  }
  if (!haveMsa) return Status::invalid("MSA", "the acknowledgment has no MSA segment");
  static constexpr std::string_view kCodes[] = {"AA", "AE", "AR", "CA", "CE", "CR"};
  for (std::string_view known : kCodes) {
    if (info.code == known) return info;
  }
  return Status::invalid("MSA-1", info.code.empty() ? "the acknowledgment code is empty"
                                                    : "the acknowledgment code is not one of "
                                                      "AA AE AR CA CE CR");
}

std::string buildAck(std::string_view code, const std::string& ackedControlId,
                     const std::string& text, const OruHeader& header,
                     const std::vector<AckError>& errors, std::string_view triggerEvent,
                     std::string_view version) {
  std::string out = "MSH|^~\\&|";
  const std::string* mshFields[] = {&header.sendingApplication, &header.sendingFacility,
                                    &header.receivingApplication, &header.receivingFacility,
                                    &header.timestamp};
  for (const std::string* f : mshFields) out += escapeText(*f) + "|";
  out += "|ACK^" + escapeText(triggerEvent) + "^ACK|" + escapeText(header.controlId) + "|" +
         escapeText(header.processingId) + "|";
  out.append(escapeText(version)).append("\r");

  out += "MSA|" + escapeText(code) + "|" + escapeText(ackedControlId);
  if (!text.empty()) out.append("|").append(escapeText(text));
  out += "\r";

  for (const AckError& e : errors) {
    std::string location = escapeText(e.segment);
    if (e.sequence > 0 || e.field > 0) {
      location.append("^").append(e.sequence > 0 ? std::to_string(e.sequence) : std::string());
      if (e.field > 0) location.append("^").append(std::to_string(e.field));
    }
    out += "ERR||" + location + "|" + escapeText(e.code) + "^" + escapeText(e.codeText) +
           "^HL70357|" + escapeText(e.severity);
    if (!e.applicationCode.empty() || !e.userMessage.empty()) {
      out.append("|");
      if (!e.applicationCode.empty()) {
        out.append(escapeText(e.applicationCode)).append("^");
        out.append(escapeText(e.applicationText)).append("^99LG");
      }
      out.append("|||").append(escapeText(e.userMessage));
    }
    out += "\r";
  }
  return out;
}

}  // namespace labgate::hl7
