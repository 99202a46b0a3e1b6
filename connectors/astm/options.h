// ASTM connector tolerance options: what the E1381 receiver and the E1394 record parser accept
// beyond the letter of the standards, and the limits that keep a misbehaving peer from growing
// memory without bound. Each option has a configuration key `connector.NAME.astm.<key>`; the
// defaults accept every file of the project's ASTM corpus (docs/connectors/astm.md says which file
// needs which tolerance).
//
// Plain values, no I/O; safe to copy between threads.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "engine/model/status.h"

namespace labgate::astm {

struct AstmOptions {
  // ---- link layer (framing.h) ----
  // Whole frame including STX..LF. Over-long frames (> 247 bytes, the E1381 maximum) are accepted
  // up to this size; a frame without ETX/ETB within this many bytes is NAKed.
  size_t maxFrameBytes = 64 * 1024;
  // Reassembled message text; beyond it the partial message is discarded and the frame NAKed.
  size_t maxMessageBytes = 1024 * 1024;
  // false: a frame number out of sequence is accepted (Yumizen H500 repeats frame numbers).
  bool strictFrameNumbers = false;
  // Frames with neither frame number nor checksum trailer (Snibe Maglumi transcript).
  bool allowMissingChecksum = true;
  // Checksum digits in lower case ("f2") are accepted.
  bool allowLowercaseChecksum = true;
  // After our ACK/NAK, no byte within this many seconds: the partial message is discarded.
  int receiveTimeoutSeconds = 30;
  // Records sent without E1381 framing ("H|..." lines) are accepted on the link. Off unless asked
  // for: unframed records get no acknowledgement, and any peer that reaches the port could inject
  // a message with a bare line of text (issue 18, finding 9).
  bool acceptUnframed = false;
  // At EOT (or end of text), a message with H but no L is delivered (true) or discarded (false).
  bool deliverWithoutTerminator = false;
  // Consecutive NAKs on the same frame before the partial message is discarded (E1381: 6 retries).
  int maxConsecutiveNaks = 6;

  // ---- record layer (records.h) ----
  // "7,41" parses as 7.41 in numeric values (Euroimmun).
  bool decimalComma = true;
  // Leading "# ..." and blank lines before H are skipped (Phadia, Ortho example files).
  bool skipCommentLines = true;
  // "1H|..." lines captured with their frame number have it removed (Roche PSM).
  bool stripFramePrefix = true;
  // H-12 processing id "Q" marks every sample of the message as QC (Yumizen QC runs), in addition
  // to O-12 action code "Q".
  bool qcFromProcessingId = true;
  // Which R-3 component (1-based) holds the instrument's test code; 0 = automatic (component 4,
  // else the first non-empty one: Sysmex uses 5, Mindray 1).
  int testCodeComponent = 0;
  // Composite test codes (astm.test_code_components): the instrument code is these components of
  // R-3 (1-based, in the order given), the non-empty ones joined with testCodeSeparator, so that
  // an instrument that names the assay in one component and the analyte in others (Cepheid
  // GeneXpert: `^MTB-RIF^^Xpert^^^rpoB1^Ct`, components 2, 4, 7, 8) gives each result its own
  // code (`MTB-RIF/Xpert/rpoB1/Ct`). Empty = off; when every listed component is empty the
  // automatic rule above applies. Excludes testCodeComponent.
  std::vector<int> testCodeComponents;
  std::string testCodeSeparator = "/";
  // The character set the instrument writes in (astm.charset): kUtf8 takes valid UTF-8 only (a
  // message with other bytes is refused with a NAK, never forwarded); kLatin1 reads every byte as
  // ISO 8859-1 and converts it to UTF-8. Either way what leaves the parser is valid UTF-8.
  enum class Charset { kUtf8, kLatin1 };
  Charset charset = Charset::kUtf8;
};

/// Applies one option given as `key` (the part after "connector.NAME.astm.", e.g.
/// "max_frame_bytes") and its text `value`. Booleans: true/false/yes/no/on/off/1/0; sizes: a
/// whole number of bytes, optionally with a K or M suffix (binary). Unknown key or bad value ->
/// Status::config with the key as location and what is wrong as reason; `options` is then
/// unchanged.
Status setAstmOption(AstmOptions& options, const std::string& key, const std::string& value);

/// Every key setAstmOption() accepts, in documentation order.
std::vector<std::string> astmOptionKeys();

}  // namespace labgate::astm
