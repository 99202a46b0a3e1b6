// The HL7 v2 builder: a parsed ORU^R01 or OUL^R22 Document (parser.h) -> the canonical Message.
// A pure function of its input and options, thread-safe; depends only on the standard library,
// engine/model and the parser's helpers. Status reasons never quote a field value (they may name
// the message type, which is not patient data). docs/connectors/hl7.md lists the mapping.
#pragma once

#include <optional>
#include <string_view>

#include "connectors/hl7/parser.h"
#include "engine/model/model.h"
#include "engine/model/status.h"

namespace labgate::hl7 {

/// Builds the canonical Message from an ORU^R01 or OUL^R22 Document.
///  - Message: controlId MSH-10, sender MSH-3.1 (+ "^" + MSH-4.1 when present: the dedupe key's
///    sender), processingId MSH-11.1, version MSH-12.1, sentAt MSH-7.1.
///  - Each OBR starts a Sample: sampleId from options.sampleIdField (OBR-3.1, OBR-2.1, or SPM-2 —
///    the placer's entity id, else the filler's — of the order's SPM, OBR-3.1 while there is
///    none); in OUL^R22 the specimen's SPM-2 once an SPM was seen. acquiredAt OBR-7.1. SPM-11
///    specimen role Q -> SampleKind::kQc, C -> kCalibrator.
///  - Each OBX a Result (an OBX before any OBR — patient or specimen observations — goes into a
///    sample of its own, id empty or the OUL specimen's): instrumentCode OBX-3.1, value per OBX-2
///    (NM: plain decimal numbers, repeats joined by "~", numeric when exactly one; SN
///    "comparator^num1^separator^num2" as text like ">8" or "1:128", numeric only for a plain
///    number; ST/TX/FT decoded text, repeats as lines; CE/CWE/CNE component 2, else component 1;
///    other types the decoded components joined by the component separator), units OBX-6.1,
///    referenceRange OBX-7 decoded, flags OBX-8 first components of the non-empty repeats joined
///    by "~", status OBX-11.1, measuredAt OBX-14.1 (else OBX-19.1), location "OBX-<n>" with n the
///    segment's 1-based position in the message.
///  - NTE after an OBX (PRT, TCD and Z segments may come between): NTE-3 appended to that result's
///    comment, several joined by newline.
/// Errors: a message type other than ORU^R01 / OUL^R22 -> Status::rejected("MSH-9", ...); a
/// Document not starting with MSH -> Status::invalid("segment 1", ...); content the model needs
/// but cannot read -> Status::invalid("OBX-5" | "OBX-14" | "OBX-19" | "OBR-7" | "MSH-7", reason
/// naming the segment's position), e.g. NM with a non-numeric value or a malformed timestamp.
StatusOr<Message> buildMessage(const Document& document, const Hl7Options& options);

/// True for an HL7 TS/DTM value: YYYY[MM[DD[HH[MM[SS[.S[S[S[S]]]]]]]]][+/-ZZZZ], fields in range.
bool isHl7Timestamp(std::string_view text);

/// The number in an HL7 NM value: optional sign, digits with an optional decimal point (at least
/// one digit), surrounding spaces allowed; nullopt otherwise (no exponent, no comma, no "<").
std::optional<double> parseHl7Number(std::string_view text);

}  // namespace labgate::hl7
