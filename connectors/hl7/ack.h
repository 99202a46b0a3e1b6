// HL7 acknowledgments: reading the ACK a LIS returns for an outbound message (parseAck), and
// writing one (buildAck) for tests and for HL7 inbound connectors. Pure functions, thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "connectors/hl7/oru.h"
#include "engine/model/status.h"

namespace labgate::hl7 {

/// What an ACK says, decoded (escape sequences resolved).
struct AckInfo {
  std::string code;       // MSA-1: AA AE AR (original / application) or CA CE CR (commit)
  std::string controlId;  // MSA-2: MSH-10 of the acknowledged message
  std::string text;       // MSA-3
  // Summary of the ERR segments, one "; "-separated entry each, e.g.
  // "code 207 Application internal error, severity E, location OBX(1)-5". Empty without ERR.
  // Reads v2.5 ERR-2 (location), ERR-3 (code), ERR-4 (severity), else v2.3 ERR-1 (location^code).
  std::string error;
  std::string sendingApplication;  // the ACK's MSH-3
  std::string version;             // the ACK's MSH-12

  /// AA or CA.
  bool accepted() const { return code == "AA" || code == "CA"; }
};

/// Parses an ACK. Tolerant of CR, LF or CRLF segment separators, a missing final CR, a leading
/// UTF-8 BOM, leftover MLLP bytes (VT, FS) and blank lines; reads the delimiters from MSH-1/MSH-2.
/// Status::invalid(location, reason) when there is no MSH, no MSA, or MSA-1 is not one of
/// AA AE AR CA CE CR. The status never quotes the message.
StatusOr<AckInfo> parseAck(std::string_view message);

/// One error to report in an ACK's ERR segment (v2.5 layout).
struct AckError {
  std::string code = "207";  // ERR-3, HL7 table 0357 (e.g. 100 segment sequence, 101 required
                             // field missing, 102 data type, 200 unsupported message type,
                             // 207 application internal error)
  std::string codeText = "Application internal error";
  std::string severity = "E";  // ERR-4: E error, W warning, I information
  std::string segment;         // ERR-2 location: segment id, its 1-based sequence, field position
  int sequence = 0;            // 0 = not stated
  int field = 0;               // 0 = not stated
  // ERR-5 application error code (user-defined table 0533), written as
  // <applicationCode>^<applicationText>^99LG when applicationCode is not empty.
  std::string applicationCode;
  std::string applicationText;
  std::string userMessage;  // ERR-8, a sentence for a person (never a field value)
};

/// An ACK (segments separated and terminated by CR, no MLLP framing) answering the message whose
/// MSH-10 was `ackedControlId`:
///   MSH|^~\&|<header.sendingApplication>|<header.sendingFacility>|<header.receivingApplication>|
///       <header.receivingFacility>|<header.timestamp>||ACK^<triggerEvent>^ACK|<header.controlId>|
///       <header.processingId>|2.5.1
///   MSA|<code>|<ackedControlId>|<text>
///   ERR||<segment>^<sequence>^<field>|<code>^<codeText>^HL70357|<severity>   (one per error)
///       [|<applicationCode>^<applicationText>^99LG|||<userMessage>]   (ERR-5, ERR-8 when set)
/// MSH-12 is `version` (an inbound connector echoes the acknowledged message's version).
/// `header` describes the ACK itself: its sender is whoever acknowledges (the caller swaps the
/// acknowledged message's sending and receiving fields); header.instrumentId and service fields are
/// not used. All text is escaped.
std::string buildAck(std::string_view code, const std::string& ackedControlId,
                     const std::string& text, const OruHeader& header,
                     const std::vector<AckError>& errors = {},
                     std::string_view triggerEvent = "R01", std::string_view version = "2.5.1");

}  // namespace labgate::hl7
