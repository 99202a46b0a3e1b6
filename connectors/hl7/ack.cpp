// HL7 acknowledgments: parseAck and buildAck (see ack.h for the contracts).
#include "connectors/hl7/ack.h"

#include "connectors/hl7/escape.h"

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

// Segments of the message: separated by CR, LF or CRLF; MLLP bytes and blank lines dropped.
std::vector<std::string_view> segments(std::string_view message) {
  if (message.substr(0, 3) == "\xEF\xBB\xBF") message.remove_prefix(3);
  std::vector<std::string_view> out;
  size_t begin = 0;
  while (begin <= message.size()) {
    size_t end = message.find_first_of("\r\n", begin);
    if (end == std::string_view::npos) end = message.size();
    std::string_view line = message.substr(begin, end - begin);
    size_t b = line.find_first_not_of("\x0B\x1C");
    size_t e = line.find_last_not_of("\x0B\x1C");
    if (b != std::string_view::npos) out.push_back(line.substr(b, e - b + 1));
    begin = end + 1;
  }
  return out;
}

// The delimiters declared by an MSH segment (defaults for any that are missing).
Hl7Delimiters delimitersOf(std::string_view msh) {
  Hl7Delimiters d;
  if (msh.size() < 4) return d;
  d.field = msh[3];
  std::string_view enc = msh.substr(4);
  enc = enc.substr(0, enc.find(d.field));
  if (enc.size() > 0) d.component = enc[0];
  if (enc.size() > 1) d.repetition = enc[1];
  if (enc.size() > 2) d.escape = enc[2];
  if (enc.size() > 3) d.subcomponent = enc[3];
  return d;
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
  std::vector<std::string_view> segs = segments(message);
  const std::string_view* msh = nullptr;
  for (const auto& s : segs) {
    if (s.substr(0, 3) == "MSH" && s.size() >= 4) {
      msh = &s;
      break;
    }
  }
  if (msh == nullptr) return Status::invalid("MSH", "the acknowledgment has no MSH segment");
  Hl7Delimiters d = delimitersOf(*msh);

  AckInfo info;
  auto mshFields = split(*msh, d.field);  // mshFields[n - 1] is MSH-n
  info.sendingApplication = firstComponent(at(mshFields, 2), d);
  info.version = firstComponent(at(mshFields, 11), d);

  bool haveMsa = false;
  for (const auto& s : segs) {
    std::string_view id = s.substr(0, s.find(d.field));
    if (id == "MSA" && !haveMsa) {
      haveMsa = true;
      auto f = split(s, d.field);
      info.code = firstComponent(at(f, 1), d);
      info.controlId = firstComponent(at(f, 2), d);
      info.text = unescapeText(at(f, 3), d);
    } else if (id == "ERR") {
      std::string summary = describeError(split(s, d.field), d);
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
