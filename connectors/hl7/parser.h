// The inbound HL7 v2 parser: received text -> messages (splitBatch) -> what an ACK needs
// (parseHeader) -> Document (parseHl7, what the PHI gate screens) -> text again (serialise). The
// builder (builder.h) turns a Document into the canonical Message.
//
// Pure functions of their input and options, thread-safe, linear in the input's size. Depends only
// on the standard library, engine/model and escape.h (a libFuzzer harness compiles it with clang
// alone). Problems are Status values whose location names the place ("MSH-2", "segment 4") and
// whose reason never quotes a field value. docs/connectors/hl7.md describes what is accepted.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "connectors/hl7/escape.h"
#include "engine/model/document.h"
#include "engine/model/status.h"

namespace labgate::hl7 {

/// Parser and builder settings of one HL7 connector (`connector.NAME.hl7.*`).
struct Hl7Options {
  size_t maxMessageBytes = 1024 * 1024;
  // Where a sample's id comes from: "OBR-3", "OBR-2" or "SPM-2" (first component). OUL^R22 uses
  // SPM-2 when an SPM is present.
  std::string sampleIdField = "OBR-3";
  std::string defaultCharset = "8859/1";  // used when MSH-18 is empty
};

/// Sets one option from its configuration key (the part after "connector.NAME.hl7.":
/// "sample_id_field", "max_message_bytes", "default_charset"). Status::config(key, reason) for an
/// unknown key or a bad value; `options` is unchanged then.
Status setHl7Option(Hl7Options& options, const std::string& key, const std::string& value);

/// The keys setHl7Option understands.
std::vector<std::string> hl7OptionKeys();

/// Splits received text into messages. Strips a leading UTF-8 BOM, accepts CR, LF or CRLF segment
/// ends, drops blank lines and lines of control characters only (MLLP leftovers), removes the
/// FHS/BHS/BTS/FTS batch envelope segments, and starts a new message at every segment that begins
/// with "MSH" followed by a field separator (a segment start only: "MSH" inside a field is data).
/// Segments before the first MSH that are not envelope segments come back as a text of their own,
/// so that parseHeader()/parseHl7() refuse them instead of them vanishing. Each message is
/// returned with every segment terminated by CR.
std::vector<std::string> splitBatch(std::string_view text);

/// What an ACK needs, readable even from a message that will be refused or is otherwise broken.
struct MessageHeader {
  Hl7Delimiters delimiters;
  // MSH-3..6 first components, escapes resolved.
  std::string sendingApplication, sendingFacility, receivingApplication, receivingFacility;
  std::string messageCode, triggerEvent, messageStructure;  // MSH-9.1/.2/.3
  std::string controlId;                                    // MSH-10
  std::string processingId;                                 // MSH-11 first component
  std::string version;                                      // MSH-12 first component
  std::string acceptAckType, applicationAckType;            // MSH-15, MSH-16 ("" = original mode)
  std::string charset;                                      // MSH-18 as sent
};

/// Reads the MSH segment of one message (leading BOM and CR/LF/CRLF tolerated; nothing after the
/// MSH segment is looked at). Status::invalid with location "segment 1" when the text does not
/// start with MSH, "MSH-1" when the field separator is unusable, "MSH-2" when the encoding
/// characters are not 4 distinct delimiters (5 with the v2.7 truncation character), "MSH-9" when
/// the message code is missing, "MSH-10" when the control id is missing.
StatusOr<MessageHeader> parseHeader(std::string_view message);

/// Parses one message into a Document (format kHl7). records = segments in order (unknown and Z
/// segments kept), Record::type = segment id, fields[0] = segment id. For MSH, fields[1] = the
/// field separator and fields[2] = the encoding characters (raw and text both as sent, not decoded)
/// and fields[n] = MSH-n; for other segments fields[n] = SEG-n. Field::raw() is the field as sent
/// (after conversion to UTF-8); Field::text() is decodeFieldText(raw()). The fields are views into
/// the Document's one copy of the message (Record::source, ADR 0016): text() is decoded when it
/// is first read, and is raw() itself (trimmed) for a field without delimiters or escapes.
///
/// Character set from MSH-18 (first repetition; options.defaultCharset when empty): "ASCII",
/// "UNICODE UTF-8", "UTF-8" and "UNICODE" must be valid UTF-8 (ASCII is a subset); "8859/1" is
/// converted to UTF-8. Errors: Status::tooLarge("message") above options.maxMessageBytes; the
/// parseHeader() errors; "MSH-18" for an unsupported character set; "SEG-n" for bytes that are not
/// valid UTF-8; "segment n" for a segment whose id is not three upper-case letters or digits
/// (starting with a letter) or for a second MSH (a batch must go through splitBatch first).
StatusOr<Document> parseHl7(std::string_view message, const Hl7Options& options);

/// The Document as HL7 text from Field::raw, every segment terminated by CR. The text is encoded
/// in the character set the parser read it in (MSH-18, else options.defaultCharset): 8859/1 is
/// written back as Latin-1 (a character beyond U+00FF as '?'), others as UTF-8. So
/// parseHl7(serialise(d, o), o) gives d back for every d = parseHl7(x, o).
std::string serialise(const Document& document, const Hl7Options& options = {});

// ----- helpers shared with the builder (and usable by other HL7 code) -----

/// The delimiters a parsed Document declares in MSH-1/MSH-2 (defaults when it has none).
Hl7Delimiters documentDelimiters(const Document& document);

/// Field::text of a field: split at component, repetition and sub-component delimiters, each part
/// decoded by decodeFormattedText() and trimmed, the non-empty parts joined by one space.
std::string decodeFieldText(std::string_view raw, const Hl7Delimiters& d);

/// One component (or ST/TX/FT value) with every escape sequence resolved: F S T R E and X (hex)
/// as escape.h decodes them, .br .sp .ce as line breaks, .in .ti .sk as a space, the highlighting
/// and character-set switches H N Cxxyy Mxxyyzz and .fi .nf removed; others (Zxx) kept as sent
/// (each written between escape characters, e.g. "\H\"). Bytes decoded from hex sequences that
/// are not valid UTF-8 are read as Latin-1, so the result is valid UTF-8 when the input is.
std::string decodeFormattedText(std::string_view text, const Hl7Delimiters& d);

/// `raw` cut at every `separator` (at least one part; separators inside escape sequences are not
/// special because escape sequences never contain delimiters).
std::vector<std::string_view> splitAt(std::string_view raw, char separator);

/// True when `text` is valid UTF-8.
bool isValidUtf8(std::string_view text);

}  // namespace labgate::hl7
