// Internal to engine/phi: the normalised forms of a field that the gate screens besides the field
// as sent, so that an identifier written with look-alike characters is found like its plain
// spelling (issue 18, finding 6). The field itself is never changed: what is stored is what was
// sent (or, under the strip policy, nothing).
//
//   - NFKC (Unicode compatibility composition, ICU's Normalizer2): fullwidth `＠` and `１` become
//     `@` and `1`, ligatures and compatibility spaces their plain forms.
//   - folded: the NFKC text with every non-ASCII character replaced by an ASCII stand-in: a dash
//     (any Unicode dash, the minus sign) by `-`; a space separator by ` `; a decimal digit of any
//     script by its ASCII digit; an invisible format character (zero-width space, soft hyphen,
//     word joiner, BOM) and a combining mark by nothing; any other character by its confusable
//     skeleton (ICU uspoof, Unicode TS #39: Cyrillic `а` -> `a`, Greek `Ο` -> `O`) with accents
//     removed (`ü` -> `u`) when that skeleton is ASCII, kept otherwise. ASCII characters are never
//     changed: a skeleton also maps ASCII to ASCII (`0` -> `O`, `1` -> `l`, `m` -> `rn`), which
//     would break the digit patterns.
//
// A third source: text that is UTF-8 read as Latin-1 (latin1Reread) is screened again as the UTF-8
// it was, with its own NFKC form and fold.
//
// Pure ASCII text has no other form: the caller checks isAscii() first and skips all of this (the
// gate's common case costs one scan of the bytes). Text that is not valid UTF-8 is read with
// U+FFFD for each bad sequence (the field as sent is still screened byte for byte).
//
// Thread-safe: ICU's NFKC instance and a const spoof checker may be used from any thread; the
// per-thread cache of folded characters is thread_local.
#pragma once

#include <string>
#include <string_view>

namespace labgate::phi {

/// True when every byte of `text` is below 0x80.
bool isAscii(std::string_view text);

/// The NFKC form of `utf8` (UTF-8 in, UTF-8 out).
std::string nfkcForm(std::string_view utf8);

/// The folded form of `nfkc` (the output of nfkcForm): see the file comment.
std::string foldedForm(std::string_view nfkc);

/// UTF-8 text that was read as Latin-1 by mistake (a sender's UTF-8 bytes in a message declared,
/// or defaulted to, ISO 8859-1: U+2010 arrives as `â` U+0080 U+0090), read again as UTF-8; "" when
/// `utf8` holds a character above U+00FF or its Latin-1 bytes are not valid UTF-8 with at least
/// one non-ASCII character (it was not such text).
std::string latin1Reread(std::string_view utf8);

}  // namespace labgate::phi
