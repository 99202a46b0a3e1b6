// Building the outbound HL7 v2.5.1 ORU^R01 that carries released results to a LIS. A pure function
// of its input (the caller supplies the control id and the time), thread-safe.
//
// Message shape (segments separated and terminated by CR, no MLLP framing):
//   MSH  ORU^R01^ORU_R01, version 2.5.1, MSH-18 "UNICODE UTF-8"; MSH-15/16 empty (original mode:
//        the LIS answers with one application ACK)
//   per sample (one ORDER_OBSERVATION group each, all in one PATIENT_RESULT group; no PID — LabGate
//   never holds patient identity and the PATIENT group is optional in ORU_R01 v2.5.1):
//     ORC  ORC-1 RE, ORC-3 filler order number = sample id
//     OBR  OBR-1 set id, OBR-3 = sample id, OBR-4 universal service id (from the header),
//          OBR-7 = sample acquired-at (else the first result's measured-at), OBR-25 result status
//          (C when any result's status is C; P when any is P, R, S, I or O; else F)
//     per result:
//       OBX  see buildOruR01 below
//       NTE  one per line of the result's comment (NTE-2 "L", NTE-3 the line)
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "engine/model/model.h"

namespace labgate::hl7 {

/// Who sends the message to whom, and its identity.
struct OruHeader {
  std::string sendingApplication = "LABGATE", sendingFacility, receivingApplication,
              receivingFacility;
  std::string controlId;  // MSH-10, unique per outbound message
  std::string timestamp;  // MSH-7, YYYYMMDDHHMMSS(+zone) — caller supplies (pure function)
  std::string processingId = "P";
  std::string instrumentId;  // OBX-18 equipment instance
  // OBR-4 universal service id (code^text^L). Samples carry no ordered test, so the order is named
  // by this local code; a LIS that needs its own panel code sets it per destination.
  std::string serviceCode = "LGRESULT";
  std::string serviceText = "Instrument results";
};

/// Local coding system written in OBX-3 for LIS codes (HL7 table 0396 "L": local general code).
inline constexpr const char* kLisCodingSystem = "L";
/// Local coding system written in OBX-3 for instrument codes ("99" + LabGate): the alternate
/// identifier of a mapped result, or the identifier of a result without a LIS code.
inline constexpr const char* kInstrumentCodingSystem = "99LG";

/// One ORU^R01 (segments separated by CR, no MLLP framing) for the given samples and results (the
/// caller passes only the results to send). Every text value is escaped. Per result one OBX:
///   OBX-1  set id (1.. within its OBR)
///   OBX-2  NM when the value is a plain decimal number (or only `numeric` is set), SN when it is a
///          censored number like ">8", "<=0.5" (OBX-5 then "<=^0.5"), else ST
///   OBX-3  lisCode^lisName^L^instrumentCode^^99LG, or instrumentCode^^99LG when lisCode is empty
///   OBX-5  the value; NM/SN numbers rounded half away from zero to Result::decimals when >= 0
///          (on the decimal text as sent, so 2.675 -> 2.68), else as sent
///   OBX-6  units, OBX-7 reference range, OBX-8 abnormal flags
///   OBX-11 the result's status letter (HL7 table 0085) or F when it has none or an unknown one
///   OBX-14 measured-at, OBX-16 (a result released by an electronic signature) the signer as
///          username^printed name, OBX-18 header.instrumentId; after the comment's NTEs such a
///          result gets one more NTE: "Electronically signed (MEANING) by PRINTED NAME UTC-TIME"
std::string buildOruR01(const OruHeader& header, const std::vector<Sample>& samples);

/// The OBX-5 text and OBX-2 type buildOruR01 writes for a result (exposed for tests and for other
/// outbound formats that want the same rounding). `type` is "NM", "SN" or "ST"; `value` is already
/// escaped for HL7.
struct ObxValue {
  std::string type;
  std::string value;
};
ObxValue formatObxValue(const Result& result);

/// `text` (a plain decimal number: optional sign, digits, optional point and digits) rounded half
/// away from zero to `decimals` digits after the point, exactly on the digits (a leading '+' and
/// surplus leading zeros are dropped, "-0.00" becomes "0.00"); `text` unchanged when decimals < 0;
/// "" when `text` is not a plain decimal number.
std::string roundDecimalText(std::string_view text, int decimals);

}  // namespace labgate::hl7
