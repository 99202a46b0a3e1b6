// The hl7-mllp acknowledgment decisions (see ack_policy.h for the table they implement).
#include "connectors/hl7/ack_policy.h"

#include <cctype>

namespace labgate::hl7 {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::toupper(static_cast<unsigned char>(a[i])) != b[i]) return false;
  }
  return true;
}

bool contains(std::string_view text, std::string_view word) {
  return text.find(word) != std::string_view::npos;
}

bool wanted(AckCondition condition, bool success) {
  switch (condition) {
    case AckCondition::kAlways:
      return true;
    case AckCondition::kNever:
      return false;
    case AckCondition::kOnError:
      return !success;
    case AckCondition::kOnSuccess:
      return success;
  }
  return true;
}

/// HL7 table 0357 code for a message that could not be read, from the reason's words: 100 when a
/// segment is missing or out of order, 101 when a required field is missing or empty, else 102
/// (data type / format error).
AckError invalidError(const Status& why) {
  AckError e;
  const std::string& r = why.reason();
  bool absent = contains(r, "missing") || contains(r, "no ") || contains(r, "required") ||
                contains(r, "empty");
  bool order = contains(r, "order") || contains(r, "sequence") || contains(r, "expected");
  if (contains(r, "segment") && (absent || order)) {
    e.code = "100";
    e.codeText = "Segment sequence error";
  } else if (absent) {
    e.code = "101";
    e.codeText = "Required field missing";
  } else {
    e.code = "102";
    e.codeText = "Data type error";
  }
  return e;
}

/// "location: reason", or whichever of the two is present.
std::string describe(const Status& why) {
  if (why.location().empty()) return why.reason();
  if (why.reason().empty()) return why.location();
  std::string out = why.location();
  out.append(": ").append(why.reason());
  return out;
}

}  // namespace

AckCondition ackCondition(std::string_view field) {
  std::string_view value = trim(field.substr(0, field.find('^')));
  if (value.empty()) return AckCondition::kNever;
  if (equalsIgnoreCase(value, "AL")) return AckCondition::kAlways;
  if (equalsIgnoreCase(value, "NE")) return AckCondition::kNever;
  if (equalsIgnoreCase(value, "ER")) return AckCondition::kOnError;
  if (equalsIgnoreCase(value, "SU")) return AckCondition::kOnSuccess;
  return AckCondition::kAlways;
}

const char* toString(Verdict verdict) {
  switch (verdict) {
    case Verdict::kAccepted:
      return "accepted";
    case Verdict::kDuplicate:
      return "duplicate";
    case Verdict::kRefusedPhi:
      return "refused (PHI)";
    case Verdict::kInvalid:
      return "invalid";
    case Verdict::kUnsupported:
      return "unsupported";
    case Verdict::kFailed:
      return "not stored";
    case Verdict::kBadHeader:
      return "unreadable header";
    case Verdict::kTooLarge:
      return "too large";
  }
  return "?";
}

Verdict verdictOf(const Intake& intake) {
  switch (intake.outcome) {
    case Intake::Outcome::kAccepted:
      return Verdict::kAccepted;
    case Intake::Outcome::kDuplicate:
      return Verdict::kDuplicate;
    case Intake::Outcome::kRefused:
      return Verdict::kRefusedPhi;
    case Intake::Outcome::kInvalid:
      return intake.status.code() == Status::Code::kRejected ? Verdict::kUnsupported
                                                             : Verdict::kInvalid;
    case Intake::Outcome::kFailed:
      return Verdict::kFailed;
  }
  return Verdict::kFailed;
}

bool isSuccess(Verdict verdict) {
  return verdict == Verdict::kAccepted || verdict == Verdict::kDuplicate;
}

std::vector<std::string> ackCodes(std::string_view acceptAckType,
                                  std::string_view applicationAckType, Verdict verdict) {
  const bool success = isSuccess(verdict);
  const char* application = "AR";
  const char* accept = "CE";
  switch (verdict) {
    case Verdict::kAccepted:
    case Verdict::kDuplicate:
      application = "AA";
      accept = "CA";
      break;
    case Verdict::kInvalid:
      application = "AE";
      break;
    case Verdict::kUnsupported:
      accept = "CR";
      break;
    case Verdict::kBadHeader:
      return {"AE"};  // cannot be parsed (issue 3: AE with location); the mode is unknown
    case Verdict::kTooLarge:
      return {"AR"};  // not read at all: original mode is all we can answer
    case Verdict::kRefusedPhi:
      accept = "CR";  // rejected by policy, like AR in original mode; not a content error (CE)
      break;
    case Verdict::kFailed:
      break;
  }
  if (trim(acceptAckType).empty() && trim(applicationAckType).empty()) return {application};
  std::vector<std::string> codes;
  if (wanted(ackCondition(acceptAckType), success)) codes.emplace_back(accept);
  if (wanted(ackCondition(applicationAckType), success)) codes.emplace_back(application);
  // MLLP senders wait for an answer on the connection; a message whose MSH-15/16 ask for no ACK
  // at all (NE/NE, or SU/ER rules that exclude this outcome) still gets the commit-level one, so
  // no sender is left waiting and every message's fate is stated (ADR 0004).
  if (codes.empty()) codes.emplace_back(accept);
  return codes;
}

std::vector<AckError> ackErrors(Verdict verdict, const Status& why, size_t maxMessageBytes) {
  AckError e;
  switch (verdict) {
    case Verdict::kAccepted:
    case Verdict::kDuplicate:
      return {};
    case Verdict::kRefusedPhi:
      e.applicationCode = "PHI";
      e.applicationText = "Patient-identifying data refused";
      e.userMessage = "refused: ";
      e.userMessage.append(describe(why)).append("; LabGate accepts no patient identity");
      break;
    case Verdict::kInvalid:
    case Verdict::kBadHeader:
      e = invalidError(why);
      e.applicationCode = verdict == Verdict::kInvalid ? "INVALID" : "HEADER";
      e.applicationText =
          verdict == Verdict::kInvalid ? "Message not readable" : "Message header not readable";
      e.userMessage = describe(why);
      break;
    case Verdict::kUnsupported:
      e.code = "200";
      e.codeText = "Unsupported message type";
      e.applicationCode = "UNSUPPORTED";
      e.applicationText = "Message type not accepted";
      e.userMessage = describe(why);
      break;
    case Verdict::kFailed:
      e.applicationCode = "STORE";
      e.applicationText = "Message not stored";
      e.userMessage = "the message could not be stored; send it again later";
      break;
    case Verdict::kTooLarge:
      e.applicationCode = "TOO_LARGE";
      e.applicationText = "Message too large";
      e.userMessage = "the message exceeds the limit of ";
      e.userMessage.append(std::to_string(maxMessageBytes)).append(" bytes and was not read");
      return {e};  // nothing was read, so there is no location
  }
  if (!setErrorLocation(e, why.location()) && verdict == Verdict::kBadHeader &&
      why.location() == "segment 1") {
    setErrorLocation(e, "MSH");  // the text does not start with the MSH it must start with
  }
  return {e};
}

std::string ackText(Verdict verdict, const Status& why) {
  switch (verdict) {
    case Verdict::kAccepted:
    case Verdict::kDuplicate:
      return "";
    case Verdict::kRefusedPhi: {
      std::string text = "patient-identifying data at ";
      return text.append(why.location().empty() ? "an unnamed location" : why.location());
    }
    case Verdict::kFailed:
      return "not stored, send again later";
    case Verdict::kTooLarge:
      return "message too large";
    case Verdict::kInvalid:
    case Verdict::kBadHeader:
    case Verdict::kUnsupported:
      return describe(why);
  }
  return "";
}

bool setErrorLocation(AckError& error, std::string_view location) {
  // A segment id: three characters, an upper-case letter then upper-case letters or digits.
  if (location.size() < 3 || !std::isupper(static_cast<unsigned char>(location[0]))) return false;
  for (size_t i = 1; i < 3; ++i) {
    unsigned char c = static_cast<unsigned char>(location[i]);
    if (!std::isupper(c) && !std::isdigit(c)) return false;
  }
  std::string_view rest = location.substr(3);
  auto number = [&rest]() {
    int value = 0;
    size_t n = 0;
    while (n < rest.size() && std::isdigit(static_cast<unsigned char>(rest[n])) && value < 100000) {
      value = value * 10 + (rest[n] - '0');
      ++n;
    }
    rest.remove_prefix(n);
    return n == 0 ? -1 : value;
  };
  int sequence = 1, field = 0;
  if (!rest.empty() && (rest[0] == '(' || rest[0] == '[')) {
    char close = rest[0] == '(' ? ')' : ']';
    rest.remove_prefix(1);
    int n = number();
    if (n < 1 || rest.empty() || rest[0] != close) return false;
    rest.remove_prefix(1);
    sequence = n;
  }
  if (!rest.empty() && rest[0] == '-') {
    rest.remove_prefix(1);
    field = number();
    if (field < 0) return false;
  }
  if (!rest.empty() && rest[0] != '.' && !std::isspace(static_cast<unsigned char>(rest[0])))
    return false;  // "PIDX", "MSH-9x": not a location we understand
  error.segment = std::string(location.substr(0, 3));
  error.sequence = sequence;
  error.field = field;
  return true;
}

}  // namespace labgate::hl7
