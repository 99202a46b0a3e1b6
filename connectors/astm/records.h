// The ASTM E1394 / CLSI LIS2-A2 record layer: message text (framing already removed by
// framing.h, or records read from a file) -> Document (records and fields, what the PHI gate
// screens) -> Message (the canonical model). Pure functions of their input and options; parse
// problems are Status values whose reasons never quote field values.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "connectors/astm/options.h"
#include "engine/model/document.h"
#include "engine/model/model.h"
#include "engine/model/status.h"

namespace labgate::astm {

/// The four delimiters an H record defines (E1394 defaults).
struct Delimiters {
  char field = '|';
  char repeat = '\\';
  char component = '^';
  char escape = '&';
};

/// Splits text holding one or several H..L messages (CR, LF or CRLF record separators, optional
/// leading comment lines, optional frame-number prefixes) into one text per message, records
/// joined by CR, prefixes removed. Lines outside any message that are neither blank nor comments
/// come back as a text of their own (so that parseRecords() refuses them rather than they vanish);
/// a message without its L record at the end of the text is kept only if
/// options.deliverWithoutTerminator.
std::vector<std::string> splitMessages(std::string_view text, const AstmOptions& options);

/// Parses one message's records into a Document (format kAstm). Delimiters come from the H record
/// (`H|\^&` default; `H|@^\` and the malformed doubled backslash `H|\\^&` accepted).
/// records[i].fields[n] is field n in E1394 numbering: fields[0] and fields[1] both hold the record
/// type, H-2 is the delimiter definition (not split or decoded). Field::raw is as sent; Field::text
/// has &F& &S& &R& &E& (and &Xhh..&) decoded, component and repeat delimiters turned into one
/// space, and is trimmed. Unknown record types are kept; a line that does not start with a letter
/// gets type "?". Errors: empty text or a first record that is not a header ->
/// Status::invalid("record 1", "not an ASTM message: ..."); a header without a usable delimiter
/// definition -> Status::invalid("H-2", ...). Text is read in options.charset: Latin-1 is
/// converted to UTF-8; a field that is still not valid UTF-8 (raw, or text after its escapes) ->
/// Status::invalid(its location, ...), so nothing downstream ever carries invalid UTF-8.
StatusOr<Document> parseRecords(std::string_view messageText, const AstmOptions& options);

/// Builds the canonical Message from a parsed Document (see docs/connectors/astm.md for the field
/// mapping): H-3/H-5/H-12/H-13/H-14 into the message, one Sample per O record, one Result per R
/// record (an R before any O goes into a sample with an empty id), C records after an R appended
/// to its comment. P, M, Q, H and L records are not copied; stripped fields read as empty.
/// Error: a Document whose first record is not H -> Status::invalid("record 1", ...).
StatusOr<Message> buildMessage(const Document& document, const AstmOptions& options);

/// The delimiters declared by a header record's definition field (H-2 raw, e.g. "\^&"), the doubled
/// backslash tolerated; missing characters take the defaults. nullopt if two delimiters coincide.
std::optional<Delimiters> delimitersFromDefinition(std::string_view definition, char field = '|');

/// A field's text as described for Field::text.
std::string decodeFieldText(std::string_view raw, const Delimiters& delimiters);

/// The components of the first repetition of `raw`, each with escapes decoded and trimmed.
std::vector<std::string> fieldComponents(std::string_view raw, const Delimiters& delimiters);

/// The number in `value` when it is a plain number (optional sign, digits, one decimal point or,
/// with `decimalComma`, one decimal comma, optional exponent); nullopt otherwise (">8", "-----").
std::optional<double> parsePlainNumber(std::string_view value, bool decimalComma);

}  // namespace labgate::astm
