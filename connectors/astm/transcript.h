// Translation of instrument communication logs ("transcripts") written in bracket notation —
// control characters as text such as [STX], [CR], [ETX] — back into the byte stream the instrument
// sent, so that tests and the bench can replay them through the Receiver.
//
// What a transcript line is, as decided for the logs in the project's corpus:
// - The logger ends every line it writes with its own CRLF (or LF). These line breaks are not part
//   of the instrument's byte stream and are dropped; a record or frame split over two log lines is
//   joined back without anything in between (even a bracketed name split over two lines). Real
//   CR/LF bytes are always written as [CR]/[LF].
// - Lines whose first non-blank character is '-' (" - [ACK]", " - - - [ACK] - - - -") are the
//   host's replies as logged, not instrument bytes, and are dropped.
// - Every other line is instrument bytes: bracketed ASCII control-character names ([NUL]..[US],
//   [DEL], plus [TAB]) become that byte; any other bracketed text is kept literally.
#pragma once

#include <string>
#include <string_view>

namespace labgate::astm {

/// The instrument byte stream a bracket-notation transcript describes (see the file comment).
std::string translateTranscript(std::string_view transcript);

}  // namespace labgate::astm
