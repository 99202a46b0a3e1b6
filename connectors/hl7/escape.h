// HL7 v2 escape sequences: turning text into a field value that cannot be mistaken for a delimiter,
// and back. Pure functions, thread-safe.
//
// Encoding (escapeText) writes, using the message's own escape character E (default '\'):
//   field separator -> EFE, component -> ESE, repetition -> ERE, escape -> EEE, sub-component ->
//   ETE; every run of control characters (bytes 0x00-0x1F and 0x7F, CR and LF included) -> one
//   EXhh..E sequence, two hex digits per byte, upper case: "a\r\nb" becomes "a\X0D0A\b".
// CR/LF are written as hex, not as \.br\: hex is defined for every data type (ST, NM, CWE...), and
// it gives back exactly the bytes that went in, whereas \.br\ is formatting for FT/TX only.
// Bytes 0x80 and above (UTF-8) pass through unchanged.
//
// Decoding (unescapeText) resolves \F\ \S\ \T\ \R\ \E\, \Xhh..\ (an even number of hex digits) and
// \.br\ (decoded as "\n"). Any other sequence (\H\, \N\, \Zxx\, \.sp\, malformed hex) and an escape
// character without a closing one pass through unchanged, as the standard asks.
#pragma once

#include <string>
#include <string_view>

namespace labgate::hl7 {

/// The delimiters of one message, as declared by MSH-1 and MSH-2.
struct Hl7Delimiters {
  char field = '|';
  char component = '^';
  char repetition = '~';
  char escape = '\\';
  char subcomponent = '&';
};

/// `text` encoded for use inside one component or sub-component of a field.
std::string escapeText(std::string_view text, const Hl7Delimiters& d = {});

/// `text` (one field, component or sub-component as sent) with its escape sequences resolved.
std::string unescapeText(std::string_view text, const Hl7Delimiters& d = {});

}  // namespace labgate::hl7
