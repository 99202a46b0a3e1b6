// The acknowledgment decisions of the hl7-mllp source, as pure functions: which ACKs answer one
// inbound message (original or enhanced mode, HL7 v2.5.1 chapter 2) and what their ERR segments
// say. No I/O, thread-safe. The connection code only sends what these functions decide.
//
// Modes: original when MSH-15 and MSH-16 are both empty (one application ACK AA/AE/AR); enhanced
// when either is set: first an accept ACK CA/CE/CR governed by MSH-15, then an application ACK
// AA/AE/AR governed by MSH-16, each under AL (always), NE (never), ER (only on error), SU (only on
// success). In enhanced mode an empty field means "none of that kind" (the sender asked for the
// other kind only, and an ACK it does not expect would be read as the answer to its next
// message); a value that is not one of AL NE ER SU means AL (answer rather than fall silent).
//
// What each verdict answers:
//   verdict       original  accept  application  ERR-3 (table 0357)   ERR-5 (local, 99LG)
//   accepted      AA        CA      AA           -                    -
//   duplicate     AA        CA      AA           -                    -     (stored earlier)
//   refusedPhi    AR        CE      AR           207                  PHI
//   invalid       AE        CE      AE           100/101/102          INVALID
//   unsupported   AR        CR      AR           200                  UNSUPPORTED
//   failed        AR        CE      AR           207                  STORE   (send again later)
//   badHeader     AR        -       -            100/101/102          HEADER  (mode unknown)
//   tooLarge      AR        -       -            207                  TOO_LARGE (mode unknown)
// CR is kept for what HL7 defines it for (message type, version, processing id not supported);
// every other failure to take a message is CE ("cannot be accepted"). A PHI refusal has no code
// of its own in table 0357, so ERR-3 says 207 and ERR-5 says PHI: the machine-readable reason.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "connectors/hl7/ack.h"
#include "engine/model/status.h"
#include "engine/net/interfaces.h"

namespace labgate::hl7 {

/// MSH-15/MSH-16: when an ACK of that kind is sent (HL7 table 0155).
enum class AckCondition { kAlways, kNever, kOnError, kOnSuccess };

/// AL, NE, ER, SU (first component, case and surrounding blanks ignored) → the condition; "" →
/// kNever (see the file comment); anything else → kAlways.
AckCondition ackCondition(std::string_view field);

/// What happened to one inbound message, as far as its ACK is concerned.
enum class Verdict {
  kAccepted,     // committed now
  kDuplicate,    // committed before (a resend); nothing stored now
  kRefusedPhi,   // the PHI gate refused it
  kInvalid,      // it could not be parsed or mapped
  kUnsupported,  // a message type LabGate does not take (Status::kRejected)
  kFailed,       // the store could not commit it
  kBadHeader,    // its MSH could not be read (no control id, no ACK mode)
  kTooLarge,     // the frame exceeded max_message_bytes and was dropped unread
};

const char* toString(Verdict verdict);

/// The verdict for what the pipeline said.
Verdict verdictOf(const Intake& intake);

/// True for kAccepted and kDuplicate.
bool isSuccess(Verdict verdict);

/// The MSA-1 codes to send, in order: one for original mode, zero to two (accept first) for
/// enhanced mode. kBadHeader and kTooLarge always answer original-mode AR: the mode is unknown.
std::vector<std::string> ackCodes(std::string_view acceptAckType,
                                  std::string_view applicationAckType, Verdict verdict);

/// The ERR entries for a verdict that is not a success (none for a success). `why` is the
/// pipeline's or the parser's status: location() becomes ERR-2 when it names a segment, and
/// location plus reason become ERR-8 (a Status never carries a field value). `maxMessageBytes`
/// is only used by kTooLarge.
std::vector<AckError> ackErrors(Verdict verdict, const Status& why, size_t maxMessageBytes = 0);

/// The MSA-3 text for a verdict: "" for a success, else a short sentence (no field values).
std::string ackText(Verdict verdict, const Status& why);

/// Fills error.segment/sequence/field from a location such as "PID-5", "OBX(2)-5", "OBX[2]-5.1"
/// or "MSH" (sequence 1 when not stated). False, and `error` untouched, when the location does
/// not start with a segment id (e.g. "line 3", "message").
bool setErrorLocation(AckError& error, std::string_view location);

}  // namespace labgate::hl7
